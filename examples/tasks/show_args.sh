#!/bin/sh
# Prints each of its arguments on a line of its own, in brackets: shows how words arrive.
for arg in "$@"; do
  printf '[%s]\n' "$arg"
done
