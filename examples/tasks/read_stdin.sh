#!/bin/sh
# Echoes its standard input.
cat
