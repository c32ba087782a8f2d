#!/usr/bin/env bash
# Backfill: `sluice backfill` sending history to a remote write destination.
# Goals: at least 2M samples/s on one core from an OpenMetrics file to a
# counting remote write sink; remote read from a local Prometheus at the rate
# Prometheus serves; RSS under 32 MiB and flat from 10^5 to 10^8 samples.
#
# 1. Files. For each size of SIZES (default "100000 1000000 10000000
#    100000000" samples) `gen_history` writes an OpenMetrics file into the
#    scratch directory (under SLUICE_BENCH_DIR, default /tmp): six
#    node-exporter-like families (counters and gauges, # HELP and # TYPE
#    lines) of min(10,000, samples / 100) series labelled host, region and
#    one or two of their own; each series' samples consecutive, 15 s apart
#    with a per-series scrape offset in milliseconds, the last a day ago;
#    # EOF at the end (about 95 bytes a sample: 9.5 GB for 10^8). The file
#    is synced to disk before measuring and deleted after its run.
# 2. Reference, same run, per size: the file read raw, `dd bs=1M` to
#    /dev/null on core 0, twice, the second taken (from the page cache, as
#    sluice then reads it): bytes/s and the samples/s that equals.
# 3. `sluice backfill --from openmetrics:FILE --progress-interval 200ms`
#    (PROGRESS_INTERVAL) pinned to core 0 (SLUICE_CPUS), the counting sink
#    (`forward_peer sink`) on core 1, started and watched by a python3
#    sampler on core 1: every RSS_INTERVAL (0.02 s) the process's VmRSS,
#    paired with the samples sent by then (the progress lines' items=, each
#    stamped when the sampler read it, interpolated linearly in between; 0
#    at the start, the summary's count at the end; a run shorter than a few
#    progress intervals gets a coarse pairing). RSS is read until the
#    summary line is out, not while the process tears down. At the exit:
#    CPU time (utime + stime of all its threads) and peak RSS from wait4's
#    rusage, the process's wall time, and the summary line, whose seconds=
#    (the backfill's own time, start-up excluded, as dd's) gives samples/s.
#    The sink's sample count is checked against the summary's items.
# 4. A table per size: file bytes, the raw read in MB/s and samples/s, the
#    backfill's seconds (the process's in parentheses), samples/s, samples
#    per CPU-second, the ratio of its samples/s to the raw read's, peak RSS
#    and RSS at the end; then RSS when 10^5, 10^6, ... samples had been sent.
#    RSS against samples sent (log scale from a decade below the smallest
#    size), one line per size, is drawn as a PNG (PLOT, default
#    bench/results/backfill_rss.png; PLOT=off skips it; python3's standard
#    library only).
# 5. Remote read (REMOTE_READ=on; off skips it). A Prometheus (PROMETHEUS,
#    default /usr/bin/prometheus, with --web.enable-remote-write-receiver and
#    an out-of-order window of 30d) on a free port, pinned to core 1, is
#    loaded by `sluice backfill` from a file of RR_SAMPLES (5,000,000)
#    samples, one every RR_STEP (60) s over about RR_SPAN (518400 s, 6 days)
#    ending an hour ago (as many series as that takes: 579 for 5M). The
#    load is checked by counting the samples Prometheus holds (PromQL
#    count_over_time, name by name); then the script waits until Prometheus
#    has compacted the heads into blocks (PROM_SETTLE, 70 s: past its next
#    compaction tick, then until it uses under 3% of a core over 3 s). Each
#    slicing, the whole range in one request and RR_SLICE (1h) slices, is
#    read twice, both readers on core 0:
#      reference: the remote read requests sluice sends (a ReadRequest per
#        slice with one `__name__=~".+"` matcher, streamed XOR chunks then
#        samples accepted, snappy-framed as literals) from a python3 client
#        on one kept-alive connection that reads each answer whole and
#        discards it: the rate Prometheus serves;
#      sluice backfill --from remote-read:URL --slice ... to the counting
#        sink (on core 1 with Prometheus).
#    For both: seconds (the client's loop; sluice's own seconds=), samples/s
#    and the CPU seconds Prometheus spent answering (utime + stime of its
#    process before and after); the reader's CPU seconds; for sluice its
#    peak RSS and the sink's count checked. Then sluice's samples/s as a
#    share of the reference's, and "Prometheus spent X CPU-s serving,
#    sluice Y CPU-s decoding and sending".
#
# Waits before each measurement while a compiler (cc1plus) runs on the
# machine (COMPILER_WAIT=off does not), and says whether one ran during a
# measurement. Everything started is stopped and the scratch directory
# removed on exit, Ctrl-C included.
#
# Usage: bench/backfill.sh [build-dir]   (SLUICE_BIN, GEN_HISTORY and
# FORWARD_PEER override the programs; they are built with SLUICE_BENCH=ON)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build/release}
bin=${SLUICE_BIN:-$build/src/app/sluice}
gen=${GEN_HISTORY:-$build/bench/gen_history}
peer=${FORWARD_PEER:-$build/bench/forward_peer}
sizes=${SIZES:-100000 1000000 10000000 100000000}
plot=${PLOT:-$here/results/backfill_rss.png}
rss_interval=${RSS_INTERVAL:-0.02}
progress_interval=${PROGRESS_INTERVAL:-200ms}
remote_read=${REMOTE_READ:-on}
rr_samples=${RR_SAMPLES:-5000000}
rr_step=${RR_STEP:-60}
rr_span=${RR_SPAN:-518400}
rr_slice=${RR_SLICE:-1h}
prom_settle=${PROM_SETTLE:-70}
prometheus=${PROMETHEUS:-/usr/bin/prometheus}
sluice_cpus=${SLUICE_CPUS:-0}
hz=$(getconf CLK_TCK)

