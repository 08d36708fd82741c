# Process bookkeeping shared by run.sh and soak.sh, sourced after they set `tmp` (their scratch folder)
# and define `note` and `die`: every process a script starts goes into `pids`, and all of them are
# stopped when it exits, however it exits; its scratch folder is removed on success and kept (and
# named) on failure.
pids=()

stop_pid() { # pid: TERM, wait up to 5 s, then KILL it and its direct children (nginx workers)
  local p=$1 _i
  kill -TERM "$p" 2>/dev/null || return 0
  for _i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$p" 2>/dev/null; then
    pkill -KILL -P "$p" 2>/dev/null || true
    kill -KILL "$p" 2>/dev/null || true
  fi
  wait "$p" 2>/dev/null || true
}

cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  for p in ${pids[@]+"${pids[@]}"}; do stop_pid "$p"; done
  if ((rc == 0)); then
    rm -rf "$tmp"
  else
    note "failed (exit $rc); logs kept in $tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

forget_pid() { # pid: drop from the cleanup list once reaped, so a later process given that pid is left alone
  local keep=() p
  for p in ${pids[@]+"${pids[@]}"}; do [[ $p == "$1" ]] || keep+=("$p"); done
  pids=(${keep[@]+"${keep[@]}"})
}

port_answers() { curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/"; }

wait_port() { # pid port log: wait up to 10 s for the port to accept HTTP, fail if the process dies
  local pid=$1 port=$2 log=$3 _i
  for _i in $(seq 100); do
    port_answers "$port" && return 0
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log" >&2 || true; die "process $pid exited before 127.0.0.1:$port came up (log: $log)"; }
    sleep 0.1
  done
  tail -n 20 "$log" >&2 || true
  die "127.0.0.1:$port did not come up within 10 s (log: $log)"
}
