#!/usr/bin/env bash
# Side-by-side benchmark of our gateway (mobile-bff with bench/bench.yaml) against nginx doing the same jobs.
#
# Usage: bench/run.sh [seconds=8]
#   BFF_BIN=path    use this gateway binary instead of building `swift build -c release --static-swift-stdlib --product mobile-bff`
#                   (the binary deploy/Dockerfile ships)
#   BENCH_ONLY=nginx  measure nginx only (no build);  BENCH_ONLY=ours  measure our gateway only
#   BENCH_ROUNDS=N    rounds per scenario (default 1); with N > 1 a row shows the median run and
#                     the min-max range of req/s, for figures that move between runs
#   BENCH_MATCH=regex run only the scenarios whose label matches (grep -E), e.g. BENCH_MATCH='HTTP/2'
#
# Layout on a 2-core machine: stub upstreams (nginx, upstreams.conf) and wrk on CPU 0; the gateway under test runs
# alone on CPU 1, one at a time (the "both cores" row: gateway and wrk on CPUs 0-1, beside the stubs). In each round
# of a scenario every gateway takes its turn, started afresh: one curl that must answer 200 (with the row's request
# header; without it, or with a forged copy, a credential must get 401; the 1 MiB rows' must carry the whole body),
# a 2 s wrk warm-up, then `wrk -t1 -cN -dS --latency`. Taking turns round by round puts a slow spell of the shared
# machine on every gateway, not on whichever ran then. Prints a markdown table and writes it to bench/results/latest.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
secs=${1:-8}
only=${BENCH_ONLY:-}
rounds=${BENCH_ROUNDS:-1}
modules=${NGINX_MODULES_DIR:-/usr/lib/nginx/modules}
nginx_port=8180
nginx_h2_port=8181
ours_port=8580
grpc_port=9004
warmup_secs=2

die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
note() { printf 'bench: %s\n' "$*" >&2; }

[[ $secs =~ ^[1-9][0-9]*$ ]] || die "seconds must be a positive integer, got '$secs' (usage: bench/run.sh [seconds=8])"
[[ $rounds =~ ^[1-9][0-9]?$ ]] || die "BENCH_ROUNDS must be a number from 1 to 99, got '$rounds'"
case $only in
  '' | nginx | ours) ;;
  *) die "BENCH_ONLY must be empty, 'nginx' or 'ours', got '$only'" ;;
esac
want_nginx=1; want_ours=1
[[ $only == ours ]] && want_nginx=0
[[ $only == nginx ]] && want_ours=0

# --- prerequisites -------------------------------------------------------------------------------------------------
missing=()
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
[[ -f $modules/ngx_http_echo_module.so ]] || missing+=(libnginx-mod-http-echo)
if ((want_nginx)) && [[ ! -f $modules/ngx_http_js_module.so ]]; then missing+=(libnginx-mod-http-js); fi
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v h2load >/dev/null 2>&1 || missing+=(nghttp2-client)
if ((want_ours)) && ! python3 -c 'import grpc, google.protobuf' 2>/dev/null; then
  die "the gRPC row's upstream needs Python's grpcio and protobuf: python3 -m pip install grpcio protobuf"
fi
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
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

if ((want_ours)); then
  if [[ -n ${BFF_BIN:-} ]]; then
    [[ -x $BFF_BIN ]] || die "BFF_BIN=$BFF_BIN is not an executable file"
  else
    command -v swift >/dev/null 2>&1 || die "swift not found: install the toolchain, or set BFF_BIN, or use BENCH_ONLY=nginx"
    note "building: swift build -c release --static-swift-stdlib --product mobile-bff (as deploy/Dockerfile does)"
    (cd "$root" && swift build -c release --static-swift-stdlib --product mobile-bff) || die "release build failed"
    BFF_BIN="$(cd "$root" && swift build -c release --static-swift-stdlib --show-bin-path)/mobile-bff"
    [[ -x $BFF_BIN ]] || die "build finished but $BFF_BIN is missing"
  fi
fi

# 256 connections x 3 upstream calls need more than the common 1024 descriptors; raise the soft limit if we can.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --- processes and cleanup -----------------------------------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bff-bench.XXXXXX")
chmod 755 "$tmp" # nginx workers may run as an unprivileged user
# shellcheck source=bench/processes.sh
source "$here/processes.sh"

