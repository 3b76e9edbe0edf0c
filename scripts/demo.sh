#!/usr/bin/env bash
# The README's run command: installs evqueue in .venv and runs a node in the foreground on the
# embedded SQLite store with examples/evqueue-mini.conf (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e .
mkdir -p var
exec .venv/bin/evqueue --config examples/evqueue-mini.conf