for p in "$bin" "$gen" "$peer"; do
  [ -x "$p" ] || { echo "no program at $p (configure with -DSLUICE_BENCH=ON and build it)" >&2; exit 1; }
done
if [ "$remote_read" = on ] && [ ! -x "$prometheus" ]; then
  echo "no Prometheus at $prometheus (PROMETHEUS; REMOTE_READ=off skips remote read)" >&2
  exit 1
fi
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
bin=$(abs "$bin") gen=$(abs "$gen") peer=$(abs "$peer")

work=$(mktemp -d -p "${SLUICE_BENCH_DIR:-/tmp}" sluice-backfill.XXXXXX)
pids=()
prom_pid= runner= settle_pid=
cleanup() {
  for p in "${pids[@]}" $prom_pid $runner $settle_pid; do kill "$p" 2> /dev/null || true; done
  for p in "${pids[@]}" $prom_pid $runner; do wait "$p" 2> /dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
source "$here/lib.sh"

# The sampler: runs a command pinned to SLUICE_CPUS, itself on core 1.
cat > "$work/run.py" <<'PY'
# run.py OUT CPUS INTERVAL -- COMMAND...: runs COMMAND pinned to CPUS with
# stdout in OUT.summary and stderr in OUT.progress, this sampler on core 1.
# Writes OUT.rss ("seconds items rss_kib": VmRSS every INTERVAL with the
# items sent by then, from the progress lines, interpolated) and
# OUT.result (wall user sys maxrss_kib rc last_rss_kib compiler_seen).
import os, re, signal, sys, time

out, cpus, interval = sys.argv[1], sys.argv[2], float(sys.argv[3])
cmd = sys.argv[5:]
os.sched_setaffinity(0, {1} if os.cpu_count() > 1 else {0})
flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
t0 = time.monotonic()
pid = os.posix_spawnp("taskset", ["taskset", "-c", cpus] + cmd, os.environ, file_actions=[
    (os.POSIX_SPAWN_OPEN, 1, out + ".summary", flags, 0o644),
    (os.POSIX_SPAWN_OPEN, 2, out + ".progress", flags, 0o644)])


def stop(signum, frame):  # the script is stopping: so is the command
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        pass
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
items_re = re.compile(rb" items=(\d+)")
rss, progress = [], [(0.0, 0)]
pending, offset, next_scan, compiler = b"", 0, 0.0, 0
last_rss = 0


def compiler_running():
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/comm" % p, "rb") as f:
                    if f.read().strip() == b"cc1plus":
                        return True
            except OSError:
                pass
    return False


while True:
    now = time.monotonic() - t0
    # Until the summary is out (written as main returns): RSS read while
    # the process tears its memory down would not be the backfill's.
    if not os.path.getsize(out + ".summary"):
        try:
            with open("/proc/%d/status" % pid, "rb") as f:
                fields = dict(l.split(b":", 1) for l in f if b":" in l)
            # Not yet sluice (taskset before its exec), or no longer running.
            if (fields[b"Name"].strip() != b"taskset" and
                    fields[b"State"].split()[0] not in (b"Z", b"X")):
                last_rss = int(fields[b"VmRSS"].split()[0])
                rss.append((now, last_rss))
        except (OSError, KeyError):
            pass
    with open(out + ".progress", "rb") as f:
        f.seek(offset)
        chunk = f.read()
    offset += len(chunk)
    pending += chunk
    *lines, pending = pending.split(b"\n")
    for line in lines:
        m = items_re.search(line)
        if m:
            progress.append((now, int(m.group(1))))
    if now >= next_scan:
        next_scan = now + 1
        compiler = compiler or int(compiler_running())
    done, status, usage = os.wait4(pid, os.WNOHANG)
    if done:
        break
    time.sleep(interval)
wall = time.monotonic() - t0
with open(out + ".summary", "rb") as f:
    m = re.search(rb" items=(\d+)", f.read())
progress.append((wall, int(m.group(1)) if m else progress[-1][1]))


def items_at(t):
    for (t1, i1), (t2, i2) in zip(progress, progress[1:]):
        if t <= t2:
            return i1 if t2 <= t1 else i1 + (i2 - i1) * (t - t1) / (t2 - t1)
    return progress[-1][1]


# The end: every sample sent, at the last RSS read.
rss.append((wall, last_rss))
with open(out + ".rss", "w") as f:
    for t, r in rss:
        f.write("%.3f %.0f %d\n" % (t, items_at(t), r))
with open(out + ".result", "w") as f:
    f.write("%.3f %.3f %.3f %d %d %d %d\n" % (
        wall, usage.ru_utime, usage.ru_stime, usage.ru_maxrss, os.waitstatus_to_exitcode(status),
        last_rss, compiler))
PY

# run_backfill NAME CONFIG ARGS...: `sluice backfill` through the sampler;
# its files are $work/NAME.{summary,progress,rss,result}.
run_backfill() {
  local name=$1 config=$2
  shift 2
  python3 "$work/run.py" "$work/$name" "$sluice_cpus" "$rss_interval" -- \
    "$bin" backfill --config "$config" --exporter prometheusremotewrite --restart \
    --progress-interval "$progress_interval" "$@" &
  runner=$!
  wait "$runner"
  runner=
  if [ "$(awk '{ print $5 }' "$work/$name.result")" != 0 ]; then
    echo "sluice backfill failed:" >&2
    cat "$work/$name.summary" "$work/$name.progress" >&2
    exit 1
  fi
}
# summary_field NAME KEY: a key=value of NAME's summary line.
summary_field() { grep -o " $2=[^ ]*" "$work/$1.summary" | head -1 | cut -d= -f2; }

# config DESTINATION NAME: a configuration whose `prometheusremotewrite`
# sends to http://DESTINATION/api/v1/write, as $work/NAME.yaml.
config() {
  {
    cat <<YAML
receivers:
  prometheus_remote_write:
    endpoint: 127.0.0.1:0
exporters:
  prometheusremotewrite:
    endpoint: http://$1/api/v1/write
YAML
    storage_and_service
    cat <<YAML
    metrics:
      receivers: [prometheus_remote_write]
      exporters: [prometheusremotewrite]
YAML
  } > "$work/$2.yaml"
}

compiler_wait() {
  if [ "${COMPILER_WAIT:-on}" = on ] && pgrep -x cc1plus > /dev/null; then
    echo "a compiler is running (cc1plus): waiting for it to end before measuring"
    while pgrep -x cc1plus > /dev/null; do sleep 5; done
    echo "no compiler running any more"
  fi
}

sink_samples() { curl -s "http://$sink/count" | awk '{ print $3 }'; }

# dd_seconds FILE: seconds `dd` takes to read FILE to /dev/null on core 0.
dd_seconds() {
  LC_ALL=C taskset -c "$sluice_cpus" dd if="$1" of=/dev/null bs=1M 2>&1 |
    awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") print $(i - 1) }'
}

: > "$work/sink.log"
start_sink
[ -n "$sink" ] || { cat "$work/sink.log" >&2; exit 1; }
config "$sink" sink

echo "== backfill from OpenMetrics files to a counting remote write sink =="
echo "sluice on core $sluice_cpus, the sink and the sampler on core 1; $(nproc) cores," \
  "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) of memory;" \
  "scratch in $work"
: > "$work/table"
runs=()
for n in $sizes; do
  f="$work/history-$n.om"
  gen_line=$("$gen" --samples "$n" --out "$f")
  bytes=$(sed 's/.*bytes=//' <<< "$gen_line")
  series=$(sed 's/.*series=\([0-9]*\).*/\1/' <<< "$gen_line")
  sync "$f"
  compiler_wait
  dd_seconds "$f" > /dev/null
  raw=$(dd_seconds "$f")
  before=$(sink_samples)
  run_backfill "om-$n" "$work/sink.yaml" --from "openmetrics:$f"
  got=$(( $(sink_samples) - before ))
  rm -f "$f"
  runs+=("$n")
  read -r wall user sys maxrss _ last_rss compiler < "$work/om-$n.result"
  items=$(summary_field "om-$n" items)
  echo "$n $bytes $raw $wall $user $sys $maxrss $last_rss $items $got $compiler $series" \
    "$(summary_field "om-$n" seconds)" >> "$work/table"
  awk -v n="$n" -v s="$series" -v b="$bytes" -v w="$wall" -v i="$items" -v g="$got" \
    'BEGIN { printf "%d samples (%d series, %.0f MB): %.2f s, sluice sent %d, the sink counted %d%s\n",
             n, s, b / 1e6, w, i, g, (i == n && g == n ? "" : "  MISMATCH") }'
