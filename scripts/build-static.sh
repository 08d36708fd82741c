#!/usr/bin/env bash
# Builds the four BFF release binaries with the Swift runtime linked in (--static-swift-stdlib), as
# deploy/Dockerfile does, into .build-static/ so the debug build in .build/ is left alone. Prints
# each binary's size and checks that none needs a libswift*.so at run time. Takes 10-16 minutes on
# two cores from scratch; run it with `nice -n 19` beside other work.
#
#   scripts/build-static.sh
set -euo pipefail
cd "$(dirname "$0")/.."

products=(mobile-bff web-bff partner-bff admin-bff)
scratch=.build-static

started=$(date +%s)
# One invocation per product: `swift build` takes one --product at a time, and the shared scratch
# path means the later ones only link.
for product in "${products[@]}"; do
  swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product "$product"
done
bin=$(swift build -c release --static-swift-stdlib --scratch-path "$scratch" --show-bin-path)
elapsed=$(($(date +%s) - started))

failed=0
echo
printf '%-12s %10s  %s\n' binary size 'dynamic libraries (ldd)'
for product in "${products[@]}"; do
  binary="$bin/$product"
  size=$(du -h "$binary" | cut -f1)
  libraries=$(ldd "$binary" | awk '{print $1}' | tr '\n' ' ')
  printf '%-12s %10s  %s\n' "$product" "$size" "$libraries"
  if ldd "$binary" | grep -q 'libswift'; then
    echo "scripts/build-static.sh: $binary still links a libswift*.so; check that --static-swift-stdlib reached the link step" >&2
    failed=1
  fi
done
echo
if ((failed)); then exit 1; fi
echo "no libswift*.so in any binary; built in ${elapsed}s into $bin"
