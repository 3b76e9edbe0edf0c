#!/bin/sh
# Fails with exit code 75 until its attempt number $2; counts attempts in the file $1.
attempt=$(( $(cat "$1" 2>/dev/null || echo 0) + 1 ))
echo "$attempt" > "$1"
if [ "$attempt" -lt "$2" ]; then
  echo "attempt $attempt failed" >&2
  exit 75
fi
echo "succeeded at attempt $attempt"