port_free_or_die() {
  local port
  for port in "$@"; do
    ! port_answers "$port" || die "something already listens on 127.0.0.1:$port; stop it first"
  done
}

render() { # template out: fill in the placeholders
  local esc_dir esc_tmp esc_mod
  esc_dir=$(printf '%s' "$here" | sed 's/[&|\\]/\\&/g')
  esc_tmp=$(printf '%s' "$tmp" | sed 's/[&|\\]/\\&/g')
  esc_mod=$(printf '%s' "$modules" | sed 's/[&|\\]/\\&/g')
  sed -e "s|@BENCH_DIR@|$esc_dir|g" -e "s|@BENCH_TMP@|$esc_tmp|g" -e "s|@NGINX_MODULES@|$esc_mod|g" "$1" > "$2"
}

render "$here/upstreams.conf" "$tmp/upstreams.conf"
render "$here/nginx-njs.conf" "$tmp/nginx-njs.conf"
# The 1 MiB rows' payload, random bytes: the stub serves it from $tmp/files/ and wrk POSTs it (post-body.lua).
mkdir -p "$tmp/files"
head -c 1048576 /dev/urandom > "$tmp/files/1mib.bin"
# The HTTP/2 rows: the same spec with h2c by prior knowledge beside HTTP/1.1 on the same port.
{ printf 'http2: true\n'; cat "$here/bench.yaml"; } > "$tmp/bench-h2.yaml"
# The gRPC row: bench.yaml with the user call of /dashboard-grpc made to a gRPC service (grpcio, the
# tests' stub, serving GetUser of the tests' descriptor set).
descriptor_set=$root/Tests/BFFProtoTests/Resources/test.pb
sed -e "s|^services:|services:\n  users-grpc: { url: \"http://127.0.0.1:$grpc_port\", timeout: 1s, grpc: { descriptor_set: $descriptor_set } }|" \
  "$here/bench.yaml" > "$tmp/bench-grpc.yaml"
cat >> "$tmp/bench-grpc.yaml" <<YAML
  - route: GET /dashboard-grpc
    auth: none
    calls:
      user: { service: users-grpc, method: bfftest.v1.Users/GetUser, body: { user_id: u1 } }
      orders: { service: orders, path: /orders }
      notifications: { service: notes, path: /notifications }
YAML

# The traced rows: bench.yaml with tracing on, exporting to the sink on 9004; sample 0% pays for
# trace context and headers only, 100% records and exports every span.
for share in 0 100; do
  { cat "$here/bench.yaml"; printf 'tracing: { otlp: "http://127.0.0.1:9004", sample: %s%% }\n' "$share"; } > "$tmp/bench-traced-$share.yaml"
done

# --- the authenticated, CORS and both-cores rows --------------------------------------------------------------------
# Credentials made afresh each run: an HS256 secret, a P-256 key pair, tokens valid for 6 h (bench/jwt.py,
# stdlib and openssl) and an API key. Our gateway reads them from the files bench-edge.yaml names, nginx + njs
# from credentials.js (edge.js).
hs_kid=bench-hs256 es_kid=bench-es256 cors_origin=https://app.example.com
random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
random_hex 32 > "$tmp/hs256.secret"
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/es256.key.pem" 2> "$tmp/openssl.err" \
  && openssl pkey -in "$tmp/es256.key.pem" -pubout -out "$tmp/es256.pub.pem" 2>> "$tmp/openssl.err" \
  || die "openssl could not make the ES256 row's P-256 key (log: $tmp/openssl.err)"
es_spki=$(openssl pkey -in "$tmp/es256.key.pem" -pubout -outform DER | base64 -w0)
hs_token=$(python3 "$here/jwt.py" hs256 "$tmp/hs256.secret" "$hs_kid") || die "bench/jwt.py could not sign the HS256 token"
es_token=$(python3 "$here/jwt.py" es256 "$tmp/es256.key.pem" "$es_kid") || die "bench/jwt.py could not sign the ES256 token"
api_key=bench-$(random_hex 24)
api_key_hash=$(printf '%s' "$api_key" | sha256sum | cut -d' ' -f1)
printf '%s bench-partner bench\n' "$api_key_hash" > "$tmp/api.keys"
printf "export default { hs256: { kid: '%s', secret: '%s' }, es256: { kid: '%s', spki: '%s' }, apiKeys: { '%s': 'bench-partner' } };\n" \
  "$hs_kid" "$(cat "$tmp/hs256.secret")" "$es_kid" "$es_spki" "$api_key_hash" > "$tmp/credentials.js"

