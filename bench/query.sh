#!/usr/bin/env bash
# The query layer on a large log: speed of each kind of query and sluice's
# memory while they run (issue 15, §7 and §2).
#
# 1. Fill: sluice (the embedded default's pipelines: traces into spanmetrics
#    (exponential) and servicegraph, their metrics into metrics/derived, logs,
#    the query layer on) pinned to SLUICE_CPUS (default core 0) takes
#    `sluice loadgen` on core 1 (200 services, RATE spans/s and LOGS_RATE log
#    records/s each, 50 ms between exports) until the log directory holds
#    SIZE_GIB (default 10), then a SHOP_SECONDS (30) `--topology shop` phase so
#    that known services and edges exist. A progress line every 10 s; the
#    fill rate (MiB/s of log, spans/s and records/s accepted) at the end.
# 2. Catch-up: the time until the index (`query/index`), the rollups and the
#    connectors have read the whole log. The index checkpoints its cursor
#    only when it seals a segment, so its lag_records never reaches 0 while
#    the open segment holds data: "caught up" is lag_records = 0, or
#    lag_seconds = 0 with less than one segment of lag_bytes, twice in a row.
# 3. Queries, one at a time (curl on core 1; its time_total includes the
#    connection to the admin port on loopback), sluice's VmRSS (with
#    RssAnon/RssFile) sampled every 0.5 s throughout:
#    - trace by id: IDS (200) ids found by trace searches over slices of the
#      fill period (old and new segments alike);
#    - services and graph over the last hour, REPEAT (200) times each;
#    - trace search over the last hour, `service=service-<k>&error=true&
#      min_duration=20ms&limit=20`, SEARCHES (50) times over varied services;
#    - log substring search where no index applies (a `q` that never occurs,
#      over the whole fill, query.max_scan_bytes 64GiB): scannedBytes (the log
#      records' batches read) / wall time, warm and, where
#      /proc/sys/vm/drop_caches may be written, cold;
#    - reference in the same run: `cat` of the segment files to /dev/null,
#      cold (after drop_caches) and warm.
# 4. Restart (RESTART=on, the default): kill -9 during the query phase,
#    start again on the same directory; the time until the first trace by id
#    is answered, and whether traces by id, services and graph (at a fixed
#    `end`) answer the same bytes as before.
#
# Prints a table and writes it to RESULTS (default bench/results/query.md).
# QUICK=1 is a smoke run: a 0.25 GiB log and few queries. DROP_CACHES=off
# leaves the page cache alone (no cold figures).
#
# Usage: bench/query.sh [build-dir]   (SLUICE_BIN overrides the binary)
set -euo pipefail
build=${1:-build/release}
bin=${SLUICE_BIN:-$build/src/app/sluice}
here=$(cd "$(dirname "$0")" && pwd)
if [ "${QUICK:-0}" = 1 ]; then
  size_gib=${SIZE_GIB:-0.25}; n_ids=${IDS:-20}; n_rep=${REPEAT:-20}; n_search=${SEARCHES:-10}
  shop_s=${SHOP_SECONDS:-5}
else
  size_gib=${SIZE_GIB:-10}; n_ids=${IDS:-200}; n_rep=${REPEAT:-200}; n_search=${SEARCHES:-50}
  shop_s=${SHOP_SECONDS:-30}
