#!/usr/bin/env bash
# Make sure the browser the web UI tests drive is installed: Debian's chromium at
# /usr/bin/chromium (Playwright's own browser download cannot run here; the tests launch this
# one through executable_path). Quick when it is already there; exits non-zero when it cannot
# be installed, so the browser tests are never skipped silently.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
echo "browser: installing chromium from the distribution"
as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
[ -x /usr/bin/chromium ] || { echo "browser: /usr/bin/chromium is still missing"; exit 1; }