# bench.yaml with both JWT keys beside its own and the keys file, /dashboard-jwt (either token) and /dashboard-key
# (the key's plan and the route's limit are both counted, at rates no run reaches).
sed -e "s|^    keys: \[\(.*\)\]\$|    keys: [\1, { kid: $hs_kid, alg: HS256, secret_file: \"$tmp/hs256.secret\" }, { kid: $es_kid, alg: ES256, pem_file: \"$tmp/es256.pub.pem\" }]\n  api_keys: { file: \"$tmp/api.keys\", header: X-Api-Key }|" \
  "$here/bench.yaml" > "$tmp/bench-edge.yaml"
grep -q "kid: $es_kid" "$tmp/bench-edge.yaml" || die "bench.yaml's auth.jwt has no one-line 'keys: [...]' to add the benchmark's keys to ($tmp/bench-edge.yaml); keep it on one line or update run.sh"
cat >> "$tmp/bench-edge.yaml" <<YAML
  - route: GET /dashboard-jwt
    auth: jwt
    calls:
      user: { service: users, path: /users/u1 }
      orders: { service: orders, path: /orders }
      notifications: { service: notes, path: /notifications }
  - route: GET /dashboard-key
    auth: api_key
    rate_limit: { key: api_key, rate: 1000000/s, burst: 1000000 }
    calls:
      user: { service: users, path: /users/u1 }
      orders: { service: orders, path: /orders }
      notifications: { service: notes, path: /notifications }
plans:
  bench: { rate: 1000000/s, burst: 1000000 }
YAML
# The CORS row: a spec-wide cors sends Vary: Origin on every answer, so it gets a spec and an nginx conf of its own.
{ cat "$here/bench.yaml"; printf 'cors: { origins: ["%s"] }\n' "$cors_origin"; } > "$tmp/bench-cors.yaml"
sed -e "s|^  js_import agg from aggregate.js;\$|&\n  map \$http_origin \$cors_origin { default \"\"; \"$cors_origin\" \$http_origin; }|" \
  -e 's|location = /dashboard { js_content agg.dashboard; }|location = /dashboard { add_header Access-Control-Allow-Origin $cors_origin always; add_header Vary Origin always; js_content agg.dashboard; }|' \
  "$tmp/nginx-njs.conf" > "$tmp/nginx-njs-cors.conf"
[[ $(grep -c 'cors_origin' "$tmp/nginx-njs-cors.conf") == 2 ]] \
  || die "nginx-njs.conf's '  js_import agg from aggregate.js;' or 'location = /dashboard { js_content agg.dashboard; }' line changed; update the CORS variant in run.sh"
# The both-cores row: two workers, each with its own listening socket so the kernel spreads the connections
# between them, as our gateway's two event loops share theirs.
sed -e 's|^worker_processes 1;$|worker_processes 2;|' -e 's|listen 127.0.0.1:8180;|listen 127.0.0.1:8180 reuseport;|' \
  "$tmp/nginx-njs.conf" > "$tmp/nginx-njs-2cores.conf"
grep -q '^worker_processes 2;' "$tmp/nginx-njs-2cores.conf" || die "nginx-njs.conf has no 'worker_processes 1;' line; update the both-cores variant in run.sh"

port_free_or_die 9001 9002 9003 9004 "$nginx_port" "$nginx_h2_port" "$ours_port" "$((ours_port + 1000))"
if ((want_ours)) && curl -s -o /dev/null --max-time 1 --http2-prior-knowledge "http://127.0.0.1:$grpc_port/"; then die "something already listens on 127.0.0.1:$grpc_port; stop it first"; fi

# --- stub upstreams on CPU 0 ---------------------------------------------------------------------------------------
taskset -c 0 nginx -p "$tmp/" -e "$tmp/upstreams.err" -c "$tmp/upstreams.conf" > "$tmp/upstreams.out" 2>&1 &
up_pid=$!
pids+=("$up_pid")
for port in 9001 9002 9003; do wait_port "$up_pid" "$port" "$tmp/upstreams.err"; done
for u in 9001/users/u1 9002/orders 9003/notifications 9001/slow/u1 9002/slow/x 9003/slow/x 9001/files/1mib.bin; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$u") || code=000
  [[ $code == 200 ]] || die "stub upstream http://127.0.0.1:$u answered $code, not 200 (log: $tmp/upstreams.err)"
