#!/usr/bin/env bash
# Every scenario, one after the other (about 25 minutes): idle, fan-out,
# connect storm, and the round start storm when the server has speed
# networking. Tables land in loadtest/out/*.md.
set -uo pipefail
dir=$(dirname "$0")
rc=0
"$dir/idle.sh" || rc=1
"$dir/fanout.sh" || rc=1
"$dir/storm.sh" || rc=1
"$dir/sn.sh"
case $? in 0 | 3) ;; *) rc=1 ;; esac
exit $rc
