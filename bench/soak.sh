#!/usr/bin/env bash
# Soak test: a steady load on one gateway for a long while, watching its memory and open files for leaks.
#
# Usage: BFF_BIN=path/to/mobile-bff bench/soak.sh
#   BFF_BIN=path            the gateway binary (required; build it with
#                           `swift build -c release --static-swift-stdlib --product mobile-bff`)
#   SOAK_SECONDS=N          length of the load (default 1800)
#   SOAK_SAMPLE_SECONDS=N   time between RSS samples (default 10)
#
# mobile-bff serves bench/soak.yaml on 127.0.0.1:8590, alone on CPU 1 with one thread; the stub upstreams
# (upstreams.conf) and two wrk -t1 -c32 (one on /dashboard-degraded, whose optional call times out on every
# request, one on /proxy/users/u1) share CPU 0. The gateway's VmRSS and open files are sampled into
# bench/results/soak-rss.csv; its open files are counted after a warm-up and again after the load, each time
# once keep-alive connections have closed. Prints a markdown table and writes it to bench/results/soak.md.
# Exits non-zero when the gateway died or its open files grew by more than 8.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
secs=${SOAK_SECONDS:-1800}
sample_secs=${SOAK_SAMPLE_SECONDS:-10}
modules=${NGINX_MODULES_DIR:-/usr/lib/nginx/modules}
port=8590
admin_port=9590
conns=32
warmup_secs=3
# Longer than the stubs' keep-alive timeout set below, so the gateway's pooled upstream connections have
# closed when open files are counted, and only what the gateway holds for itself remains.
idle_secs=5
fd_margin=8
agg_path=/dashboard-degraded
proxy_path=/proxy/users/u1

die() { printf 'soak: %s\n' "$*" >&2; exit 1; }
note() { printf 'soak: %s\n' "$*" >&2; }

[[ $secs =~ ^[1-9][0-9]*$ ]] || die "SOAK_SECONDS must be a positive integer, got '$secs'"
[[ $sample_secs =~ ^[1-9][0-9]*$ ]] || die "SOAK_SAMPLE_SECONDS must be a positive integer, got '$sample_secs'"
((sample_secs < secs)) || die "SOAK_SAMPLE_SECONDS ($sample_secs) must be less than SOAK_SECONDS ($secs), or no sample falls under load"
[[ -n ${BFF_BIN:-} ]] || die "set BFF_BIN to the gateway binary; build one with:
    swift build -c release --static-swift-stdlib --product mobile-bff
  then BFF_BIN=\$(swift build -c release --static-swift-stdlib --show-bin-path)/mobile-bff bench/soak.sh"
[[ -x $BFF_BIN ]] || die "BFF_BIN=$BFF_BIN is not an executable file"

