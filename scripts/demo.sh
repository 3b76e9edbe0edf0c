#!/usr/bin/env bash
# The README's run command: installs evqueue in .venv, starts a node on the embedded SQLite store
# with examples/evqueue-mini.conf, creates the demo workflow examples/workflows/hello.xml and
# runs it once.
#
#   bash scripts/demo.sh                the node keeps running in the background afterwards
#                                       (stop it with `kill $(cat var/evqueue.pid)`)
#   bash scripts/demo.sh --foreground   the node runs in this terminal, its log on screen;
#                                       Ctrl-C stops it
#
# The demo logs in as admin/admin, or as EVQUEUE_API_USER / EVQUEUE_API_PASSWORD when set (once
# admin's password is changed).
set -euo pipefail
cd "$(dirname "$0")/.."

foreground=no
case "${1:-}" in
  "") ;;
  --foreground) foreground=yes ;;
  -h|--help) sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) echo "demo.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac

config=examples/evqueue-mini.conf
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e .
mkdir -p var

# The last value of a key in the configuration (later lines win, as for the node).
setting() { sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\([^[:space:]#]*\).*/\1/p" "$config" | tail -n 1; }

export EVQUEUE_API_USER="${EVQUEUE_API_USER:-admin}"
export EVQUEUE_API_PASSWORD="${EVQUEUE_API_PASSWORD:-admin}"
api=(.venv/bin/evqueue-api --connect unix://var/evqueue.socket)
running() { [ -f var/evqueue.pid ] && kill -0 "$(cat var/evqueue.pid)" 2>/dev/null; }

if running; then
  if [ "$foreground" = yes ]; then
    echo "demo.sh: a node already runs in the background (pid $(cat var/evqueue.pid));" \
      "stop it first: kill \$(cat var/evqueue.pid)" >&2
    exit 1
  fi
  echo "A node already runs (pid $(cat var/evqueue.pid))."
elif [ "$foreground" = yes ]; then
  # A child of this script, in the terminal's process group: Ctrl-C reaches it too.
  .venv/bin/evqueue --config "$config" &
  node=$!
  trap 'kill "$node" 2>/dev/null || true' EXIT
  until "${api[@]}" ping >/dev/null 2>&1; do
    kill -0 "$node" 2>/dev/null || { wait "$node" || exit $?; exit 1; }
    sleep 0.2
  done
else
  .venv/bin/evqueue --config "$config" --daemon
  echo "Node started in the background (pid $(cat var/evqueue.pid))."
fi

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
  XML API     tcp://$(setting network.bind.ip):$(setting network.bind.port) and unix://var/evqueue.socket
  web UI      http://$(setting ws.bind.ip):$(setting ws.bind.port)/
TXT
if .venv/bin/evqueue-api --connect unix://var/evqueue.socket --user admin --password admin \
    ping >/dev/null 2>&1; then
  cat <<TXT

Warning: user 'admin' still has the password 'admin'. Change it in the web UI (Users), or with
  .venv/bin/evqueue-api --connect unix://var/evqueue.socket --user admin --password admin \\
    raw '<user action="change_password" name="admin" password="NEW PASSWORD"/>'
then run this script with EVQUEUE_API_PASSWORD set to the new password.
TXT
fi
if [ "$foreground" = yes ]; then
  echo
  echo "The node runs in this terminal: Ctrl-C stops it."
  # Ctrl-C reaches the node from the terminal; this shell only waits for it to finish stopping.
  trap ':' INT
  trap 'kill -TERM "$node" 2>/dev/null || true' TERM
  status=0
  wait "$node" || status=$?
  if kill -0 "$node" 2>/dev/null; then
    status=0
    wait "$node" || status=$?
  fi
  trap - EXIT
  exit "$status"
fi
cat <<TXT

Stop it with: kill \$(cat var/evqueue.pid)
Its IPC queue (task exits waiting for the next start) stays after it stops; remove it with:
  .venv/bin/evqueue --config $config --ipcq-remove
TXT
