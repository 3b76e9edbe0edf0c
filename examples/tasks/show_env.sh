#!/bin/sh
# Prints the variables an ENV task of examples/workflows/inputs.xml receives.
echo "NAME=$NAME"
echo "COUNT=$COUNT"
echo "EVQUEUE_ENV=$EVQUEUE_ENV"
