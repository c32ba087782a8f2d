#!/usr/bin/env bash
# Scraping at scale: TARGETS targets (10,000) of SAMPLES samples (1,000)
# every INTERVAL (15s), served by `scrape_farm` on core 1; the scraper on
# core 0 forwards everything by remote write to a counting sink
# (`forward_peer sink`, core 1). Reports for sluice, and for vmagent
# scraping the same targets when it is installed (Debian's
# victoria-metrics package), measured in the same run: samples per second
# scraped, CPU time per sample, peak RSS and threads. Reference in the same
# run: the exposition parser alone (bench/exposition_bench).
#
# Usage: bench/scrape.sh [build-dir] [seconds]
set -euo pipefail
build=${1:-build/release}
seconds=${2:-60}
targets=${TARGETS:-10000}
samples=${SAMPLES:-1000}
interval=${INTERVAL:-15s}
bin="$build/src/app/sluice"
peer="$build/bench/forward_peer"
farm_bin="$build/bench/scrape_farm"
work=$(mktemp -d)
pids=()
source "$(dirname "$0")/lib.sh"
trap 'kill "${pids[@]}" "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

taskset -c 1 "$farm_bin" --samples "$samples" > "$work/farm.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q 'farm=' "$work/farm.log" && break; sleep 0.1; done
farm=$(sed -n 's/^farm=//p' "$work/farm.log")
start_sink

# One target per path, each with its path as a label (relabel_configs keep
# it), so their series are distinct.
python3 - "$targets" "$farm" > "$work/targets.json" <<'PY'
import json, sys
n, farm = int(sys.argv[1]), sys.argv[2]
print(json.dumps([{"targets": [farm], "labels": {"__metrics_path__": "/t/%d" % i}}
                  for i in range(n)]))
PY

# Peak RSS (KiB) and CPU ticks of a process over `seconds`, sampled each
# second; prints "peak_rss_kib cpu_ticks threads".
watch_process() {  # pid seconds
  local p=$1 s=$2 peak=0 rss start end
  start=$(awk '{print $14 + $15}' "/proc/$p/stat")
  for _ in $(seq "$s"); do
    sleep 1
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$p/status")
    [ "$rss" -gt "$peak" ] && peak=$rss
  done
  end=$(awk '{print $14 + $15}' "/proc/$p/stat")
  echo "$peak $((end - start)) $(ls "/proc/$p/task" | wc -l)"
}

sink_samples() { curl -s "http://$sink/count" | awk '{print $3}'; }

report() {  # name peak ticks threads samples
  local hz; hz=$(getconf CLK_TCK)
  awk -v n="$1" -v peak="$2" -v ticks="$3" -v th="$4" -v s="$5" -v secs="$seconds" -v hz="$hz" \
    'BEGIN { printf "%-8s samples_per_second=%.0f cpu_ns_per_sample=%.0f cpu_share=%.2f peak_rss_mib=%.1f threads=%d\n",
             n, s / secs, (s > 0 ? ticks / hz * 1e9 / s : 0), ticks / hz / secs, peak / 1024, th }'
}

echo "== reference (same run): the exposition parser alone =="
"$build/bench/exposition_bench" --benchmark_min_time=0.5 2>/dev/null | grep -E '^BM_' || true
echo
echo "== $targets targets x $samples samples every $interval, ${seconds}s after a first round =="

# One Prometheus configuration for both scrapers: vmagent reads it as it is,
# sluice under its receiver's `config:`.
cat > "$work/prometheus.yml" <<YAML
global:
  scrape_interval: $interval
scrape_configs:
  - job_name: farm
    file_sd_configs:
      - files: ['$work/targets.json']
    relabel_configs:
      - source_labels: [__metrics_path__]
        target_label: path
YAML

{
printf 'receivers:\n  prometheus:\n    config:\n'
sed 's/^/      /' "$work/prometheus.yml"
cat <<YAML
exporters:
  prometheusremotewrite:
    endpoint: http://$sink/api/v1/write
YAML
storage_and_service "  retention:
    max_bytes: 8GiB"
cat <<YAML
    metrics:
      receivers: [prometheus]
      exporters: [prometheusremotewrite]
YAML
} > "$work/sluice.yaml"
start_pinned_sluice
round=$(( ${interval%s} + 2 ))
# measure NAME: after a first round (every target scraped once: connections
# open, series known), what $pid does over `seconds`.
measure() {
  local before after peak ticks threads
  sleep "$round"
  before=$(sink_samples)
  read -r peak ticks threads < <(watch_process "$pid" "$seconds")
  after=$(sink_samples)
  report "$1" "$peak" "$ticks" "$threads" "$((after - before))"
}
measure sluice
scrapes=$(curl -s "http://$(grep -o 'admin=[0-9.:]*' "$work/sluice.log" | cut -d= -f2)/metrics" |
  grep '^sluice_receiver_scrapes_total' | tr '\n' ' ')
echo "         $scrapes"
kill "$pid"; wait "$pid" 2>/dev/null || true
pid=

if command -v vmagent > /dev/null; then
  taskset -c 0 vmagent -promscrape.config="$work/prometheus.yml" \
    -remoteWrite.url="http://$sink/api/v1/write" -remoteWrite.tmpDataPath="$work/vmagent" \
    -httpListenAddr=127.0.0.1:0 -promscrape.suppressScrapeErrors > "$work/vmagent.log" 2>&1 &
  pid=$!
  measure vmagent
  kill "$pid"; wait "$pid" 2>/dev/null || true
  pid=
fi