fi
rate=${RATE:-2000}
logs_rate=${LOGS_RATE:-1000}
results=${RESULTS:-$here/results/query.md}
work=$(mktemp -d -p "${SLUICE_BENCH_DIR:-/tmp}" sluice-query.XXXXXX)
source "$here/lib.sh"
pid=
lg=
sampler=
cleanup() {
  for p in "$sampler" "$lg" "$pid"; do [ -z "$p" ] || kill "$p" 2>/dev/null || true; done
  [ -z "$pid" ] || wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

retention_gib=$(awk -v s="$size_gib" 'BEGIN { printf "%d", s * 2 + 2 }')
cat > "$work/sluice.yaml" <<YAML
# The embedded default (src/pipeline/service_config.cc) on free ports, with a
# retention above the log's size, every log byte searchable by one query and
# no rate limit on the admin port.
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
      http:
        endpoint: 127.0.0.1:0
connectors:
  spanmetrics:
    histogram:
      exponential:
        max_size: 160
    metrics_flush_interval: 10s
  servicegraph:
    metrics_flush_interval: 10s
storage:
  directory: $work/data
  fsync: ${FSYNC:-interval}
  retention:
    max_bytes: ${retention_gib}GiB
query:
  enabled: true
  max_scan_bytes: 64GiB
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
      rate_limit:
        requests_per_second: 1000000
        burst: 1000000
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [spanmetrics, servicegraph]
    metrics:
      receivers: [otlp]
    logs:
      receivers: [otlp]
    metrics/derived:
      receivers: [spanmetrics, servicegraph]
YAML

logdir="$work/data/log"
admin_of() { grep -o 'admin=[0-9.:]*' "$work/sluice.log" | head -1 | cut -d= -f2; }
metric() {  # metric SERIES: its value in sluice's /metrics, 0 when absent
  curl -s "http://$admin/metrics" | awk -v s="$1" 'index($0, s " ") == 1 { print $2; f = 1 } END { if (!f) print 0 }'
}
log_bytes() { du -sb "$logdir" | cut -f1; }
now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.3f", b - a }'; }
phase() { echo "$1" > "$work/phase"; }

# RSS sampler (core 1): "phase VmRSS RssAnon RssFile" (KiB) every 0.5 s.
phase start
start_pinned_sluice
echo "$pid" > "$work/pid"
admin=$(admin_of)
http=$(listen_address otlp http)
A="http://$admin"
(
  while :; do
    p=$(cat "$work/pid")
    [ -r "/proc/$p/status" ] && awk -v ph="$(cat "$work/phase")" '
      /^VmRSS/ { r = $2 } /^RssAnon/ { a = $2 } /^RssFile/ { f = $2 }
      END { if (r) print ph, r, a, f }' "/proc/$p/status" >> "$work/rss" 2>/dev/null || true
    sleep 0.5
  done
) &
sampler=$!
taskset -cp 1 "$sampler" > /dev/null

echo "sluice pid=$pid admin=$admin otlp/http=$http data=$work/data target=${size_gib} GiB"
echo "== fill: 200 services x ${rate} spans/s + ${logs_rate} log records/s offered =="
phase fill
target=$(awk -v s="$size_gib" 'BEGIN { printf "%.0f", s * 1073741824 }')
fill_start=$(now_s)
fill_start_unix=$(date +%s)
taskset -c 1 "$bin" loadgen --no-progress --duration 24h --ramp 2s --services 200 \
  --rate "$rate" --logs-rate "$logs_rate" --interval 50ms --connections 16 \
  --endpoint "$http" > "$work/loadgen.out" 2>&1 &
lg=$!
last_t=$fill_start; last_b=0; last_sp=0; last_lr=0
while :; do
  sleep 10
  b=$(log_bytes)
  sp=$(metric 'sluice_receiver_accepted_spans_total{receiver="otlp"}')
  lr=$(metric 'sluice_receiver_accepted_log_records_total{receiver="otlp"}')
  ilag=$(metric 'sluice_exporter_lag_bytes{exporter="query/index"}')
  t=$(now_s)
  awk -v t="$t" -v t0="$fill_start" -v lt="$last_t" -v b="$b" -v lb="$last_b" -v sp="$sp" \
      -v lsp="$last_sp" -v lr="$lr" -v llr="$last_lr" -v tg="$target" -v il="$ilag" 'BEGIN {
    d = t - lt
    printf "t=%.0fs log=%.2f/%.2f GiB %.1f MiB/s spans/s=%.0f logs/s=%.0f index_lag=%.2f GiB\n",
      t - t0, b / 2^30, tg / 2^30, (b - lb) / d / 2^20, (sp - lsp) / d, (lr - llr) / d, il / 2^30 }'
  last_t=$t; last_b=$b; last_sp=$sp; last_lr=$lr
  [ "$b" -ge "$target" ] && break
  kill -0 "$lg" 2>/dev/null || { echo "loadgen ended early: $(cat "$work/loadgen.out")"; break; }
done
kill "$lg" 2>/dev/null || true
wait "$lg" || true
lg=
fleet_s=$(elapsed "$fill_start")
fleet_bytes=$(log_bytes)
fleet_spans=$(metric 'sluice_receiver_accepted_spans_total{receiver="otlp"}')
fleet_logs=$(metric 'sluice_receiver_accepted_log_records_total{receiver="otlp"}')
echo "loadgen (fleet): $(tail -1 "$work/loadgen.out")"
taskset -c 1 "$bin" loadgen --no-progress --duration "${shop_s}s" --ramp 0s --topology shop \
  --rate 20 --logs-rate 1 --endpoint "$http" > "$work/shop.out" 2>&1
