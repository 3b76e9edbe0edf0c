#!/bin/sh
# An XML output: a (fixed) listing of files, one with no content.
echo '<files count="3">'
echo '  <file name="a.log" size="120"/>'
echo '  <file name="empty.log" size="0"/>'
echo '  <file name="b.log" size="40"/>'
echo '</files>'
