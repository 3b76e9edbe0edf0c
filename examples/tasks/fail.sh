#!/bin/sh
# Fails with exit code $1 (1 by default).
code=${1:-1}
echo "failing with $code" >&2
exit "$code"
