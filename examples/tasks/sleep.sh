#!/bin/sh
# Sleeps $1 seconds (1 by default), then says so.
sleep "${1:-1}"
echo "slept ${1:-1}s"
