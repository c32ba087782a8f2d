#!/usr/bin/env bash
# Exporter isolation: the CPU a `prometheusremotewrite` exporter spends per
# sample delivered, fed RW_RATE samples/s (default 10000) by `forward_peer
# remote-write`, once alone and once while a logs pipeline (otlp →
# `otlphttp`) takes all the OTLP logs `sluice loadgen` can send. Both
# pipelines are configured in every run; only the logs load differs. sluice
# is pinned to core 0; the clients and the counting sink (`forward_peer sink`)
# share core 1. Each run starts sluice afresh, lets WARMUP seconds (default 5)
# pass, then measures for `seconds`: the utime+stime of the exporter's threads
# (`read-prometheus`, `send-<n>-promethe`: names are cut to 15 characters),
# the samples sluice accepted and delivered to the sink, the log records it
# accepted, and its RSS at the end. Runs alternate alone / with logs ROUNDS times
# (default 2); the ratio (with logs / alone) of CPU µs per delivered sample
# is taken over all runs of each kind.
#
# Usage: bench/isolation.sh [build-dir] [seconds]   (built with -DSLUICE_BENCH=ON)
set -euo pipefail
build=${1:-build/release}
seconds=${2:-30}
warmup=${WARMUP:-5}
rounds=${ROUNDS:-2}
rw_rate=${RW_RATE:-10000}
bin="$build/src/app/sluice"
peer="$build/bench/forward_peer"
hz=$(getconf CLK_TCK)
work=$(mktemp -d)
source "$(dirname "$0")/lib.sh"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

start_sink

{
  relay_components "$sink"
  storage_and_service
  cat <<YAML
    logs:
      receivers: [otlp]
      exporters: [otlphttp]
    metrics:
      receivers: [prometheus_remote_write]
      exporters: [prometheusremotewrite]
YAML
} > "$work/sluice.yaml"

samples() { curl -s "http://$sink/count" | awk '{print $3}'; }
accepted() {  # log_records | metric_points: items sluice's receivers accepted
  curl -s "http://$admin/metrics" |
    awk -v m="^sluice_receiver_accepted_$1_total" '$1 ~ m {s += $2} END {print s + 0}'
}
rate() { echo "($1) / ($t1 - $t0)" | bc -l; }  # per second of the measured window
exporter_ticks() {  # utime + stime of the remote write exporter's threads
  for t in /proc/$pid/task/*; do
    case "$(cat "$t/comm" 2>/dev/null)" in
      read-prometheus | send-*-promethe) sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}' ;;
    esac
  done | awk '{s += $1} END {print s + 0}'
}

run() {  # alone | logs
  rm -rf "$work/data"
  start_pinned_sluice
  pids+=($pid)
  local rw otlp admin
  rw=$(listen_address prometheus_remote_write http)
  otlp=$(listen_address otlp http)
  admin=$(grep -o 'admin=[0-9.:]*' "$work/sluice.log" | cut -d= -f2)
  local clients=()
  taskset -c 1 "$peer" remote-write --endpoint "$rw" --rate "$rw_rate" --connections 4 \
    --seconds $((warmup + seconds + 1)) > /dev/null &
  clients+=($!); pids+=($!)
  if [ "$1" = logs ]; then
    taskset -c 1 "$bin" loadgen --no-progress --duration $((warmup + seconds + 1))s --ramp 1s \
      --services 200 --connections 16 --endpoint "$otlp" --rate 0 --logs-rate 100000 \
      --interval 1ms > /dev/null &
    clients+=($!); pids+=($!)
  fi
  sleep "$warmup"
  local k0 s0 a0 l0 t0 k1 s1 a1 l1 t1 rss
  k0=$(exporter_ticks); s0=$(samples); a0=$(accepted metric_points); l0=$(accepted log_records)
  t0=$(date +%s.%N)
  sleep "$seconds"
  k1=$(exporter_ticks); s1=$(samples); a1=$(accepted metric_points); l1=$(accepted log_records)
  t1=$(date +%s.%N)
  rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  wait "${clients[@]}"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$1 $((k1 - k0)) $((s1 - s0))" >> "$work/runs"
  printf '%-6s cpu_us_per_sample=%.3f exporter_cpu_ms=%d samples_accepted_per_s=%.0f samples_delivered_per_s=%.0f logs_accepted_per_s=%.0f sluice_rss_kib=%s\n' \
    "$1" "$(echo "($k1 - $k0) * 1000000 / $hz / ($s1 - $s0)" | bc -l)" $(((k1 - k0) * 1000 / hz)) \
    "$(rate "$a1 - $a0")" "$(rate "$s1 - $s0")" "$(rate "$l1 - $l0")" "$rss"
}

echo "== remote write exporter at ${rw_rate} samples/s, alone and beside OTLP logs as fast as loadgen sends; ${seconds}s each =="
echo "load: $(uptime)"
for _ in $(seq "$rounds"); do
  run alone
  run logs
done
echo "load: $(uptime)"
awk -v hz="$hz" '{k[$1] += $2; s[$1] += $3}
  END {a = k["alone"] * 1e6 / hz / s["alone"]; l = k["logs"] * 1e6 / hz / s["logs"]
       printf "cpu_us_per_sample alone=%.3f with_logs=%.3f ratio=%.3f (goal <= 1.10)\n", a, l, l / a}' "$work/runs"
