#!/usr/bin/env bash
# Memory under a steady fleet: sluice pinned to core 0 with `fsync: interval`,
# `sluice loadgen` on core 1 simulating 200 services at 50 spans/s each (and
# what it sends then accepted) for DURATION (default 10m). Samples sluice's RSS
# every 10 s and prints each sample, then the first, lowest, highest and last
# and the change per minute over the second half, so a reader sees whether it
# is flat.
#
# Usage: bench/soak.sh [build-dir] [duration, e.g. 10m]
set -euo pipefail
build=${1:-build/release}
duration=${2:-10m}
bin="$build/src/app/sluice"
work=$(mktemp -d)
source "$(dirname "$0")/lib.sh"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

{
cat <<YAML
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
YAML
storage_and_service
cat <<YAML
    traces:
      receivers: [otlp]
YAML
} > "$work/sluice.yaml"

start_pinned_sluice
http=$(listen_address otlp http)

taskset -c 1 "$bin" loadgen --no-progress --duration "$duration" --ramp 10s --services 200 \
  --rate 50 --connections 16 --endpoint "$http" > "$work/loadgen.out" &
lg=$!
start=$(date +%s)
: > "$work/rss"
while kill -0 "$lg" 2>/dev/null; do
  sleep 10
  kill -0 "$lg" 2>/dev/null || break
  t=$(($(date +%s) - start))
  r=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  echo "$t $r" >> "$work/rss"
  printf 't=%ss sluice_rss_kib=%s\n' "$t" "$r"
done
wait "$lg"
echo "loadgen: $(cat "$work/loadgen.out")"
awk '{ t[NR] = $1; r[NR] = $2; if (NR == 1 || $2 < lo) lo = $2; if ($2 > hi) hi = $2 }
  END {
    h = int(NR / 2) + 1
    slope = (NR > h && t[NR] > t[h]) ? (r[NR] - r[h]) / ((t[NR] - t[h]) / 60) : 0
    printf "rss_kib first=%d min=%d max=%d last=%d second_half_change_kib_per_min=%.1f samples=%d\n",
      r[1], lo, hi, r[NR], slope, NR
  }' "$work/rss"
echo "sluice peak RSS (VmHWM): $(awk '/VmHWM/ {print $2}' /proc/$pid/status) KiB"
