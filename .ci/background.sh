#!/usr/bin/env bash
# Builds that `make test` needs late (the release packages), started early
# at idle CPU priority so they use the core that the single-threaded test
# stages leave free. They only warm caches: the stage that needs one waits
# for it, then runs its own build command, which is a no-op when the
# background build succeeded and shows the error when not.
#
#   background.sh start OWNER_PID NAME [--normal] CMD...
#       run CMD in its own session under SCHED_IDLE (chrt --idle) and idle
#       I/O priority, holding target/background/NAME.lock until it ends;
#       output in target/background/NAME.log. --normal: at normal
#       priority, for a job that a stage needs soon. The job is killed if
#       OWNER_PID (make) goes away.
#   background.sh wait NAME
#       block until NAME's job, if one runs, has ended; say how it went.
#
# Fetch the crates first, in the foreground: a starved job must not sit on
# cargo's download lock while a foreground build waits for it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/target/background"
mkdir -p "$dir"

case "${1:-}" in
  start)
    owner=${2:?owner pid}
    name=${3:?name}
    shift 3
    priority=idle
    if [ "${1:-}" = --normal ]; then priority=normal; shift; fi
    [ $# -gt 0 ] || { echo "background.sh: no command" >&2; exit 2; }
    log="$dir/$name.log"
    # Take the lock here, before returning, so that a `wait` that comes
    # at once still finds the job; the job's shell inherits it.
    exec 9>"$dir/$name.lock"
    flock -n 9 || { echo "background.sh: $name already runs" >&2; exit 1; }
    rm -f "$dir/$name.status"
    (
      trap '' HUP
      start=$SECONDS
      # Its own session, so that the whole tree can be stopped. Where the
      # kernel groups sessions for fair scheduling (autogroup), that group
      # gets nice 19 too, or the job would have a full share beside make's.
      setsid -w bash -c 'if [ "$1" = idle ]; then
          { echo 19 >/proc/self/autogroup; } 2>/dev/null || true
          shift; exec chrt --idle 0 ionice -c 3 "$@"
        fi
        shift; exec "$@"' job "$priority" "$@" 9>&- </dev/null &
      job=$!
      while kill -0 "$job" 2>/dev/null; do
        if ! kill -0 "$owner" 2>/dev/null; then
          kill -TERM -- "-$job" 2>/dev/null || true
          echo "background.sh: $name stopped: its make ($owner) has ended" >>"$log"
        fi
        sleep 1
      done
      rc=0
      wait "$job" || rc=$?
      echo "$rc $((SECONDS - start))" >"$dir/$name.status"
    ) >"$log" 2>&1 &
    echo "background: $name started (log: ${log#"$root/"})"
    ;;
  wait)
    name=${2:?name}
    [ -e "$dir/$name.lock" ] || exit 0
    waited=$SECONDS
    flock "$dir/$name.lock" true
    if [ -s "$dir/$name.status" ]; then
      read -r rc took <"$dir/$name.status"
      echo "background: $name ended with status $rc after ${took}s (waited $((SECONDS - waited))s;" \
        "log: target/background/$name.log)"
      rm -f "$dir/$name.status"
    fi
    ;;
  *)
    echo "usage: background.sh start OWNER_PID NAME [--normal] CMD... | wait NAME" >&2
    exit 2
    ;;
esac