done

echo
echo "| samples | file MB | raw read MB/s | raw read samples/s | backfill s (process) | samples/s | samples per CPU-s | ratio to raw read | peak RSS MiB | RSS at end MiB | sink count |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
awk '{
  n = $1; b = $2; raw = $3; wall = $4; cpu = $5 + $6; secs = $13
  printf "| %d | %.0f | %.0f | %.3gM | %.2f (%.2f) | %.3gM | %.3gM | %.3f | %.1f | %.1f | %d%s |\n",
    n, b / 1e6, b / raw / 1e6, n / raw / 1e6, secs, wall, n / secs / 1e6, n / cpu / 1e6,
    raw / secs, $7 / 1024, $8 / 1024, $10, ($10 == $9 && $9 == n ? "" : " (summary: " $9 ")")
}' "$work/table"
awk '$11 == 1 { c = c " " $1 } END { if (c != "") print "WARNING: a compiler (cc1plus) ran during the runs of" c " samples; their figures are polluted" }' "$work/table"

# sci N: 1e5 for 100000; other numbers as they are.
sci() { awk -v n="$1" 'BEGIN { e = log(n) / log(10); r = int(e + 0.5); print (10 ^ r == n ? "1e" r : n) }'; }
echo
echo "RSS (MiB) by samples sent (the first sample of RSS at or past each count):"
header="| run |" rule="|---|"
for n in "${runs[@]}"; do header+=" $(sci "$n") |" rule+="---|"; done
echo "$header"
echo "$rule"
for n in "${runs[@]}"; do
  awk -v n="$n" -v sci="$(sci "$n")" -v list="${runs[*]}" '
    { r[NR] = $3 / 1024; i[NR] = $2 }
    END {
      k = split(list, marks, " ")
      row = "| " sci " |"
      for (m = 1; m <= k; m++) {
        cell = " "
        if (marks[m] <= n) for (j = 1; j <= NR; j++) if (i[j] >= marks[m]) { cell = sprintf(" %.1f ", r[j]); break }
        row = row cell "|"
      }
      print row
    }' "$work/om-$n.rss"
