#!/bin/bash
# Container HEALTHCHECK: GET /health on a BFF's public listener and succeed on 200.
# bash's /dev/tcp does the HTTP, so the image carries no HTTP client (curl would add a dozen
# libraries and a general-purpose network tool to an internet-facing image).
#
#   bff-healthcheck              # the address in BFF_LISTEN (a 0.0.0.0 or [::] host means this host)
#   bff-healthcheck HOST:PORT    # another address, e.g. a demo service
set -euo pipefail

address="${1:-${BFF_LISTEN:-}}"
if [[ -z "$address" || "$address" != *:* ]]; then
  echo "bff-healthcheck: no HOST:PORT to probe; set BFF_LISTEN or pass the address as the argument" >&2
  exit 1
fi
host="${address%:*}"
port="${address##*:}"
case "$host" in
  "" | 0.0.0.0 | "[::]" | "::") host=127.0.0.1 ;;
esac
host="${host#[}"
host="${host%]}"

if ! exec 3<>"/dev/tcp/${host}/${port}"; then
  echo "bff-healthcheck: cannot connect to ${host}:${port}" >&2
  exit 1
fi
printf 'GET /health HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$host" >&3
status_line=""
IFS= read -r -t 2 status_line <&3 || true
read -r _ status _ <<<"$status_line"
if [[ "${status:-}" != 200 ]]; then
  echo "bff-healthcheck: GET http://${host}:${port}/health answered '${status_line%$'\r'}', expected HTTP 200" >&2
  exit 1
fi