done
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Expect:' --data-binary "@$tmp/files/1mib.bin" http://127.0.0.1:9001/upload/x) || code=000
[[ $code == 200 ]] || die "stub upstream http://127.0.0.1:9001/upload/x answered $code to a 1 MiB POST, not 200 (log: $tmp/upstreams.err)"

if ((want_ours)); then
  taskset -c 0 python3 "$root/Tests/Scripts/grpc_stub.py" --port "$grpc_port" --descriptor-set "$descriptor_set" > "$tmp/grpc.log" 2>&1 &
  pids+=("$!")
fi

# --- gateways under test on CPU 1 ----------------------------------------------------------------------------------
gw_pid=
start_gw() { # nginx[-cors|-2cores]|ours[-...] -> sets gw_pid, gw_port (HTTP/1.1), gw_h2_port, gw_log, load_cpus (for wrk)
  # The gateway has CPU 1 to itself and wrk keeps to CPU 0, except on both cores (-2cores): two
  # workers or threads on CPUs 0-1, and wrk on both too, beside the stubs still pinned to CPU 0.
  local cpus=1
  load_cpus=0
  if [[ $1 == *-2cores ]]; then cpus=0,1; load_cpus=0,1; fi
  case $1 in
    nginx | nginx-cors | nginx-2cores)
      local conf=$tmp/nginx-njs${1#nginx}.conf
      gw_port=$nginx_port; gw_h2_port=$nginx_h2_port; gw_log=$tmp/nginx-njs.err
      taskset -c "$cpus" nginx -p "$tmp/" -e "$gw_log" -c "$conf" > "$tmp/nginx-njs.out" 2>&1 &
      ;;
    ours | ours-protected | ours-h2 | ours-grpc | ours-traced-0 | ours-traced-100 | ours-edge | ours-cors | ours-2cores)
      # ours: no admin listener, so no metrics are recorded; ours-protected: bench-protected.yaml
      # (two instances per service, breakers, retries, ejection) with the admin listener and metrics on;
      # ours-h2: bench.yaml with http2: true; ours-edge: with the JWT and API key routes; ours-cors: with cors;
      # ours-2cores: bench.yaml on two event loop threads.
      local spec=$here/bench.yaml admin=off threads=1
      if [[ $1 == ours-protected ]]; then spec=$here/bench-protected.yaml; admin=127.0.0.1:$((ours_port + 1000)); fi
      if [[ $1 == ours-h2 ]]; then spec=$tmp/bench-h2.yaml; fi
      if [[ $1 == ours-grpc ]]; then spec=$tmp/bench-grpc.yaml; fi
      if [[ $1 == ours-traced-* ]]; then spec=$tmp/bench-traced-${1#ours-traced-}.yaml; fi
      if [[ $1 == ours-edge ]]; then spec=$tmp/bench-edge.yaml; fi
      if [[ $1 == ours-cors ]]; then spec=$tmp/bench-cors.yaml; fi
      if [[ $1 == ours-2cores ]]; then threads=2; fi
      gw_h2_port=$ours_port
      gw_port=$ours_port; gw_log=$tmp/mobile-bff.log
      # bench.yaml declares a key for mobile-bff's Swift /v1/badges, which takes JWTs and is not benchmarked.
      BFF_JWT_SECRET=bench-secret-not-used-by-any-benchmarked-route BFF_ACCESS_LOG=off BFF_THREADS=$threads taskset -c "$cpus" "$BFF_BIN" --spec "$spec" --listen "127.0.0.1:$ours_port" \
        --admin-listen "$admin" > "$gw_log" 2>&1 &
      ;;
  esac
  gw_pid=$!
  pids+=("$gw_pid")
  wait_port "$gw_pid" "$gw_port" "$gw_log"
}
stop_gw() { stop_pid "$gw_pid"; forget_pid "$gw_pid"; gw_pid=; }

mkdir -p "$here/results"
raw=$here/results/latest-wrk.txt
: > "$raw"
rows=()

