#!/bin/sh
# A demo task: greets its first argument (or the world) and reports progress on fd 3.
echo "%50" >&3 2>/dev/null
echo "Hello ${1:-world} from $(hostname)"
echo "%100" >&3 2>/dev/null