done
largest=${runs[-1]}
awk -v n="$largest" '$1 == n {
  printf "\nlargest file (%d samples): %.2fM samples/s on one core (goal: >= 2M), %.2fM per CPU-second\n", n, n / $13 / 1e6, n / ($5 + $6) / 1e6
}' "$work/table"
awk '{ if (max == "" || $7 > max) max = $7; if (min == "" || $7 < min) min = $7 }
  END { printf "peak RSS from %.1f to %.1f MiB over the sizes (goal: < 32 MiB and flat)\n", min / 1024, max / 1024 }' "$work/table"

if [ "$plot" != off ]; then
  mkdir -p "$(dirname "$plot")"
  plot_args=()
  for n in "${runs[@]}"; do plot_args+=("$n" "$work/om-$n.rss"); done
  PYTHONPATH="$here" python3 - "$plot" "${plot_args[@]}" <<'PY'
# RSS (MiB) against samples sent, log x, one line per run, as a PNG
# (bench/png_canvas.py).
import math, sys
from png_canvas import Canvas

out = sys.argv[1]
runs = []
for k in range(2, len(sys.argv), 2):
    rows = [tuple(map(float, l.split())) for l in open(sys.argv[k + 1]) if l.strip()]
    runs.append((int(sys.argv[k]), [(r[1], r[2] / 1024) for r in rows if r[1] > 0]))

