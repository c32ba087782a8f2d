#!/usr/bin/env bash
# Connectors behind live ingest: sluice pinned to core 0 takes OTLP traces
# from `sluice loadgen` (core 1: 200 services x 20 operations, offered
# faster than one core accepts, NAME_CHURN of root spans (default 0.02)
# named after a route never used before) into a traces pipeline whose
# exporters are the spanmetrics and servicegraph connectors; their metrics
# go out by prometheusremotewrite to a counting sink (`forward_peer sink`,
# core 1). Every 10 s: spans accepted per second, each connector's lag
# (records and seconds, sluice_exporter_lag_*) and sluice's RSS; at the
# end, the highest and last lag, and RSS first/max/last with the change per
# minute over the second half, so a reader sees whether lag is bounded and
# memory flat while the spanmetrics cardinality limit is engaged.
#
# Usage: bench/connectors_live.sh [build-dir] [duration, e.g. 10m]
set -euo pipefail
build=${1:-build/release}
duration=${2:-10m}
bin="$build/src/app/sluice"
peer="$build/bench/forward_peer"
work=$(mktemp -d)
source "$(dirname "$0")/lib.sh"
pids=()
trap 'kill "$pid" "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

start_sink
{
cat <<YAML
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
connectors:
  spanmetrics:
    dimensions:
      - name: http.route
    metrics_flush_interval: 15s
  servicegraph:
    metrics_flush_interval: 15s
exporters:
  prometheusremotewrite:
    endpoint: http://$sink/api/v1/write
YAML
storage_and_service
cat <<YAML
    traces:
      receivers: [otlp]
      exporters: [spanmetrics, servicegraph]
    metrics:
      receivers: [spanmetrics, servicegraph]
      exporters: [prometheusremotewrite]
YAML
} > "$work/sluice.yaml"

start_pinned_sluice
http=$(listen_address otlp http)
admin=$(grep -o 'admin=[0-9.:]*' "$work/sluice.log" | head -1 | cut -d= -f2)

metric() {  # metric SERIES: its value in sluice's /metrics, 0 when absent
  curl -s "http://$admin/metrics" | awk -v s="$1" 'index($0, s " ") == 1 { print $2; f = 1 } END { if (!f) print 0 }'
}

taskset -c 1 "$bin" loadgen --no-progress --duration "$duration" --ramp 5s --services 200 \
  --operations 20 --name-churn "${NAME_CHURN:-0.02}" --rate "${RATE:-10000}" --connections 16 \
  --endpoint "$http" > "$work/loadgen.out" &
lg=$!
start=$(date +%s)
last_spans=0
last_t=0
: > "$work/samples"
while kill -0 "$lg" 2>/dev/null; do
  sleep 10
  kill -0 "$lg" 2>/dev/null || break
  t=$(($(date +%s) - start))
  spans=$(metric 'sluice_receiver_accepted_spans_total{receiver="otlp"}')
  rate=$(echo "($spans - $last_spans) / ($t - $last_t)" | bc)
  last_spans=$spans
  last_t=$t
  sm_lag=$(metric 'sluice_exporter_lag_records{exporter="spanmetrics"}')
  sm_s=$(metric 'sluice_exporter_lag_seconds{exporter="spanmetrics"}')
  sg_lag=$(metric 'sluice_exporter_lag_records{exporter="servicegraph"}')
  sg_s=$(metric 'sluice_exporter_lag_seconds{exporter="servicegraph"}')
  series=$(metric 'sluice_connector_series{connector="spanmetrics"}')
  rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  echo "$t $rate $sm_lag $sm_s $sg_lag $sg_s $rss $series" >> "$work/samples"
  printf 't=%ss spans_per_s=%s spanmetrics_lag_records=%s spanmetrics_lag_s=%s servicegraph_lag_records=%s servicegraph_lag_s=%s sluice_rss_kib=%s spanmetrics_series=%s\n' \
    "$t" "$rate" "$sm_lag" "$sm_s" "$sg_lag" "$sg_s" "$rss" "$series"
done
wait "$lg"
echo "loadgen: $(cat "$work/loadgen.out")"
awk '{ t[NR] = $1; r[NR] = $7; if (NR == 1 || $7 < lo) lo = $7; if ($7 > hi) hi = $7
       if ($3 > sml) sml = $3; if ($4 > sms) sms = $4; if ($5 > sgl) sgl = $5; if ($6 > sgs) sgs = $6
       if (NR > 1) { sum += $2; n++ } }
  END {
    h = int(NR / 2) + 1
    slope = (NR > h && t[NR] > t[h]) ? (r[NR] - r[h]) / ((t[NR] - t[h]) / 60) : 0
    printf "spans_per_s_mean=%d\n", n ? sum / n : 0
    printf "lag_max spanmetrics_records=%d spanmetrics_s=%.3f servicegraph_records=%d servicegraph_s=%.3f\n", sml, sms, sgl, sgs
    printf "rss_kib first=%d min=%d max=%d last=%d second_half_change_kib_per_min=%.1f samples=%d\n",
      r[1], lo, hi, r[NR], slope, NR
  }' "$work/samples"
echo "sluice peak RSS (VmHWM): $(awk '/VmHWM/ {print $2}' /proc/$pid/status) KiB"
echo "sink: $(tail -1 "$work/sink.log")"
