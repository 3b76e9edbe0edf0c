#!/bin/sh
# An XML output: the hosts to deploy to, one of them twice.
echo '<hosts><host name="web1"/><host name="web2"/><host name="web1"/></hosts>'