W, H = 760, 400
L, R, T, B = 56, 150, 34, 48  # margins; the legend is on the right
cv = Canvas(W, H)
px, line, text = cv.px, cv.line, cv.text


def sci(n):
    e = round(math.log10(n))
    return "1e%d" % e if 10 ** e == n else str(n)


# From a decade below the smallest run, where its start-up shows.
x_lo = 10 ** (math.floor(math.log10(min(n for n, _ in runs))) - 1)
runs = [(n, [p for p in ps if p[0] >= x_lo]) for n, ps in runs]
points = [p for _, ps in runs for p in ps]
x_hi = 10 ** math.ceil(math.log10(max(n for n, _ in runs)))
if x_hi <= x_lo:
    x_hi = x_lo * 10
GOAL = 32  # MiB
m_max = max([p[1] for p in points] + [GOAL + 1])
step = next(s for s in (1, 2, 4, 5, 10, 20, 25, 50, 100, 200, 500) if m_max / s <= 8)
y_top = step * (int(m_max / step) + 1)
pw, ph = W - L - R, H - T - B


def X(v):
    return L + round(pw * (math.log10(v) - math.log10(x_lo)) / (math.log10(x_hi) - math.log10(x_lo)))


def Y(m):
    return T + ph - round(ph * m / y_top)


grey, axis = (225, 225, 225), (0, 0, 0)
colors = [(31, 90, 180), (200, 80, 30), (40, 150, 60), (150, 50, 160), (90, 90, 90), (0, 150, 160)]
cv.y_grid(L, pw, y_top, step, Y)
d = x_lo
while d <= x_hi * 1.0001:
    line(X(d), T, X(d), T + ph, grey)
    s = "1e%d" % round(math.log10(d))
    text(X(d) - 3 * len(s), T + ph + 8, s)
    d *= 10