echo "loadgen (shop, ${shop_s}s): $(head -1 "$work/shop.out")"
fill_end_unix=$(date +%s)
fill_rate=$(awk -v b="$fleet_bytes" -v s="$fleet_s" -v sp="$fleet_spans" -v lr="$fleet_logs" 'BEGIN {
  printf "%.1f MiB/s (%.0f spans/s + %.0f log records/s) over %.0f s", b / s / 2^20, sp / s, lr / s, s }')
echo "fill rate: $fill_rate"

echo "== catch-up: index, rollups, connectors =="
phase catchup
catch_start=$(now_s)
caught() {  # caught EXPORTER SECONDS_OK: read to the log's end (see the header)
  local r s b
  r=$(metric "sluice_exporter_lag_records{exporter=\"$1\"}")
  s=$(metric "sluice_exporter_lag_seconds{exporter=\"$1\"}")
  b=$(metric "sluice_exporter_lag_bytes{exporter=\"$1\"}")
  awk -v r="$r" -v s="$s" -v b="$b" -v ok="$2" 'BEGIN { exit !(r == 0 || (s <= ok && b < 64 * 2^20)) }'
}
index_s=
ok=0
for _ in $(seq "${CATCHUP_TIMEOUT:-1800}"); do
  if caught query/index 0; then
    [ -n "$index_s" ] || index_s=$(elapsed "$catch_start")
    if caught query/rollups 0 && caught spanmetrics 20 && caught servicegraph 20; then
      ok=$((ok + 1)); [ "$ok" -ge 2 ] && break
    fi
  else
    index_s=
    ok=0
  fi
  sleep 1
done
catch_s=$(elapsed "$catch_start")
echo "index caught up after ${index_s:-?} s, everything after $catch_s s" \
  "(index lag_records $(metric 'sluice_exporter_lag_records{exporter="query/index"}') in the open segment)"
sleep 12  # one more connector flush into the rollups

