#!/bin/bash
# stop-cluster.sh — stop the nodes started by start-cluster.sh.
#
#   stop-cluster.sh [--data DIR] [--config FILE]
#
#   --data DIR      one sub-directory per developer (default /data)
#   --config FILE   configuration of every node (default /etc/evqueue.multiuser.conf, else the
#                   evqueue.multiuser.conf next to this script)
#
# Each node's pid is read from its pidfile (core.pidfile of the configuration, with {login} and
# /data/ replaced as for starting); the node gets SIGTERM, which stops it cleanly (running
# tasks go on and are picked up at the next start), and the script waits until it is gone.
# Exit status: 0 when no node runs any more, 1 otherwise.

set -u

DATA=/data
CONFIG=/etc/evqueue.multiuser.conf
[ -e "$CONFIG" ] || CONFIG="$(cd "$(dirname "$0")" && pwd)/evqueue.multiuser.conf"
TIMEOUT=30

usage() {
	sed -n '3,8s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

while [ $# -gt 0 ]
do
	case "$1" in
		--data) DATA="${2:?--data needs a directory}"; shift 2 ;;
		--config) CONFIG="${2:?--config needs a file}"; shift 2 ;;
		-h|--help) usage ;;
		*) echo "stop-cluster.sh: unknown argument '$1'" >&2; usage ;;
	esac
done

[ -r "$CONFIG" ] || { echo "stop-cluster.sh: cannot read $CONFIG" >&2; exit 1; }
DATA="$(cd "$DATA" && pwd -P)" || exit 1

# The last core.pidfile of the configuration (quotes and comment removed)
PIDFILE=`sed -n -E "s/^[[:space:]]*core\.pidfile[[:space:]]*=[[:space:]]*(['\"]?)([^'\"#[:space:]]*)\1.*$/\2/p" "$CONFIG" | tail -n 1`
PIDFILE="${PIDFILE:-/tmp/evqueue-core.pid}"

# Is $1 a running evqueue engine?
engine() {
	[ -r "/proc/$1/cmdline" ] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -q evqueue
}

STATUS=0
for i in `cd "$DATA" && LC_ALL=C ls -d -- */ 2>/dev/null | tr -d /`
do
	pidfile="${PIDFILE//\{login\}/$i}"
	pidfile="${pidfile//\/data\//"$DATA"/}"
	pid=`cat "$pidfile" 2>/dev/null`
	if [ -z "$pid" ] || ! engine "$pid"
	then
		echo "$i is not running"
		continue
	fi
	kill -TERM "$pid"
	waited=0
	while engine "$pid" && [ $waited -lt $((TIMEOUT * 10)) ]
	do
		sleep 0.1
		waited=$((waited+1))
	done
	if engine "$pid"
	then
		echo "$i (pid $pid) did not stop within $TIMEOUT s" >&2
		STATUS=1
	else
		echo "$i stopped"
	fi
done
exit $STATUS