line(L, T, L, T + ph, axis)
line(L, T + ph, L + pw, T + ph, axis)
for x in range(L, L + pw, 8):  # the goal, dashed
    line(x, Y(GOAL), min(x + 4, L + pw), Y(GOAL), (210, 40, 40))
text(L + 4, Y(GOAL) - 10, "goal", (210, 40, 40))
for k, (n, ps) in enumerate(runs):
    c = colors[k % len(colors)]
    for (x0, y0), (x1, y1) in zip(ps, ps[1:]):
        line(X(x0), Y(y0), X(x1), Y(y1), c, 2)
    if len(ps) == 1:
        for a in range(-2, 3):
            line(X(ps[0][0]) - 2, Y(ps[0][1]) + a, X(ps[0][0]) + 2, Y(ps[0][1]) + a, c)
    ly = T + 8 + 16 * k
    line(L + pw + 12, ly + 3, L + pw + 30, ly + 3, c, 2)
    text(L + pw + 36, ly, sci(n) + " samples")
text(L, 10, "sluice backfill: RSS (MiB) by samples sent, OpenMetrics file to a sink")
text(L + pw // 2 - 70, H - 18, "samples sent (log scale)")

cv.save(out)
print("RSS plot: " + out)
PY
fi

[ "$remote_read" = on ] || exit 0

echo
echo "== remote read from a local Prometheus ($("$prometheus" --version 2>&1 | head -1)) =="
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
port=$(free_port)
mkdir -p "$work/prometheus"
cat > "$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1m
storage:
  tsdb:
    out_of_order_time_window: 30d
YAML
taskset -c 1 "$prometheus" --config.file="$work/prometheus.yml" \
  --storage.tsdb.path="$work/prometheus" --storage.tsdb.retention.time=30d \
  --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver \
  --log.level=warn > "$work/prometheus.log" 2>&1 &
prom_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/-/ready" > /dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$port/-/ready" > /dev/null || { cat "$work/prometheus.log" >&2; exit 1; }
config "127.0.0.1:$port" prometheus

rr_series=$(awk -v n="$rr_samples" -v st="$rr_step" -v sp="$rr_span" \
  'BEGIN { s = int((n * st + sp - 1) / sp); print (s < 1 ? 1 : s) }')
f="$work/remote-read.om"
gen_line=$("$gen" --samples "$rr_samples" --series "$rr_series" --step "$rr_step" \
  --end "$(( $(date +%s) - 3600 ))" --out "$f")
first_ms=$(sed 's/.*first_ms=\([0-9]*\).*/\1/' <<< "$gen_line")
last_ms=$(sed 's/.*last_ms=\([0-9]*\).*/\1/' <<< "$gen_line")
start_s=$((first_ms / 1000)) end_s=$((last_ms / 1000 + 1))
echo "$rr_samples samples in $rr_series series, one every $rr_step s, over" \
  "$(awk -v a="$start_s" -v b="$end_s" 'BEGIN { printf "%.1f days", (b - a) / 86400 }')," \
  "ending an hour ago"
run_backfill rr-load "$work/prometheus.yaml" --from "openmetrics:$f"
rm -f "$f"
awk -v n="$rr_samples" '{ printf "loaded into Prometheus by sluice backfill in %.1f s (%.2fM samples/s, Prometheus taking them out of order)\n", $1, n / $1 / 1e6 }' "$work/rr-load.result"
[ "$(summary_field rr-load items)" = "$rr_samples" ] ||
  { echo "the load sent $(summary_field rr-load items) samples, not $rr_samples" >&2; cat "$work/rr-load.summary" >&2; exit 1; }

# Prometheus compacts the head (and the out-of-order head) into blocks at
# its next compaction tick (every minute); measure once that is over.
settled=$(date +%s)
# The samples Prometheus holds, counted metric name by metric name
# (count_over_time drops the name, and the families share label sets).
stored=0
for name in $(curl -s "http://127.0.0.1:$port/api/v1/label/__name__/values" | grep -o '"[a-zA-Z_:][a-zA-Z0-9_:]*"' | tr -d '"' | grep -vx 'status\|success\|data'); do
  c=$(curl -s "http://127.0.0.1:$port/api/v1/query" \
    --data-urlencode "query=sum(count_over_time($name[$(( (end_s - start_s) / 86400 + 2 ))d]))" \
    --data-urlencode "time=$end_s" | grep -o '"value":\[[^]]*\]' | grep -o '"[0-9]*"' | tr -d '"' || true)
  stored=$((stored + ${c:-0}))
done
echo "Prometheus holds ${stored:-?} samples (PromQL count_over_time)"
[ "${stored:-0}" = "$rr_samples" ] || echo "WARNING: Prometheus holds ${stored:-?} samples, not $rr_samples"
sleep "$prom_settle" &  # waited for, so that a trapped signal ends it
settle_pid=$!
wait "$settle_pid"
settle_pid=
while :; do
  a=$(ticks "$prom_pid"); sleep 3; b=$(ticks "$prom_pid")
  [ $((b - a)) -gt $((3 * hz * 3 / 100)) ] || break
done
blocks=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^prometheus_tsdb_blocks_loaded / { print $2 }')
echo "Prometheus settled $(( $(date +%s) - settled )) s after the load: $blocks blocks on disk," \
  "$(du -sm "$work/prometheus" | cut -f1) MB"

cat > "$work/rr_reference.py" <<'PY'
# rr_reference.py HOST:PORT START_MS END_MS SLICE_MS: sends the remote read
# requests sluice's remote read source sends for that range and slicing
# (one query per slice, matcher __name__=~".+", streamed XOR chunks then
# samples accepted), on one kept-alive connection, reading each answer
# whole and discarding it. Prints "requests bytes seconds cpu_seconds
# streamed|sampled".
import http.client, resource, sys, time


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(number, wire_type, payload):
    if wire_type == 0:
        return varint(number << 3) + varint(payload)
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def read_request(start, end):
    # prometheus.LabelMatcher{type=RE(2), name, value}; Query{start_timestamp_ms=1,
    # end_timestamp_ms=2, matchers=3}; ReadRequest{queries=1,
    # accepted_response_types=2 (packed: STREAMED_XOR_CHUNKS=1, SAMPLES=0)}.
    matcher = field(1, 0, 2) + field(2, 2, b"__name__") + field(3, 2, b".+")
    query = field(1, 0, start) + field(2, 0, end) + field(3, 2, matcher)
    return field(1, 2, query) + field(2, 2, bytes([1, 0]))


def snappy_literal(data):
    # A snappy block of literals only: the length, then chunks of at most
    # 65536 bytes, each a tag of (61 << 2) and its length - 1 in two bytes.
    out = bytearray(varint(len(data)))
    for k in range(0, len(data), 65536):
        piece = data[k:k + 65536]
        out += bytes([61 << 2]) + (len(piece) - 1).to_bytes(2, "little") + piece
    return bytes(out)


host, port = sys.argv[1].rsplit(":", 1)
start, end, slice_ms = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
           "X-Prometheus-Remote-Read-Version": "0.1.0"}
