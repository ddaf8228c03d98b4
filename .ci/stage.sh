#!/usr/bin/env bash
# Stage stamps for `make test`: `start` opens the log, `NAME` records how long
# the stage that just ended took (the time since the previous stamp; make runs
# the stages one after another), `summary` lists them all. CI's budget is
# 30 minutes; this says which stage to look at when a run creeps up. Each
# stamp also gives target/'s size and the disk space left beside it: a
# linker that runs out of disk dies of SIGBUS, which says nothing of why.
set -euo pipefail
cd "$(dirname "$0")/.."
log=target/stage-times.log
now=$(date +%s)

# target/'s size and the free space on its file system, in GB.
disk() {
	local used free
	used=$(du -sm target 2>/dev/null | awk '{ print $1 }')
	free=$(df -Pm target | awk 'NR == 2 { print $4 }')
	awk -v u="${used:-0}" -v f="${free:-0}" \
		'BEGIN { printf "target %.1f GB, %.1f GB free", u / 1024, f / 1024 }'
}
case "$1" in
start)
	mkdir -p target
	echo "start $now 0" >"$log"
	echo "### disk: $(disk)"
	;;
summary)
	[ -f "$log" ] || exit 0
	echo "### stage times (s):"
	awk 'NR > 1 { printf "###   %-18s %5d\n", $1, $3; total += $3 }
	     END { printf "###   %-18s %5d\n", "total", total }' "$log"
	;;
*)
	[ -f "$log" ] || exit 0
	last=$(tail -n 1 "$log" | awk '{ print $2 }')
	echo "$1 $now $((now - last))" >>"$log"
	echo "### stage $1 took $((now - last)) s; disk: $(disk)"
	;;
esac
