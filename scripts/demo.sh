#!/usr/bin/env bash
# The README's run command: installs evqueue in .venv, starts a node on the embedded SQLite store
# with examples/evqueue-mini.conf, creates the demo workflow examples/workflows/hello.xml and
# runs it once. The node keeps running in the background afterwards (stop it with
# `kill $(cat var/evqueue.pid)`); pass --foreground to run it in this terminal instead.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e .
mkdir -p var

if [ "${1:-}" = "--foreground" ]; then
  exec .venv/bin/evqueue --config examples/evqueue-mini.conf
fi

if [ -f var/evqueue.pid ] && kill -0 "$(cat var/evqueue.pid)" 2>/dev/null; then
  echo "A node already runs (pid $(cat var/evqueue.pid))."
else
  .venv/bin/evqueue --config examples/evqueue-mini.conf --daemon
  echo "Node started (pid $(cat var/evqueue.pid))."
fi

api=(.venv/bin/evqueue-api --connect unix://var/evqueue.socket --user admin --password admin)
if ! "${api[@]}" --xml raw '<workflow action="get" name="hello"/>' >/dev/null 2>&1; then
  "${api[@]}" workflow create --file examples/workflows/hello.xml --name hello --group demo \
    --comment "demo workflow"
fi
echo "Running the demo workflow 'hello':"
launched=$("${api[@]}" --xml instance launch hello -p who="$(id -un)" --sync)
id=$(echo "$launched" | sed -n 's/.*workflow-instance-id="\([0-9]*\)".*/\1/p')
"${api[@]}" instance query "$id"
echo
"${api[@]}" instance list
cat <<TXT

The node serves:
  XML API     tcp://127.0.0.1:5000 and unix://var/evqueue.socket (admin / admin)
  web UI      http://127.0.0.1:5001/
Stop it with: kill \$(cat var/evqueue.pid)
TXT