conn = http.client.HTTPConnection(host, int(port), timeout=600)
before = resource.getrusage(resource.RUSAGE_SELF)
slices = (end - start) // slice_ms + 1
total, kind = 0, ""
t0 = time.monotonic()
for k in range(slices):
    s = start + k * slice_ms
    body = snappy_literal(read_request(s, min(end, s + slice_ms - 1)))
    conn.request("POST", "/api/v1/read", body, headers)
    r = conn.getresponse()
    if r.status != 200:
        sys.exit("remote read answered HTTP %d: %s" % (r.status, r.read(300)))
    kind = r.getheader("Content-Type", "")
    while True:
        piece = r.read(1 << 20)
        if not piece:
            break
        total += len(piece)
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
print(slices, total, "%.3f" % (time.monotonic() - t0), "%.3f" % cpu,
      "streamed" if "ChunkedReadResponse" in kind else "sampled")
PY

span_ms=$(( (end_s - start_s) * 1000 ))
slice_ms() {  # a duration of sluice's (1h, 30m, 90s) in ms
  awk -v d="$1" 'BEGIN {
    n = d + 0; u = substr(d, length(n "") + 1)
    print n * (u == "ms" ? 1 : u == "s" ? 1000 : u == "m" ? 60000 : u == "h" ? 3600000 : u == "d" ? 86400000 : 1000)
  }'
}
url="http://127.0.0.1:$port/api/v1/read"
: > "$work/rr-table"
for slicing in whole "$rr_slice"; do
  if [ "$slicing" = whole ]; then slice="$(( span_ms / 1000 + 1 ))s"; else slice=$slicing; fi
  sms=$(slice_ms "$slice")
  compiler_wait
  p0=$(ticks "$prom_pid")
  ref=$(taskset -c "$sluice_cpus" python3 "$work/rr_reference.py" "127.0.0.1:$port" \
    "$((start_s * 1000))" "$((end_s * 1000))" "$sms")
  p1=$(ticks "$prom_pid")
  compiler_ref=0
  pgrep -x cc1plus > /dev/null && compiler_ref=1
  before=$(sink_samples)
  run_backfill "rr-$slicing" "$work/sink.yaml" --from "remote-read:$url" \
    --start "$start_s" --end "$end_s" --slice "$slice"
  p2=$(ticks "$prom_pid")
  got=$(( $(sink_samples) - before ))
  read -r wall user sys maxrss _ _ compiler < "$work/rr-$slicing.result"
  # slicing, then the reference's requests bytes seconds cpu kind and
  # Prometheus's ticks, then sluice's seconds (its own) cpu peak_rss
  # items sink_count, Prometheus's ticks, compiler flags.
  echo "$slicing $ref $((p1 - p0)) $(summary_field "rr-$slicing" seconds) $(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" \
    "$maxrss $(summary_field "rr-$slicing" items) $got $((p2 - p1)) $((compiler || compiler_ref))" >> "$work/rr-table"
