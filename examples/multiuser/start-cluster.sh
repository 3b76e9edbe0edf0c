#!/bin/bash
# start-cluster.sh — start one evqueue node per developer directory (evQueue's multi-user guide).
#
#   start-cluster.sh [--data DIR] [--port BASE] [--config FILE]
#
#   --data DIR      one sub-directory per developer, DIR/<login>/evqueue-tasks (default /data)
#   --port BASE     websocket port of the first developer, the next ones follow (default 5100)
#   --config FILE   configuration of every node (default /etc/evqueue.multiuser.conf, else the
#                   evqueue.multiuser.conf next to this script)
#
# The guide's script, with its typos fixed ("ls /data/*", "[ "$CLUSTER"!= "" ]", "port={port}"),
# using the evqueue found on PATH. Only directories are developers (the shared SQLite store
# lives in DIR too). The configuration names /data: for another DIR the nodes run on a copy,
# DIR/.evqueue.multiuser.conf, where every "/data/" reads "DIR/". Nodes already running are
# left alone, so running the script again starts the ones that stopped.
# Exit status: 0 when every node runs, 1 otherwise.

set -u

DATA=/data
PORT=5100
CONFIG=/etc/evqueue.multiuser.conf
[ -e "$CONFIG" ] || CONFIG="$(cd "$(dirname "$0")" && pwd)/evqueue.multiuser.conf"

usage() {
	sed -n '3,9s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

while [ $# -gt 0 ]
do
	case "$1" in
		--data) DATA="${2:?--data needs a directory}"; shift 2 ;;
		--port) PORT="${2:?--port needs a number}"; shift 2 ;;
		--config) CONFIG="${2:?--config needs a file}"; shift 2 ;;
		-h|--help) usage ;;
		*) echo "start-cluster.sh: unknown argument '$1'" >&2; usage ;;
	esac
done

command -v evqueue >/dev/null || { echo "start-cluster.sh: evqueue is not on PATH" >&2; exit 1; }
[ -r "$CONFIG" ] || { echo "start-cluster.sh: cannot read $CONFIG" >&2; exit 1; }
DATA="$(cd "$DATA" && pwd -P)" || exit 1

# The nodes' configuration: the file itself for /data, else a copy naming DATA
CONF="$CONFIG"
if [ "$DATA" != /data ]
then
	CONF="$DATA/.evqueue.multiuser.conf"
	while IFS= read -r line || [ -n "$line" ]
	do
		printf '%s\n' "${line//\/data\//"$DATA"/}"
	done < "$CONFIG" > "$CONF"
fi

# Discover users
USERS=`cd "$DATA" && LC_ALL=C ls -d -- */ 2>/dev/null | tr -d /`

# Build cluster description
CLUSTER=""
for i in $USERS
do
	if [ "$CLUSTER" != "" ]
	then
		CLUSTER="$CLUSTER,"
	fi

	CLUSTER="${CLUSTER}unix://$DATA/$i/evqueue.socket"
done

if [ "$CLUSTER" = "" ]
then
	echo "start-cluster.sh: no developer directory in $DATA" >&2
	exit 1
fi

# Start engine instances
STATUS=0
port=$PORT
for i in $USERS
do
	if OUTPUT=`login=$i cluster=$CLUSTER port=$port evqueue --config "$CONF" --daemon 2>&1`
	then
		[ -n "$OUTPUT" ] && echo "$OUTPUT" >&2
		echo "$i started: unix://$DATA/$i/evqueue.socket, websocket port $port"
	elif [[ "$OUTPUT" == *"is running with pidfile"* ]]
	then
		echo "$i is already running"
	else
		echo "$OUTPUT" >&2
		echo "$i did not start" >&2
		STATUS=1
	fi
	port=$((port+1))
done
exit $STATUS
