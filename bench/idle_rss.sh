#!/usr/bin/env bash
# Idle memory: sluice's resident set (VmRSS, split into anonymous and
# file-backed pages) once it has started and sat idle, in three
# configurations, beside references measured in the same run:
#   - `floor`: bench/idle_floor, a C++ program that links only the C and C++
#     runtimes and sleeps: the least any dynamically linked C++ process holds
#     on this machine;
#   - vmagent (when installed): a peer relay, idle with one remote write
#     destination.
# Configurations:
#   - `otlp-http`: one OTLP/HTTP receiver, the log, a file exporter;
#   - `default`: the embedded default of `make run` (OTLP gRPC and HTTP, the
#     query layer and the web UI);
#   - `otlp-http, after load`: the first, after 5 s of `sluice loadgen` and
#     IDLE seconds of rest (the heap given back, staging buffers released).
# Each process is read IDLE (default 5) seconds after it serves.
#
# Usage: bench/idle_rss.sh [build-dir]
set -euo pipefail
build=${1:-build/release}
bin=$(realpath "$build/src/app/sluice")
floor="$build/bench/idle_floor"
idle=${IDLE:-5}
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

rss() {  # pid -> "VmRSS RssAnon RssFile" in KiB
  awk '/^VmRSS/ {v=$2} /^RssAnon/ {a=$2} /^RssFile/ {f=$2} END {print v, a, f}' "/proc/$1/status"
}
row() {  # name, pid
  read -r v a f < <(rss "$2")
  awk -v n="$1" -v v="$v" -v a="$a" -v f="$f" \
    'BEGIN { printf "%-24s %8.1f %8.1f %8.1f\n", n, v / 1024, a / 1024, f / 1024 }'
}
wait_for() {  # file, pattern
  for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1" >&2
  return 1
}

cat > "$work/otlp.yaml" <<YAML
storage:
  directory: $work/otlp-data
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  file:
    path: $work/out.jsonl
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
YAML

printf '%-24s %8s %8s %8s\n' "process (MiB)" VmRSS anon file

"$floor" > /dev/null & pids+=($!)
sleep "$idle"
row "floor (reference)" "${pids[-1]}"

"$bin" run --config "$work/otlp.yaml" > "$work/otlp.log" 2>&1 & pids+=($!)
otlp_pid=${pids[-1]}
wait_for "$work/otlp.log" 'admin='
sleep "$idle"
row "sluice otlp-http" "$otlp_pid"

mkdir -p "$work/default"
(cd "$work/default" && exec "$bin" run > "$work/default.log" 2>&1) & pids+=($!)
wait_for "$work/default.log" 'admin='
sleep "$idle"
row "sluice default" "${pids[-1]}"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

http=$(grep -o 'receiver=otlp address="http [0-9.:]*' "$work/otlp.log" | grep -o '[0-9.]*:[0-9]*$')
"$bin" loadgen --no-progress --duration 5s --endpoint "$http" --protocol http > /dev/null
sleep "$idle"
row "sluice otlp-http, loaded" "$otlp_pid"
peak=$(awk '/^VmHWM/ {print $2}' "/proc/$otlp_pid/status")

if command -v vmagent > /dev/null; then
  vmagent -httpListenAddr=127.0.0.1:0 -remoteWrite.url=http://127.0.0.1:9/api/v1/write \
    -remoteWrite.tmpDataPath="$work/vmagent" -loggerLevel=ERROR > "$work/vmagent.log" 2>&1 &
  pids+=($!)
  sleep "$((idle + 2))"
  row "vmagent (peer)" "${pids[-1]}"
fi
awk -v p="$peak" 'BEGIN { printf "sluice otlp-http peak under load: %.1f MiB\n", p / 1024 }'