done
echo
echo "| slicing | requests | reader | seconds | samples/s | Prometheus CPU-s | reader CPU-s | reader peak RSS MiB | samples (summary / sink) |"
echo "|---|---|---|---|---|---|---|---|---|"
awk -v n="$rr_samples" -v hz="$hz" '{
  label = ($1 == "whole" ? "whole range" : $1 " slices")
  printf "| %s | %d | reference: python3, answers (%s, %.0f MB) discarded | %.2f | %.3gM | %.2f | %.2f | | |\n",
    label, $2, $6, $3 / 1e6, $4, n / $4 / 1e6, $7 / hz, $5
  printf "| %s | %d | sluice backfill to the sink | %.2f | %.3gM | %.2f | %.2f | %.1f | %d / %d%s |\n",
    label, $2, $8, n / $8 / 1e6, $13 / hz, $9, $10 / 1024, $11, $12, ($11 == n && $12 == n ? "" : " MISMATCH")
}' "$work/rr-table"
awk -v hz="$hz" '{
  printf "%s: sluice at %.2f of the rate Prometheus serves; Prometheus spent %.2f CPU-s serving sluice, sluice %.2f CPU-s decoding and sending (Prometheus %.2f CPU-s answering the reference)\n",
    ($1 == "whole" ? "whole range" : $1 " slices"), $4 / $8, $13 / hz, $9, $7 / hz
}' "$work/rr-table"
awk '$14 == 1 { print "WARNING: a compiler (cc1plus) ran during the " $1 " slicing measurements" }' "$work/rr-table"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