cpu_ticks() { # pid: user+system clock ticks used so far by the process and its direct children (nginx workers)
  local p total=0
  for p in "$1" $(pgrep -P "$1" 2>/dev/null); do
    [[ -r /proc/$p/stat ]] || continue
    total=$((total + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat")))
  done
  printf '%s\n' "$total"
}
ticks_per_second=$(getconf CLK_TCK)

# Per gateway label of the scenario being measured: its runs ("req/s p50 p99", one per line), the
# requests they answered, the CPU ticks the gateway used for them, and their errors.
declare -A runs_of requests_of ticks_of errors_of

tampered() { # credential: the same with the first character of its last dot-separated part changed (a JWT's signature)
  local value=$1 head='' last swap=A
  [[ $value == *.* ]] && head=${value%.*}.
  last=${value##*.}
  [[ ${last:0:1} == A ]] && swap=B
  printf '%s%s%s' "$head" "$swap" "${last:1}"
}

check_edge() { # label url header [curl option...]: a credential header must be checked, an Origin echoed, so no row benchmarks a route that skips it
  local label=$1 url=$2 header=$3 name value code
  shift 3
  name=${header%%:*}; value=${header#*: }
  case ${name,,} in
    authorization | x-api-key)
      code=$(curl -s "$@" -o /dev/null -w '%{http_code}' --max-time 5 "$url") || code=000
      [[ $code == 401 ]] || die "$label: GET $url without $name answered $code, not 401: the route does not check it (log: $gw_log)"
      code=$(curl -s "$@" -o /dev/null -w '%{http_code}' --max-time 5 -H "$name: $(tampered "$value")" "$url") || code=000
      [[ $code == 401 ]] || die "$label: GET $url with a forged $name answered $code, not 401: the route does not verify it (log: $gw_log)"
      ;;
    origin)
      tr -d '\r' < "$tmp/headers" | grep -qixF "access-control-allow-origin: $value" \
        || die "$label: GET $url with Origin: $value answered without Access-Control-Allow-Origin: $value (headers: $tmp/headers)"
      ;;
  esac
}

measure() { # scenario gateway-label path conns round [tool [header [transfer]]]: one warm-up and one measured run of the running gateway
  local scenario=$1 label=$2 path=$3 conns=$4 round=$5 tool=${6:-wrk} header=${7:-} transfer=${8:-} url code out rps p50 p99 errs ticks_before ticks_after
  local with_header=() curl_body=() wrk_script=() wrk_args=() method=GET file size got
  url="http://127.0.0.1:$gw_port$path"
  if [[ $tool == h2load ]]; then measure_h2 "$@"; return; fi
  [[ -n $header ]] && with_header=(-H "$header")
  # transfer up:FILE: every request POSTs FILE (curl without Expect: 100-continue, as wrk sends it).
  file=${transfer#*:}
  if [[ $transfer == up:* ]]; then
    method=POST
    curl_body=(--data-binary "@$file" -H 'Content-Type: application/octet-stream' -H 'Expect:')
    wrk_script=(-s "$here/post-body.lua"); wrk_args=(-- "$file")
  fi
  code=$(curl -s ${with_header[@]+"${with_header[@]}"} ${curl_body[@]+"${curl_body[@]}"} -D "$tmp/headers" -o "$tmp/body" -w '%{http_code}' --max-time 5 "$url") || code=000
  if [[ $code != 200 ]]; then
    { head -c 500 "$tmp/body"; printf '\n'; } >&2 2>/dev/null || true
    tail -n 20 "$gw_log" >&2 || true
    die "$label: $method $url${header:+ with ${header%%:*}} answered $code, not 200 (log: $gw_log)"
  fi
  # transfer down:FILE: the answer must be FILE byte for byte; up:FILE: the stub answers the bytes it read
  # for the request ($request_length: line, headers and body), which must cover the whole body.
  case $transfer in
    down:*)
      cmp -s "$tmp/body" "$file" \
        || die "$label: GET $url answered 200 with $(wc -c < "$tmp/body") bytes that are not the $(wc -c < "$file") bytes of $file (log: $gw_log)"
      ;;
    up:*)
      size=$(wc -c < "$file"); got=$(tr -cd 0-9 < "$tmp/body" | head -c 18)
      [[ -n $got ]] && ((got >= size)) \
        || die "$label: POST $url answered 200, but the upstream read ${got:-no count of} bytes for it, fewer than the body's $size (answer: $tmp/body, log: $gw_log)"
      ;;
  esac
  if grep -q '_degraded' "$tmp/body"; then note "warning: $label: $url answered a degraded body: $(head -c 300 "$tmp/body")"; fi
  [[ -n $header ]] && check_edge "$label" "$url" "$header"
  note "$scenario / $label / $conns conns / run $round of $rounds: warm-up ${warmup_secs}s, then ${secs}s"
  timeout $((warmup_secs + 30)) taskset -c "$load_cpus" wrk -t1 -c"$conns" -d"${warmup_secs}s" ${with_header[@]+"${with_header[@]}"} \
    ${wrk_script[@]+"${wrk_script[@]}"} "$url" ${wrk_args[@]+"${wrk_args[@]}"} > /dev/null 2>&1 \
    || die "$label: warm-up wrk against $url failed or hung"
  ticks_before=$(cpu_ticks "$gw_pid")
  out=$(timeout $((secs + 30)) taskset -c "$load_cpus" wrk -t1 -c"$conns" -d"${secs}s" --latency ${with_header[@]+"${with_header[@]}"} \
    ${wrk_script[@]+"${wrk_script[@]}"} "$url" ${wrk_args[@]+"${wrk_args[@]}"} 2>&1) \
    || { printf '%s\n' "$out" >&2; die "$label: wrk against $url failed or hung"; }
  ticks_after=$(cpu_ticks "$gw_pid")
  printf '### %s / %s / %s conns / run %s of %s\n%s\n\n' "$scenario" "$label" "$conns" "$round" "$rounds" "$out" >> "$raw"
  rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  # Socket errors: connect A, read B, write C, timeout D  /  Non-2xx or 3xx responses: E
  errs=$(awk '/Socket errors:/ {e += $4 + $6 + $8 + $10} /Non-2xx or 3xx responses:/ {e += $NF} END {print e + 0}' <<<"$out")
  [[ -n $rps && -n $p50 && -n $p99 ]] || { printf '%s\n' "$out" >&2; die "$label: could not parse wrk output"; }
  runs_of[$label]+="$rps $p50 $p99"$'\n'
  errors_of[$label]=$((${errors_of[$label]:-0} + errs))
  requests_of[$label]=$((${requests_of[$label]:-0} + $(awk '/ requests in / {print $1}' <<<"$out")))
  ticks_of[$label]=$((${ticks_of[$label]:-0} + ticks_after - ticks_before))
}

measure_h2() { # as measure, over HTTP/2 with prior knowledge: h2load with conns "CxM" (C connections, M streams each)
  local scenario=$1 label=$2 path=$3 conns=$4 round=$5 header=${7:-} url code out rps mean errs ticks_before ticks_after c m
  local with_header=()
  url="http://127.0.0.1:$gw_h2_port$path"
  c=${conns%x*}; m=${conns#*x}
  [[ -n $header ]] && with_header=(-H "$header")
  code=$(curl -s --http2-prior-knowledge ${with_header[@]+"${with_header[@]}"} -D "$tmp/headers" -o "$tmp/body" -w '%{http_code} %{http_version}' --max-time 5 "$url") || code=000
  if [[ $code != "200 2" ]]; then
    tail -n 20 "$gw_log" >&2 || true
    die "$label: GET $url over HTTP/2 answered '$code', not '200 2' (log: $gw_log)"
  fi
  [[ -n $header ]] && check_edge "$label" "$url" "$header" --http2-prior-knowledge
  note "$scenario / $label / $conns streams / run $round of $rounds: warm-up ${warmup_secs}s, then ${secs}s"
  timeout $((warmup_secs + 30)) taskset -c "$load_cpus" h2load -t1 -c"$c" -m"$m" -D"$warmup_secs" ${with_header[@]+"${with_header[@]}"} "$url" > /dev/null 2>&1 \
    || die "$label: warm-up h2load against $url failed or hung"
  ticks_before=$(cpu_ticks "$gw_pid")
  out=$(timeout $((secs + 30)) taskset -c "$load_cpus" h2load -t1 -c"$c" -m"$m" -D"$secs" ${with_header[@]+"${with_header[@]}"} "$url" 2>&1) \
    || { printf '%s\n' "$out" >&2; die "$label: h2load against $url failed or hung"; }
  ticks_after=$(cpu_ticks "$gw_pid")
  printf '### %s / %s / %s streams / run %s of %s\n%s\n\n' "$scenario" "$label" "$conns" "$round" "$rounds" "$out" >> "$raw"
  # finished in 8.00s, 12345.67 req/s, ...  /  requests: N total, N started, N done, N succeeded, F failed, E errored, T timeout
  rps=$(awk '/^finished in/ {sub(/,/, "", $4); printf "%.0f", $4}' <<<"$out")
  # h2load reports no percentiles: its mean time per request stands in the p50 column, marked.
  mean=$(awk '/^time for request:/ {print "mean " $6}' <<<"$out")
  errs=$(awk '/^requests:/ {gsub(/,/, ""); print $10 + $12 + $14}' <<<"$out")
  [[ -n $rps && -n $mean && -n $errs ]] || { printf '%s\n' "$out" >&2; die "$label: could not parse h2load output"; }
  runs_of[$label]+="$rps ${mean// /_} -"$'\n'
  errors_of[$label]=$((${errors_of[$label]:-0} + errs))
  requests_of[$label]=$((${requests_of[$label]:-0} + $(awk '/^requests:/ {print $6}' <<<"$out")))
  ticks_of[$label]=$((${ticks_of[$label]:-0} + ticks_after - ticks_before))
}

row() { # scenario gateway-label conns [transfer]: the table row of the label's runs
  local scenario=$1 label=$2 conns=$3 transfer=${4:-} rps p50 p99 sorted median mibs cpu_us=- requests=${requests_of[$2]:-0}
  # CPU time the gateway spent per answered request over all its runs (user + kernel), the figure
  # that does not depend on how busy the load generator and the upstreams left the machine.
  if ((requests > 0)); then cpu_us=$((${ticks_of[$label]} * 1000000 / ticks_per_second / requests)); fi
  # The median run by req/s gives the row's figures; the range shows how far the runs spread.
  sorted=$(printf '%s' "${runs_of[$label]}" | sort -n -k1,1)
  median=$(sed -n "$(((rounds + 1) / 2))p" <<<"$sorted")
  read -r rps p50 p99 <<<"$median"
  if ((rounds > 1)); then
    rps="$rps ($(head -n1 <<<"$sorted" | cut -d' ' -f1)-$(tail -n1 <<<"$sorted" | cut -d' ' -f1))"
  fi
  # A row moving a payload also gives the median run's payload throughput: req/s x the payload's size.
  if [[ -n $transfer ]]; then
    mibs=$(awk -v r="${median%% *}" -v b="$(wc -c < "${transfer#*:}")" 'BEGIN {printf "%.0f", r * b / 1048576}')
    rps="$rps, $mibs MiB/s"
  fi
  rows+=("| $scenario | $label | $conns | $rps | $cpu_us | ${p50//_/ } | $p99 | ${errors_of[$label]} |")
}

# scenario label | path | connections (HTTP/2: connections x streams each) | load tool | setup | request header | transfer
# setup: empty for the plain gateways; edge (JWT and API key routes), cors or 2cores for the variants start_gw knows.
# The header goes on every request, the curl check's and wrk's (or h2load's).
# transfer: down:FILE, the answer is FILE (checked byte for byte), or up:FILE, every request POSTs FILE (wrk -s
# post-body.lua); either row's req/s cell adds the payload's MiB/s. The 1 MiB rows run 16 connections, not 64: 16
# bodies in flight already keep the gateway's CPU busy (a request is a MiB of reads and writes), and 64 only
# queue behind them, moving no more MiB/s with several times the latency.
payload=$tmp/files/1mib.bin
scenarios=(
  "proxy|/proxy/users/u1|64|wrk"
  "proxy, 1 MiB response (streamed)|/proxy/files/1mib.bin|16|wrk|||down:$payload"
  "proxy, 1 MiB request body (streamed upload)|/proxy/upload/1mib|16|wrk|||up:$payload"
  "3-call aggregation|/dashboard|64|wrk"
  "3-call aggregation, 50 ms upstreams|/dashboard-slow|64|wrk"
  "3-call aggregation, 50 ms upstreams|/dashboard-slow|256|wrk"
  "3-call aggregation over HTTP/2 (h2c)|/dashboard|8x8|h2load"
  "3-call aggregation, one call gRPC|/dashboard-grpc|64|wrk"
  "3-call aggregation, JWT HS256|/dashboard-jwt|64|wrk|edge|Authorization: Bearer $hs_token"
  "3-call aggregation, JWT ES256|/dashboard-jwt|64|wrk|edge|Authorization: Bearer $es_token"
  "3-call aggregation, API key + rate limit|/dashboard-key|64|wrk|edge|X-Api-Key: $api_key"
  "3-call aggregation, CORS (Origin)|/dashboard|64|wrk|cors|Origin: $cors_origin"
  "3-call aggregation, both cores shared with wrk and stubs|/dashboard|64|wrk|2cores"
)

# Within a scenario the gateways take turns, one run each per round (each restarted for its run), so
# a slow spell of the shared machine falls on all of them rather than on whichever ran then.
for s in "${scenarios[@]}"; do
  IFS='|' read -r scenario path conns tool setup header transfer <<<"$s"
  if [[ -n ${BENCH_MATCH:-} ]] && ! grep -qE -- "$BENCH_MATCH" <<<"$scenario"; then continue; fi
  runs_of=() requests_of=() ticks_of=() errors_of=()
  gateways=()
  nginx_label="nginx + njs"; [[ $path == /proxy/* ]] && nginx_label="nginx (proxy_pass)"
  if [[ -n $setup ]]; then
    # A variant pairs one nginx with one of ours: edge.js's locations are in the plain nginx conf,
    # cors and 2cores have confs of their own.
    nginx_kind=nginx-$setup ours_label=mobile-bff
    [[ $setup == edge ]] && nginx_kind=nginx
    [[ $setup == 2cores ]] && nginx_label="nginx + njs, 2 workers" ours_label="mobile-bff, 2 threads"
    ((want_nginx)) && gateways+=("$nginx_kind|$nginx_label")
    ((want_ours)) && gateways+=("ours-$setup|$ours_label")
  else
    # nginx + njs cannot call a gRPC service: the gRPC row has no peer (compare it with the 3-call row).
    ((want_nginx)) && [[ $path != /dashboard-grpc ]] && gateways+=("nginx|$nginx_label")
    if ((want_ours)) && [[ $path == /dashboard-grpc ]]; then
      gateways+=("ours-grpc|mobile-bff")
    elif ((want_ours)) && [[ $tool == h2load ]]; then
      gateways+=("ours-h2|mobile-bff")
    elif ((want_ours)); then
      gateways+=("ours|mobile-bff")
      # (bench-protected.yaml has no routes for the 1 MiB rows, which are about moving bytes, not protection.)
      [[ $conns == 64 && $path != /dashboard-slow && -z $transfer ]] && gateways+=("ours-protected|mobile-bff, protected + metrics")
      # Tracing off (the plain row) against tracing on, unsampled and sampled, in the same rounds.
      [[ $path == /dashboard ]] && gateways+=("ours-traced-0|mobile-bff, tracing on, sample 0%" "ours-traced-100|mobile-bff, tracing on, sample 100%")
    fi
  fi
  for round in $(seq "$rounds"); do
    for g in "${gateways[@]}"; do
      IFS='|' read -r kind label <<<"$g"
      start_gw "$kind"
      measure "$scenario" "$label" "$path" "$conns" "$round" "$tool" "$header" "$transfer"
      stop_gw
    done
  done
  for g in "${gateways[@]}"; do
    IFS='|' read -r kind label <<<"$g"
    row "$scenario" "$label" "$conns" "$transfer"
  done
done

# --- report --------------------------------------------------------------------------------------------------------
cpu=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
nginx_ver=$(nginx -v 2>&1 | sed 's|^nginx version: ||')
report=$(
  printf '| scenario | gateway | conns | req/s | CPU us/req | p50 | p99 | errors |\n'
  printf '|---|---|---|---|---|---|---|---|\n'
  printf '%s\n' "${rows[@]}"
  printf '\nMachine: %s CPUs (nproc), %s; %s; wrk -t1 (HTTP/2 rows: h2load -t1, whose mean stands in the p50 column; 1 MiB rows: req/s, then the payload MiB/s of the median run), %s run(s) of %s s per row after a %s s warm-up; %s\n' \
    "$(nproc)" "${cpu:-unknown CPU}" "$nginx_ver" "$rounds" "$secs" "$warmup_secs" "$(date -u '+%Y-%m-%d %H:%M UTC')"
)
printf '%s\n' "$report" > "$here/results/latest.md"
printf '\n%s\n' "$report"
note "written to bench/results/latest.md (raw wrk output: bench/results/latest-wrk.txt)"
