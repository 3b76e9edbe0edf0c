#!/usr/bin/env bash
# Make sure what the web UI tests run is installed: Debian's chromium at /usr/bin/chromium
# (Playwright's own browser download cannot run here; the tests launch this one through
# executable_path) and Node.js, which runs the UI's JavaScript modules in the unit tests. Quick
# when both are there; exits non-zero when one cannot be installed, so the browser and
# JavaScript tests are never skipped silently.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "browser: installing ${missing[*]} from the distribution"
as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
[ -x /usr/bin/chromium ] || { echo "browser: /usr/bin/chromium is still missing"; exit 1; }
command -v node >/dev/null 2>&1 || { echo "browser: node is still missing"; exit 1; }
