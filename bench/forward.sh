#!/usr/bin/env bash
# Forwarding throughput, end to end: sluice pinned to core 0 receives and
# forwards; the client (`sluice loadgen` or `forward_peer remote-write`) and a
# counting sink (`forward_peer sink`) share core 1. Reports items/s delivered
# to the sink while the load lasts, sluice's RSS, and the references measured
# in the same run (memcpy and the trace walker via wire_bench, raw O_DIRECT
# write via log_throughput). Then drains a backlog of BACKLOG_GIB (default 1)
# built while the destination was down, reporting the drain rate and peak RSS.
#
# Usage: bench/forward.sh [build-dir] [seconds]   (built with -DSLUICE_BENCH=ON)
set -euo pipefail
build=${1:-build/release}
seconds=${2:-20}
backlog_gib=${BACKLOG_GIB:-1}
bin="$build/src/app/sluice"
peer="$build/bench/forward_peer"
work=$(mktemp -d)
source "$(dirname "$0")/lib.sh"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

start_sink

config() {  # endpoint of the destination
  relay_components "$1"
  storage_and_service "  retention:
    max_bytes: 64GiB"
  cat <<YAML
    traces:
      receivers: [otlp]
      exporters: [otlphttp]
    logs:
      receivers: [otlp]
      exporters: [otlphttp]
    metrics:
      receivers: [prometheus_remote_write]
      exporters: [prometheusremotewrite]
YAML
}

start_sluice() {  # destination
  config "$1" > "$work/sluice.yaml"
  start_pinned_sluice
  pids+=($pid)
  otlp=$(listen_address otlp http)
  rw=$(listen_address prometheus_remote_write http)
}

count() {  # field: 1 spans, 2 logs, 3 samples
  curl -s "http://$sink/count" | awk -v f="$1" '{print $f}'
}
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
hwm() { awk '/VmHWM/ {print $2}' /proc/$pid/status; }

measure() {  # name, field, client command...
  local name=$1 field=$2; shift 2
  local before after t0 t1
  before=$(count "$field"); t0=$(date +%s.%N)
  local out
  out=$("$@")
  after=$(count "$field"); t1=$(date +%s.%N)
  printf '%-34s delivered_per_s=%.0f sluice_rss_kib=%s client: %s\n' "$name" \
    "$(echo "($after - $before) / ($t1 - $t0)" | bc -l)" "$(rss)" "$(echo "$out" | tr '\n' ' ')"
}

echo "== references (same run) =="
"$build/bench/wire_bench" --benchmark_filter='Memcpy|WalkTraces' --benchmark_min_time=0.5 2>/dev/null |
  grep -E '^BM_'
"$build/bench/log_throughput" --gib 0.5 2>/dev/null | grep -E '^raw'
echo
echo "== forwarding, sluice on core 0; client and counting sink on core 1 =="
start_sluice "$sink"
[ -n "${SKIP_RATES:-}" ] || measure "traces otlp/http -> otlphttp" 1 taskset -c 1 "$bin" loadgen --no-progress \
  --duration "${seconds}s" --ramp 1s --services 200 --connections 16 --endpoint "$otlp" \
  --rate 10000 --interval 10ms
[ -n "${SKIP_RATES:-}" ] || measure "logs otlp/http -> otlphttp" 2 taskset -c 1 "$bin" loadgen --no-progress \
  --duration "${seconds}s" --ramp 1s --services 200 --connections 16 --endpoint "$otlp" \
  --rate 0 --logs-rate 10000 --interval 10ms
# Remote write twice: offered at RW_RATE samples/s (default 3.5M, above the 3M
# to be kept up with), over 64 connections so that the offer does not wait on
# answers; then as fast as sluice accepts over 16, where ingest outruns
# delivery and the difference waits in the log.
[ -n "${SKIP_RATES:-}" ] || measure "remote_write -> remote_write @${RW_RATE:-3500000}/s" 3 \
  taskset -c 1 "$peer" remote-write --endpoint "$rw" --series 500 --seconds "$seconds" \
  --connections 64 --rate "${RW_RATE:-3500000}"
[ -n "${SKIP_RATES:-}" ] || measure "remote_write -> remote_write, unpaced" 3 taskset -c 1 "$peer" \
  remote-write --endpoint "$rw" --series 500 --seconds "$seconds" --connections 16
echo "sluice peak RSS (VmHWM) over the runs: $(hwm) KiB"
kill "$pid"; wait "$pid" 2>/dev/null || true

echo
echo "== draining a ${backlog_gib} GiB backlog built while the destination was down =="
rm -rf "$work/data"
start_sluice "127.0.0.1:1"
target=$((backlog_gib * 1024 * 1024 * 1024))
backlog_spans=0
while [ "$(du -sb "$work/data" | cut -f1)" -lt "$target" ]; do
  out=$(taskset -c 1 "$bin" loadgen --no-progress --duration 5s --ramp 0s --services 200 \
    --connections 16 --endpoint "$otlp" --rate 10000 --interval 10ms)
  backlog_spans=$((backlog_spans + $(echo "$out" | grep -o 'accepted=[0-9]*' | cut -d= -f2)))
done
echo "backlog build: sluice peak RSS (VmHWM) $(hwm) KiB with the destination down"
kill "$pid"; wait "$pid" 2>/dev/null || true
backlog=$(du -sb "$work/data" | cut -f1)
before=$(count 1); t0=$(date +%s.%N)
start_sluice "$sink"
peak=0
while :; do
  r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
  [ $(($(count 1) - before)) -ge "$backlog_spans" ] && break
  sleep 0.5
done
after=$(count 1); t1=$(date +%s.%N)
printf 'backlog_bytes=%s backlog_spans=%s drained_spans=%s drain_spans_per_s=%.0f drain_mib_per_s=%.1f peak_rss_kib=%s (VmHWM %s)\n' \
  "$backlog" "$backlog_spans" "$((after - before))" "$(echo "($after - $before) / ($t1 - $t0)" | bc -l)" \
  "$(echo "$backlog / 1048576 / ($t1 - $t0)" | bc -l)" "$peak" "$(hwm)"