nseg=$(ls "$logdir"/*.seg | wc -l)
seg_bytes=$(stat -c %s "$logdir"/*.seg | awk '{ s += $1 } END { printf "%.0f", s }')

# Timing: one request, "code seconds bytes" appended to $work/t.NAME; the body in $work/body.
timed() {
  taskset -c 1 curl -s -o "$work/body" -w '%{http_code} %{time_total} %{size_download}\n' "$2" \
    >> "$work/t.$1"
  tail -1 "$work/t.$1" | grep -q '^200 ' || echo "$1: $(tail -1 "$work/t.$1" | cut -d' ' -f1) for $2" >> "$work/non200"
}
stats() {  # stats NAME: n, p50/p99/max in ms, answers other than 200
  local bad
  bad=$(awk '$1 != 200 { n++ } END { print n + 0 }' "$work/t.$1")
  awk '{ print $2 * 1000 }' "$work/t.$1" | sort -g | awk -v bad="$bad" '
    { v[NR] = $1 }
    END { n = NR; i50 = int(n * 0.5); if (i50 < n * 0.5) i50++; i99 = int(n * 0.99); if (i99 < n * 0.99) i99++
          printf "n=%d p50=%.1f ms p99=%.1f ms max=%.1f ms non200=%d", n, v[i50], v[i99], v[n], bad }'
}
pct() {  # pct NAME P: the P quantile in ms
  awk '{ print $2 * 1000 }' "$work/t.$1" | sort -g | awk -v p="$2" '
    { v[NR] = $1 } END { i = int(NR * p); if (i < NR * p) i++; printf "%.1f", v[i] }'
}

echo "== trace ids from searches over $(( (n_ids + 19) / 20 )) slices of the fill =="
phase pick
slices=$(( (n_ids + 19) / 20 ))
: > "$work/ids"
for i in $(seq 0 $((slices - 1))); do
  a=$(awk -v s="$fill_start_unix" -v e="$fill_end_unix" -v i="$i" -v n="$slices" 'BEGIN { printf "%.3f", s + (e - s) * i / n }')
  b=$(awk -v s="$fill_start_unix" -v e="$fill_end_unix" -v i="$i" -v n="$slices" 'BEGIN { printf "%.3f", s + (e - s) * (i + 1) / n }')
  curl -s "$A/api/v1/traces?start=$a&end=$b&limit=20" | grep -o '"traceId":"[0-9a-f]*"' | cut -d'"' -f4 >> "$work/ids"
done
sort -u "$work/ids" | shuf --random-source=<(yes) | head -n "$n_ids" > "$work/ids.pick"
echo "$(wc -l < "$work/ids.pick") distinct ids"

echo "== trace by id =="
phase trace_by_id
while read -r id; do timed trace_by_id "$A/api/v1/traces/$id"; done < "$work/ids.pick"
echo "trace by id: $(stats trace_by_id)"

echo "== services and graph, window=1h, $n_rep times each =="
phase services
for _ in $(seq "$n_rep"); do timed services "$A/api/v1/services?window=1h"; done
nsvc=$(grep -o '"name":"[^"]*","calls"' "$work/body" | wc -l)
echo "services: $(stats services) ($nsvc services, $(wc -c < "$work/body") bytes)"
phase graph
for _ in $(seq "$n_rep"); do timed graph "$A/api/v1/graph?window=1h"; done
echo "graph: $(stats graph) ($(grep -o '"client"' "$work/body" | wc -l) edges, $(wc -c < "$work/body") bytes)"

echo "== trace search, last hour, error=true&min_duration=20ms&limit=20, $n_search services =="
phase search
: > "$work/search.info"
for i in $(seq 0 $((n_search - 1))); do
  timed search "$A/api/v1/traces?service=service-$(( (i * 37 + 11) % 200 ))&error=true&min_duration=20ms&limit=20"
  grep -q '"partial":true' "$work/body" && partials=$((${partials:-0} + 1))
  printf '%s %s %s\n' "$(grep -o '"traceId"' "$work/body" | wc -l)" \
    "$(grep -o '"scannedBytes":"[0-9]*"' "$work/body" | grep -o '[0-9]*')" \
    "$(grep -o '"segmentsRead":[0-9]*' "$work/body" | grep -o '[0-9]*$')" >> "$work/search.info"
done
search_info=$(sort -n -k2 "$work/search.info" | awk '{ n++; if ($1 >= 20) full++; s[n] = $2; g += $3 }
  END { printf "%d/%d answers with 20 traces, median scanned %.1f MiB, mean %.1f segments read", full, n, s[int((n + 1) / 2)] / 2^20, g / n }')
search_info="$search_info, ${partials:-0} partial"
echo "trace search: $(stats search); $search_info"

echo "== log substring scan (no index applies) and the raw read reference =="
can_drop=no
if [ "${DROP_CACHES:-on}" = on ] && sync && echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; then
  can_drop=yes
fi
rawread() {  # seconds to cat every segment to /dev/null
  local t0; t0=$(now_s); taskset -c 1 cat "$logdir"/*.seg > /dev/null; elapsed "$t0"
}
scan() {  # scan NAME: one search for a string that never occurs over the whole fill
  timed "$1" "$A/api/v1/logs?q=sluice-bench-never-occurs&start=$((fill_start_unix - 60))&end=$(($(date +%s) + 1))&limit=20"
  grep -o '"scannedBytes":"[0-9]*"' "$work/body" | grep -o '[0-9]*' > "$work/scanned.$1"
  grep -q '"partial":false' "$work/body" || echo "warning: the scan was partial"
}
gibs() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.2f", b / s / 2^30 }'; }
phase reference
cold_cat=; cold_scan=
if [ "$can_drop" = yes ]; then cold_cat=$(rawread); fi
warm_cat=$(rawread)
warm_cat=$(rawread)  # the second: everything from the page cache
phase scan_warm
scan scan_warm; scan scan_warm2
if [ "$can_drop" = yes ]; then
  sync; echo 3 > /proc/sys/vm/drop_caches
  phase scan_cold
  scan scan_cold
fi
scanned=$(cat "$work/scanned.scan_warm2")
w1=$(awk '{ print $2 }' "$work/t.scan_warm"); w2=$(awk '{ print $2 }' "$work/t.scan_warm2")
warm_scan=$(awk -v a="$w1" -v b="$w2" 'BEGIN { print (a < b ? a : b) }')
echo "segments: $nseg files, $(gibs "$seg_bytes" 1) GiB; the scan read $(gibs "$scanned" 1) GiB of log records' batches"
echo "raw read (cat): warm $(gibs "$seg_bytes" "$warm_cat") GiB/s${cold_cat:+, cold $(gibs "$seg_bytes" "$cold_cat") GiB/s}"
echo "log scan: warm $(gibs "$scanned" "$warm_scan") GiB/s of log records (${warm_scan} s; $(gibs "$seg_bytes" "$warm_scan") GiB/s of segment bytes)"
if [ "$can_drop" = yes ]; then
  cold_scan=$(awk '{ print $2 }' "$work/t.scan_cold")
  echo "log scan: cold $(gibs "$(cat "$work/scanned.scan_cold")" "$cold_scan") GiB/s of log records (${cold_scan} s)"
fi

restart_line="not run"
if [ "${RESTART:-on}" = on ]; then
  echo "== restart: kill -9 during the query phase, same directory =="
  phase restart_before
  head -n 20 "$work/ids.pick" > "$work/ids.restart"
  fixed_end=$(date +%s)
  snapshot() {  # snapshot DIR: the answers compared across the restart
    mkdir -p "$1"
    while read -r id; do curl -s -o "$1/$id" "$A/api/v1/traces/$id"; done < "$work/ids.restart"
    curl -s -o "$1/services" "$A/api/v1/services?window=1h&end=$fixed_end"
    curl -s -o "$1/graph" "$A/api/v1/graph?window=1h&end=$fixed_end"
  }
  snapshot "$work/before"
  snapshot "$work/before2"
  stable=$(diff -rq "$work/before" "$work/before2" > /dev/null && echo yes || echo no)
  # Killed while a log scan runs: the query thread is busy mid-segment.
  (taskset -c 1 curl -s -o /dev/null "$A/api/v1/logs?q=sluice-bench-never-occurs&start=$((fill_start_unix - 60))" || true) &
  scanner=$!
  sleep 0.5
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  wait "$scanner" 2>/dev/null || true
  mv "$work/sluice.log" "$work/sluice.killed.log"
  phase restart
  t0=$(now_s)
  taskset -c "${SLUICE_CPUS:-0}" "$bin" run --config "$work/sluice.yaml" > "$work/sluice.log" 2>&1 &
  pid=$!
  echo "$pid" > "$work/pid"
  until grep -q 'admin=' "$work/sluice.log"; do sleep 0.02; kill -0 "$pid"; done
  listening_s=$(elapsed "$t0")
  admin=$(admin_of); A="http://$admin"
  first=$(head -1 "$work/ids.restart")
  : > "$work/restart.codes"
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$A/api/v1/traces/$first" | tee -a "$work/restart.codes")" = 200 ]; do
    echo >> "$work/restart.codes"; sleep 0.02
  done
  codes=$(sort "$work/restart.codes" | uniq -c | awk '{ printf "%s%s×%s", (NR > 1 ? " " : ""), $1, $2 }')
  first_s=$(elapsed "$t0")
  same_at_first=yes
  snapshot "$work/after"
  diff -rq "$work/before" "$work/after" > /dev/null || same_at_first=no
  same_s=$first_s
  if [ "$same_at_first" = no ]; then
    same_s=
    for _ in $(seq 120); do
      sleep 1; rm -rf "$work/after"; snapshot "$work/after"
      if diff -rq "$work/before" "$work/after" > /dev/null; then same_s=$(elapsed "$t0"); break; fi
    done
  fi
  differ=$(diff -rq "$work/before" "$work/after" 2>/dev/null | awk '{ print $2 }' | xargs -r -n1 basename | tr '\n' ' ')
  phase restart_after
  while read -r id; do timed restart_by_id "$A/api/v1/traces/$id"; done < "$work/ids.restart"
  for _ in $(seq 20); do timed restart_services "$A/api/v1/services?window=1h"; done
  restart_line="listening after ${listening_s} s, first trace by id answered after ${first_s} s (answers while polling: $codes); answers (20 traces by id, services and graph at a fixed end) identical to before: at the first answer ${same_at_first}, all identical after ${same_s:-never (within 120 s)} s${differ:+ (still differing: $differ)}; before stable: ${stable}; after restart trace by id $(stats restart_by_id), services $(stats restart_services)"
  echo "restart: $restart_line"
fi
phase done

rss() {  # rss PHASES-REGEX: peak VmRSS (MiB) and its RssAnon/RssFile
  awk -v re="$1" '$1 ~ re && $2 > m { m = $2; a = $3; f = $4 }
    END { printf "%.1f MiB (anon %.1f, file %.1f)", m / 1024, a / 1024, f / 1024 }' "$work/rss"
}
query_re='^(pick|trace_by_id|services|graph|search|scan_warm|scan_cold|restart_before|restart_after)$'
rss_q=$(awk -v re="$query_re" '$1 ~ re && $2 > m { m = $2 } END { printf "%.1f", m / 1024 }' "$work/rss")
met() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { ok = op == "<" ? v < t : v >= t; print ok ? "yes" : "**no**" }'; }
warm_gibs=$(gibs "$scanned" "$warm_scan")
{
echo "# bench/query.sh — $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "$("$bin" version 2>/dev/null | head -1), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), sluice pinned to core ${SLUICE_CPUS:-0}, clients (loadgen, curl, cat) on core 1."
echo "Log: $(gibs "$seg_bytes" 1) GiB in $nseg segments; fill: $fill_rate (200 services × $rate spans/s + $logs_rate log records/s offered), then ${shop_s} s of \`--topology shop\`."
echo "Catch-up after the fill: index ${index_s:-?} s, index + rollups + connectors $catch_s s."
echo "Latencies are curl's time_total (a new loopback connection per request included), requests one at a time."
echo
echo "| query | result | target | met |"
echo "|---|---|---|---|"
echo "| trace by id ($(wc -l < "$work/t.trace_by_id") ids over the whole log) | $(stats trace_by_id) | p99 < 50 ms | $(met "$(pct trace_by_id 0.99)" 50 "<") |"
echo "| services, window=1h ($nsvc services) | $(stats services) | p99 < 50 ms | $(met "$(pct services 0.99)" 50 "<") |"
echo "| graph, window=1h | $(stats graph) | p99 < 50 ms | $(met "$(pct graph 0.99)" 50 "<") |"
echo "| trace search, last hour, service+error+min_duration, first 20 | $(stats search); $search_info | < 200 ms (p99) | $(met "$(pct search 0.99)" 200 "<") |"
echo "| log substring, whole log, warm (one query thread) | $warm_gibs GiB/s ($(gibs "$scanned" 1) GiB of log records in $warm_scan s; $(gibs "$seg_bytes" "$warm_scan") GiB/s of segment bytes) | ≥ 1 GiB/s per core | $(met "$warm_gibs" 1 ">=") |"
if [ -n "$cold_scan" ]; then
  cold_gibs=$(gibs "$(cat "$work/scanned.scan_cold")" "$cold_scan")
  echo "| log substring, whole log, cold (after drop_caches) | $cold_gibs GiB/s ($cold_scan s) | ≥ 1 GiB/s per core | $(met "$cold_gibs" 1 ">=") |"
fi
echo "| reference: cat of the segments, warm | $(gibs "$seg_bytes" "$warm_cat") GiB/s ($warm_cat s); log scan / cat: $(awk -v a="$warm_gibs" -v b="$(gibs "$seg_bytes" "$warm_cat")" 'BEGIN { printf "%.2f", a / b }') | | |"
if [ -n "$cold_cat" ]; then
  echo "| reference: cat of the segments, cold (after drop_caches) | $(gibs "$seg_bytes" "$cold_cat") GiB/s ($cold_cat s); log scan / cat: $(awk -v a="$cold_gibs" -v b="$(gibs "$seg_bytes" "$cold_cat")" 'BEGIN { printf "%.2f", a / b }') | | |"
else
  echo "| reference: cold read | not measured (DROP_CACHES=off or /proc/sys/vm/drop_caches not writable): both warm | | |"
fi
echo "| sluice RSS while queries run (peak VmRSS, 0.5 s samples) | $(rss "$query_re") | < 128 MiB | $(met "$rss_q" 128 "<") |"
echo "| sluice RSS during the fill / catch-up (for reference) | $(rss '^fill$') / $(rss '^catchup$') | | |"
echo "| restart (kill -9 during a log scan) | $restart_line | | |"
echo
echo "Peak VmRSS by phase: $(awk '$2 > m[$1] { m[$1] = $2 } END { for (p in m) printf "%s %.1f MiB; ", p, m[p] / 1024 }' "$work/rss")"
if [ -s "$work/non200" ]; then echo; echo "Answers other than 200:"; sed 's/^/- /' "$work/non200"; fi
} > "$work/result.md"
echo
cat "$work/result.md"
mkdir -p "$(dirname "$results")"
cp "$work/result.md" "$results"
echo
echo "written to $results"
