#!/usr/bin/env bash
# The README's test command: installs the test dependencies and the browser the web UI tests
# drive, starts the database servers, checks the code with ruff, runs the whole suite on SQLite,
# then the backend tests on PostgreSQL and MariaDB. Exits non-zero on any failure.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh
bash scripts/browser.sh
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
# Byte-compiled once here: with PYTHONDONTWRITEBYTECODE set (as on some CI machines), every
# node the tests start would otherwise compile evqueue's sources again.
.venv/bin/python -m compileall -q src > /dev/null

lint=(src tests)
[ -d bench ] && lint+=(bench)
.venv/bin/ruff check "${lint[@]}"

run_pytest() {
  local status=0
  .venv/bin/python -m pytest "$@" || status=$?
  # 5 = no test collected: a run that tests nothing is a failure here.
  return $status
}

echo "== suite on SQLite"
EVQUEUE_TEST_DB=sqlite run_pytest -q "$@"
for backend in postgresql mariadb; do
  echo "== backend tests on $backend"
  EVQUEUE_TEST_DB=$backend run_pytest -q -m backends "$@"
done
