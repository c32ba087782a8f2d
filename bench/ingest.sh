#!/usr/bin/env bash
# Ingest throughput: sluice pinned to core 0, the client on core 1 (`sluice
# loadgen` for OTLP, `forward_peer remote-write` for remote write), log at
# `fsync: interval`. Reports accepted items/s, latency and sluice's RSS for
# OTLP traces over HTTP and gRPC, OTLP logs over HTTP and remote write, each
# beside the references measured in the same run (memcpy of the same request
# bytes via wire_bench, raw O_DIRECT write via log_throughput).
#
# QUERY=on turns the query layer (its index of traces and logs) on: run
# once with it and once without to see what indexing costs ingest.
#
# Usage: bench/ingest.sh [build-dir] [seconds]
set -euo pipefail
build=${1:-build/release}
seconds=${2:-20}
bin="$build/src/app/sluice"
peer="$build/bench/forward_peer"
work=$(mktemp -d)
source "$(dirname "$0")/lib.sh"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

{
cat <<YAML
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
      http:
        endpoint: 127.0.0.1:0
  prometheus_remote_write:
    endpoint: 127.0.0.1:0
YAML
storage_and_service
cat <<YAML
    traces:
      receivers: [otlp]
    logs:
      receivers: [otlp]
    metrics:
      receivers: [prometheus_remote_write]
YAML
if [ "${QUERY:-off}" = on ]; then printf 'query:\n  enabled: true\n'; fi
} > "$work/sluice.yaml"

start_pinned_sluice
http=$(listen_address otlp http)
grpc=$(listen_address otlp grpc)
rw=$(listen_address prometheus_remote_write http)

# sluice's CPU time so far (user + system, every thread), in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

run() {  # name, loadgen args...
  local name=$1; shift
  local out before after
  before=$(cpu_ticks)
  out=$(taskset -c 1 "$bin" loadgen --no-progress --duration "${seconds}s" --ramp 1s \
        --services 200 --connections 16 "$@")
  sleep 1  # what was accepted is indexed (QUERY=on) before the CPU time is read
  after=$(cpu_ticks)
  local rss accepted
  rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  accepted=$(sed -n 's/.* accepted=\([0-9]*\).*/\1/p' <<< "$out")
  # CPU per item varies less from run to run than items per second on a
  # shared machine: compare runs by both.
  printf '%-26s %s sluice_rss_kib=%s sluice_cpu_ns_per_item=%s\n' "$name" "$out" "$rss" \
    "$(( (after - before) * 1000000000 / $(getconf CLK_TCK) / (accepted > 0 ? accepted : 1) ))"
}

echo "== references (same run) =="
"$build/bench/wire_bench" --benchmark_filter='Memcpy|WalkTraces' --benchmark_min_time=0.5 2>/dev/null \
  | grep -E '^BM_'
"$build/bench/prw_bench" --benchmark_filter='Memcpy' --benchmark_min_time=0.5 2>/dev/null \
  | grep -E '^BM_'
"$build/bench/log_throughput" --gib 0.5 2>/dev/null | grep -E '^raw'
echo
echo "== ingest, sluice on core 0, loadgen on core 1, 200 services, 100 spans per request =="
# rate × interval = 100 items per request (about 28 KB of traces). The
# offered load, 200 × 20000 = 4M items/s, is twice the highest target, so
# the figure is what sluice takes, not what the generator was asked for.
run "traces otlp/http"  --endpoint "$http" --rate 20000 --interval 5ms
run "traces otlp/grpc"  --protocol grpc --endpoint "$grpc" --rate 20000 --interval 5ms
run "logs otlp/http"    --endpoint "$http" --rate 0 --logs-rate 20000 --interval 5ms
# Latency at half the 1M spans/s target: 200 services x 2500 spans/s.
run "traces otlp/http, 500k/s" --endpoint "$http" --rate 2500 --interval 40ms
out=$(taskset -c 1 "$peer" remote-write --endpoint "$rw" --series 500 --seconds "$seconds" \
      --connections 16)
printf '%-26s %s sluice_rss_kib=%s\n' "remote_write, 500 series" "$out" \
  "$(awk '/VmRSS/ {print $2}' /proc/$pid/status)"
