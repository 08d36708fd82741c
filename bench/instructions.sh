#!/usr/bin/env bash
# User-space instructions per request, counted by valgrind (callgrind), for A/B comparisons between
# builds that the shared machine's noise would hide from req/s.
#
# Usage: bench/instructions.sh BIN [BIN...]      e.g. bench/instructions.sh /tmp/old/mobile-bff .build-release/release/mobile-bff
#   IR_PATH=/dashboard   the route measured (any GET of bench/bench.yaml)
#   IR_SECS=5            seconds of load counted per binary
#
# Each binary serves bench/bench.yaml against the stub upstreams of bench/upstreams.conf, alone on
# CPU 1 under callgrind (about 50 times slower than native, so a few thousand requests a run).
# Counting starts after a 3 s warm-up. The count the process makes while idle over the same time,
# measured just before, is taken off, then the rest is divided by the requests wrk completed. The
# count is the same from run to run within about 3%; it says nothing about kernel time (about
# half of the gateway's CPU on loopback) or about cache misses, so a change that saves
# instructions is confirmed with bench/run.sh before it is claimed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
path=${IR_PATH:-/dashboard}
secs=${IR_SECS:-5}
modules=${NGINX_MODULES_DIR:-/usr/lib/nginx/modules}
port=8580

die() { printf 'instructions: %s\n' "$*" >&2; exit 1; }
(($# > 0)) || die "usage: bench/instructions.sh BIN [BIN...]"
[[ $secs =~ ^[1-9][0-9]*$ ]] || die "IR_SECS must be a positive integer, got '$secs'"
missing=()
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
command -v objcopy >/dev/null 2>&1 || missing+=(binutils)
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
[[ -f $modules/ngx_http_echo_module.so ]] || missing+=(libnginx-mod-http-echo)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v curl >/dev/null 2>&1 || missing+=(curl)
((${#missing[@]} == 0)) || die "missing tools; install them with (as root): apt-get install -y ${missing[*]}"
for bin in "$@"; do [[ -x $bin ]] || die "$bin is not an executable file"; done
ulimit -n 65536 2>/dev/null || true

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bff-instructions.XXXXXX")
chmod 755 "$tmp"
pids=()
cleanup() {
  local p
  for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

answers() { curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/"; }
for p in 9001 9002 9003 $port; do ! answers $p || die "something already listens on 127.0.0.1:$p; stop it first"; done

sed -e "s|@BENCH_DIR@|$here|g" -e "s|@BENCH_TMP@|$tmp|g" -e "s|@NGINX_MODULES@|$modules|g" "$here/upstreams.conf" > "$tmp/upstreams.conf"
taskset -c 0 nginx -p "$tmp/" -e "$tmp/upstreams.err" -c "$tmp/upstreams.conf" > /dev/null 2>&1 &
pids+=($!)
for p in 9001 9002 9003; do
  for _ in $(seq 100); do answers $p && break; sleep 0.1; done
  answers $p || die "stub upstream on 127.0.0.1:$p did not come up (log: $tmp/upstreams.err)"
done

total() { grep -h '^totals:' "$1" | awk '{print $2}'; }

printf '| binary | requests | instructions/request |\n|---|---|---|\n'
for bin in "$@"; do
  # valgrind 3.19 cannot read the DWARF 5 that Swift writes; the symbol table is enough here.
  objcopy --strip-debug "$bin" "$tmp/gateway"
  out=$tmp/callgrind
  BFF_JWT_SECRET=bench-secret-not-used-by-any-benchmarked-route BFF_ACCESS_LOG=off BFF_THREADS=1 \
    taskset -c 1 valgrind --tool=callgrind --callgrind-out-file="$out.%p" "$tmp/gateway" \
    --spec "$here/bench.yaml" --listen 127.0.0.1:$port --admin-listen off > "$tmp/gateway.log" 2>&1 &
  vg=$!
  pids+=($vg)
  for _ in $(seq 300); do curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/health" && break; sleep 0.2; done
  curl -sf -o /dev/null "http://127.0.0.1:$port$path" || die "$bin did not answer $path (log: $tmp/gateway.log)"
  taskset -c 0 wrk -t1 -c64 -d3s "http://127.0.0.1:$port$path" > /dev/null
  sleep 1
  callgrind_control -z $vg > /dev/null 2>&1
  sleep "$secs"
  callgrind_control -d $vg > /dev/null 2>&1
  sleep 0.5
  idle=$(total "$(ls -t "$out".* | head -1)")
  callgrind_control -z $vg > /dev/null 2>&1
  result=$(taskset -c 0 wrk -t1 -c64 -d"${secs}s" "http://127.0.0.1:$port$path")
  callgrind_control -d $vg > /dev/null 2>&1
  sleep 0.5
  busy=$(total "$(ls -t "$out".* | head -1)")
  requests=$(awk '/requests in/ {print $1}' <<< "$result")
  ((requests > 0)) || die "no request completed for $bin"
  printf '| %s | %s | %s |\n' "$bin" "$requests" "$(( (busy - idle) / requests ))"
  kill $vg 2>/dev/null || true
  wait $vg 2>/dev/null || true
  rm -f "$out".*
done