# --- prerequisites -------------------------------------------------------------------------------------------------
missing=()
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
[[ -f $modules/ngx_http_echo_module.so ]] || missing+=(libnginx-mod-http-echo)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v taskset >/dev/null 2>&1 || missing+=(util-linux)
command -v timeout >/dev/null 2>&1 || missing+=(coreutils)
if ((${#missing[@]})); then
  die "missing tools; install them with (as root):
    apt-get update && apt-get install -y ${missing[*]}
  (nginx modules are looked for in $modules; set NGINX_MODULES_DIR to change that)"
fi
if ! { taskset -c 0 true && taskset -c 1 true; } 2>/dev/null; then
  die "needs CPUs 0 and 1 (gateway on CPU 1, wrk and upstreams on CPU 0); this process may use: $(taskset -pc $$ 2>/dev/null | awk -F': ' '{print $2}')"
fi

# 64 connections x 3 upstream calls fit in 1024 descriptors, but a leak should show in the report, not as EMFILE.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --- processes and cleanup -----------------------------------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bff-soak.XXXXXX")
chmod 755 "$tmp" # nginx workers may run as an unprivileged user
# shellcheck source=bench/processes.sh
source "$here/processes.sh"

for p in 9001 9002 9003 "$port" "$admin_port"; do
  ! port_answers "$p" || die "something already listens on 127.0.0.1:$p; stop it first"
done

# --- stub upstreams on CPU 0 ---------------------------------------------------------------------------------------
# upstreams.conf as run.sh renders it, plus a short keep-alive timeout (see idle_secs).
esc_tmp=$(printf '%s' "$tmp" | sed 's/[&|\\]/\\&/g')
esc_mod=$(printf '%s' "$modules" | sed 's/[&|\\]/\\&/g')
sed -e "s|@BENCH_TMP@|$esc_tmp|g" -e "s|@NGINX_MODULES@|$esc_mod|g" -e 's|^http {$|&\n  keepalive_timeout 2s;|' \
  "$here/upstreams.conf" > "$tmp/upstreams.conf"
grep -q '^  keepalive_timeout 2s;$' "$tmp/upstreams.conf" \
  || die "bench/upstreams.conf has no line 'http {' to add the stubs' keep-alive timeout after; keep that line as it is"

taskset -c 0 nginx -p "$tmp/" -e "$tmp/upstreams.err" -c "$tmp/upstreams.conf" > "$tmp/upstreams.out" 2>&1 &
up_pid=$!
pids+=("$up_pid")
for p in 9001 9002 9003; do wait_port "$up_pid" "$p" "$tmp/upstreams.err"; done
for u in 9001/users/u1 9002/orders 9003/slow/x; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$u") || code=000
  [[ $code == 200 ]] || die "stub upstream http://127.0.0.1:$u answered $code, not 200 (log: $tmp/upstreams.err)"
done

# --- the gateway on CPU 1 ------------------------------------------------------------------------------------------
# The access log goes to /dev/null rather than off, and the admin listener is on, so the soak runs the code a
# deployed gateway runs on every request; its own log (standard error) is kept.
gw_log=$tmp/mobile-bff.log
BFF_JWT_SECRET=soak-secret-not-used-by-any-soaked-route BFF_THREADS=1 taskset -c 1 "$BFF_BIN" --spec "$here/soak.yaml" \
  --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin_port" > /dev/null 2> "$gw_log" &
gw_pid=$!
pids+=("$gw_pid")
wait_port "$gw_pid" "$port" "$gw_log"

base=http://127.0.0.1:$port
code=$(curl -s -o "$tmp/body" -w '%{http_code}' --max-time 5 "$base$proxy_path") || code=000
[[ $code == 200 ]] || { tail -n 20 "$gw_log" >&2 || true; die "GET $base$proxy_path answered $code, not 200 (log: $gw_log)"; }
code=$(curl -s -o "$tmp/body" -w '%{http_code}' --max-time 5 "$base$agg_path") || code=000
[[ $code == 200 ]] || { tail -n 20 "$gw_log" >&2 || true; die "GET $base$agg_path answered $code, not 200 (log: $gw_log)"; }
grep -q '"notifications":{"status":"timeout"' "$tmp/body" \
  || die "GET $base$agg_path: _meta does not show the notifications call timing out, so the soak would miss the degraded path; check its timeout in bench/soak.yaml against the 50 ms of /slow/ in bench/upstreams.conf. Body: $(head -c 500 "$tmp/body")"

# --- load and sampling ---------------------------------------------------------------------------------------------
# Counts the answers marked degraded, and the status of every non-2xx answer (wrk itself only counts them);
# wrk's done() runs in the main thread, so it sums the threads'. thread:get copies only plain values, so each
# thread keeps its non-2xx statuses as a string (bounded: they are rare, or the run has failed anyway).
cat > "$tmp/degraded.lua" <<'LUA'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) answered = 0; degraded = 0; failed = "" end
function response(status, headers, body)
  answered = answered + 1
  if status >= 300 and #failed < 8000 then failed = failed .. status .. " " end
  for name, value in pairs(headers) do
    if name:lower() == "x-bff-degraded" and value == "true" then degraded = degraded + 1 end
  end
end
function done(summary, latency, requests)
  local a, d, counts, codes = 0, 0, {}, {}
  for _, t in ipairs(threads) do
    a = a + t:get("answered"); d = d + t:get("degraded")
    for code in string.gmatch(t:get("failed"), "%d+") do
      if not counts[code] then counts[code] = 0; table.insert(codes, code) end
      counts[code] = counts[code] + 1
    end
  end
  table.sort(codes)
  local parts = {}
  for _, code in ipairs(codes) do table.insert(parts, code .. " x" .. counts[code]) end
  io.write(string.format("Degraded: %d of %d\n", d, a))
  io.write("Non-2xx statuses: " .. (#parts > 0 and table.concat(parts, ", ") or "none") .. "\n")
end
LUA

wrk_pids=()
start_load() { # seconds tag: one wrk per route in the background, each bounded by timeout
  local s=$1 tag=$2
  timeout $((s + 30)) taskset -c 0 wrk -t1 -c"$conns" -d"${s}s" --timeout 3s -s "$tmp/degraded.lua" "$base$agg_path" \
    > "$tmp/$tag-agg.txt" 2>&1 &
  wrk_pids=("$!")
  timeout $((s + 30)) taskset -c 0 wrk -t1 -c"$conns" -d"${s}s" --timeout 3s -s "$tmp/degraded.lua" "$base$proxy_path" \
    > "$tmp/$tag-proxy.txt" 2>&1 &
  wrk_pids+=("$!")
  pids+=("${wrk_pids[@]}")
}
finish_load() { # tag: wait for both wrk; fail when one did not end cleanly
  local tag=$1 p rc failed=0
  for p in "${wrk_pids[@]}"; do
    rc=0; wait "$p" || rc=$?
    forget_pid "$p"
    ((rc == 0)) || failed=$rc
  done
  ((failed == 0)) || { cat "$tmp/$tag-agg.txt" "$tmp/$tag-proxy.txt" >&2; die "wrk ($tag) exited with status $failed (124: it outlived its time limit)"; }
}

gw_alive() { grep -q '^VmRSS:' "/proc/$gw_pid/status" 2>/dev/null; } # a zombie has no VmRSS
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$gw_pid/status"; }
open_files() { find "/proc/$gw_pid/fd" -mindepth 1 -maxdepth 1 | wc -l; }

mkdir -p "$here/results"
rm -f "$here/results/soak-fds-before.txt" "$here/results/soak-fds-after.txt"
csv=$here/results/soak-rss.csv

note "warm-up: ${warmup_secs}s of load, then ${idle_secs}s idle before counting open files"
start_load "$warmup_secs" warmup
finish_load warmup
sleep "$idle_secs"
gw_alive || die "mobile-bff (pid $gw_pid) exited during the warm-up (log: $gw_log)"
fds_before=$(open_files)
ls -l "/proc/$gw_pid/fd" > "$here/results/soak-fds-before.txt" 2>/dev/null || true

note "load: ${secs}s, wrk -t1 -c$conns on $agg_path and on $proxy_path, RSS every ${sample_secs}s into bench/results/soak-rss.csv"
printf 'seconds,rss_kib,open_files\n' > "$csv"
start_load "$secs" soak
load_start=$SECONDS
died_at=
for ((t = sample_secs; t < secs; t += sample_secs)); do
  wait_for=$((load_start + t - SECONDS))
  ((wait_for <= 0)) || sleep "$wait_for"
  if ! gw_alive; then died_at=$((SECONDS - load_start)); break; fi
  printf '%s,%s,%s\n' "$t" "$(rss_kib)" "$(open_files)" >> "$csv"
done

if [[ -z $died_at ]]; then
  finish_load soak
  note "load done; ${idle_secs}s idle before counting open files again"
  sleep "$idle_secs"
  gw_alive || died_at=$secs
else
  for p in "${wrk_pids[@]}"; do stop_pid "$p"; forget_pid "$p"; done
fi
gw_status= fds_after=-
if [[ -z $died_at ]]; then
  fds_after=$(open_files)
  ls -l "/proc/$gw_pid/fd" > "$here/results/soak-fds-after.txt" 2>/dev/null || true
else
  gw_status=0; wait "$gw_pid" || gw_status=$?
  forget_pid "$gw_pid"
fi
cat "$tmp/soak-agg.txt" "$tmp/soak-proxy.txt" > "$here/results/soak-wrk.txt" 2>/dev/null || true

# --- report --------------------------------------------------------------------------------------------------------
route_rows() { # label wrk-output [1: add the degraded share]: the table rows of one route; "-" where wrk wrote nothing (it was stopped)
  awk -v label="$1" -v degradedRow="${3:-0}" '
    / requests in / { n = $1 }
    /^Requests\/sec:/ { rps = $2 }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/ { sock = $4 + $6 + $8 + $10; detail = $0; sub(/^ *Socket errors: /, "", detail) }
    /^Degraded: / { deg = $2; of = $4 }
    /^Non-2xx statuses: / { statuses = $0; sub(/^Non-2xx statuses: /, "", statuses) }
    END {
      if (n == "") { printf "| %s: requests answered | - |\n", label; exit }
      printf "| %s: requests answered | %d (%.0f req/s) |\n", label, n, rps
      printf "| %s: non-2xx / socket errors | %d%s / %s |\n", label, non2xx, non2xx ? " (" statuses ")" : "", sock ? sock " (" detail ")" : 0
      if (of != "" && degradedRow) printf "| %s: answers marked degraded | %.1f%% |\n", label, of ? 100 * deg / of : 0
    }' "$2"
}
mib() { awk '{printf "%.1f MiB", $1 / 1024}' <<<"$1"; }
rss_first=$(awk -F, 'NR == 2 {print $2}' "$csv")
rss_last=$(awk -F, 'NR > 1 {v = $2} END {print v}' "$csv")
rss_max=$(awk -F, 'NR > 1 && $2 > m {m = $2} END {print m}' "$csv")

failures=()
if [[ -n $died_at ]]; then
  failures+=("mobile-bff exited (status $gw_status) by ${died_at}s into the load; read its log, kept in $gw_log")
elif ((fds_after > fds_before + fd_margin)); then
  failures+=("mobile-bff's open files grew from $fds_before to $fds_after (more than $fd_margin); compare bench/results/soak-fds-before.txt with soak-fds-after.txt to see what it kept open")
fi

report=$(
  printf '| soak | |\n|---|---|\n'
  printf '| load | %s s, wrk -t1 -c%s per route on CPU 0; mobile-bff on CPU 1, 1 thread |\n' "$secs" "$conns"
  route_rows "GET $agg_path" "$tmp/soak-agg.txt" 1
  route_rows "GET $proxy_path" "$tmp/soak-proxy.txt"
  if [[ -n $rss_first ]]; then
    printf '| RSS: first sample under load / end / max | %s / %s / %s |\n' "$(mib "$rss_first")" "$(mib "$rss_last")" "$(mib "$rss_max")"
  fi
  printf '| open files: before / after the load | %s / %s |\n' "$fds_before" "$fds_after"
  if ((${#failures[@]})); then printf '| result | FAILED: %s |\n' "${failures[@]}"; else printf '| result | ok |\n'; fi
  printf '\nRSS every %s s in bench/results/soak-rss.csv; raw wrk output in bench/results/soak-wrk.txt; %s\n' \
    "$sample_secs" "$(date -u '+%Y-%m-%d %H:%M UTC')"
)
printf '%s\n' "$report" > "$here/results/soak.md"
printf '\n%s\n' "$report"
note "written to bench/results/soak.md"
((${#failures[@]} == 0)) || die "${failures[0]}"
