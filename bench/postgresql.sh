#!/usr/bin/env bash
# Collecting from PostgreSQL at scale: SERVERS (2) local PostgreSQL servers
# of DATABASES (250) databases each, every database a source of the
# `postgresql` receiver on the `standard` preset (500 sources: one
# connection, and one pipelined round trip every 30 s, each). sluice is
# pinned to core 0 (SLUICE_CPUS), the servers to core 1 (PG_CPUS).
#
# 1. Servers: initdb and postgres from PG_BIN (Debian's PostgreSQL 15, run as
#    the `postgres` user when the script runs as root) in a scratch
#    directory, on free ports of 127.0.0.1, trust authentication,
#    max_connections DATABASES + 50, fsync off, shared_buffers 16MB,
#    autovacuum off (AUTOVACUUM=on keeps it: with 250 databases its
#    workers start every quarter second and would blur the reference).
#    TABLES (5) tables of 1,000 rows with an index each are made in
#    template1, then the databases are created from it.
# 2. Idle reference: the servers' CPU time over IDLE (30) seconds before
#    sluice starts.
# 3. sluice with the sources in a `sources_file`, storing into its log
#    (`fsync: interval`, one I/O thread, no exporter), for WARMUP (60) s (the
#    first ticks are spread over one 30 s tick; after 60 s every source has
#    connected and run its 30 s and 60 s metrics), then measured over
#    `seconds` (default 300: one period of the preset's longest interval,
#    so every metric's share is in the window).
# 4. Over the window, from /proc: sluice's CPU time (utime + stime) as a
#    share of one core, and per thread name; its RSS every second (peak in
#    the window and over the run, VmHWM, the last), its threads and how
#    many are I/O threads (`io-<n>`); samples stored per second
#    (sluice_receiver_accepted_samples_total) and round trips per second
#    from its own metrics endpoint, read every 10 s; metric errors and
#    failed connections. Reference in the same run: the CPU time the
#    servers spent over the same window (the postmasters, their live
#    processes and the children they reaped), by process kind, and over
#    the idle seconds.
#    A table of RSS and samples stored every 30 s, and the RSS of every
#    second as a PNG line plot (PLOT, default bench/results/postgresql_rss.png;
#    PLOT=off skips it; python3's standard library only).
#
# Waits before starting sluice while a compiler (cc1plus) runs on the
# machine (COMPILER_WAIT=off does not: for smoke runs), and says whether one
# ran during the window. SLUICE_LOG=<file> keeps sluice's log. Everything
# started is stopped and the scratch directory removed on exit, Ctrl-C
# included.
#
# Usage: bench/postgresql.sh [build-dir] [seconds]   (SLUICE_BIN overrides
# the binary)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build/release}
seconds=${2:-${DURATION:-300}}
bin=${SLUICE_BIN:-$build/src/app/sluice}
servers=${SERVERS:-2}
databases=${DATABASES:-250}
tables=${TABLES:-5}
warmup=${WARMUP:-60}
idle=${IDLE:-30}
pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
pg_cpus=${PG_CPUS:-1}
plot=${PLOT:-$here/results/postgresql_rss.png}
hz=$(getconf CLK_TCK)

[ -x "$bin" ] || { echo "no sluice binary at $bin" >&2; exit 1; }
[ -x "$pg_bin/postgres" ] || { echo "no PostgreSQL at $pg_bin (PG_BIN)" >&2; exit 1; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

work=$(mktemp -d -p "${SLUICE_BENCH_DIR:-/tmp}" sluice-postgresql.XXXXXX)
pid=
pg_dirs=()
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  [ -z "${SLUICE_LOG:-}" ] || cp "$work/sluice.log" "$SLUICE_LOG" 2> /dev/null || true
  for d in "${pg_dirs[@]}"; do
    as_pg "$pg_bin/pg_ctl" -D "$d" -m immediate stop > /dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Runs a PostgreSQL program as `postgres` when root (initdb refuses root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = 0 ]; then chmod 755 "$work"; fi

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# utime + stime of a process or thread, in clock ticks; with `all`, also
# the children it reaped (cutime + cstime). comm may hold spaces, so the
# fields are counted after its closing parenthesis.
ticks() {  # stat-file [all]
  sed 's/.*) //' "$1" 2> /dev/null |
    awk -v all="${2:-}" '{ print $12 + $13 + (all ? $14 + $15 : 0) }' || echo 0
}

# The servers' processes, "key kind ticks" lines: each postmaster itself,
# the children it reaped (kind `exited`) and each live child by its title
# (client backends as `backend`).
postmasters=()
server_procs() {
  local pm c title stat f
  for pm in "${postmasters[@]}"; do
    echo "pm$pm postmaster $(ticks "/proc/$pm/stat")"
    echo "reaped$pm exited $(( $(ticks "/proc/$pm/stat" all) - $(ticks "/proc/$pm/stat") ))"
    # Builtins only in the loop: 500 children read without a fork each.
    for c in $(pgrep -P "$pm"); do
      stat= title=
      read -r stat 2> /dev/null < "/proc/$c/stat" || true
      IFS= read -r -d '' title 2> /dev/null < "/proc/$c/cmdline" || true
      read -r -a f <<< "${stat##*) }"
      title=${title#postgres: }
      case "$title" in
        "postgres "*) title=backend ;;
        *) title=${title%% } title=${title// /_} ;;
      esac
      echo "$c ${title:-exited} $(( ${f[11]:-0} + ${f[12]:-0} ))"
    done
  done
}
server_ticks() { server_procs | awk '{ s += $3 } END { print s + 0 }'; }

now() { date +%s.%N; }

echo "== $servers PostgreSQL servers × $databases databases ($("$pg_bin/postgres" --version)) =="
ports=()
for s in $(seq "$servers"); do
  d="$work/pg$s"
  mkdir -p "$d"
  [ "$(id -u)" != 0 ] || chown postgres: "$d"
  as_pg "$pg_bin/initdb" -D "$d/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    > "$d/initdb.log" 2>&1 || { cat "$d/initdb.log" >&2; exit 1; }
  port=$(free_port)
  cat >> "$d/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$d'
max_connections = $((databases + 50))
shared_buffers = 16MB
fsync = off
synchronous_commit = off
full_page_writes = off
autovacuum = ${AUTOVACUUM:-off}
logging_collector = off
log_min_messages = warning
CONF
  pg_dirs+=("$d/data")
  if [ "$(id -u)" = 0 ]; then
    taskset -c "$pg_cpus" runuser -u postgres -- "$pg_bin/pg_ctl" -D "$d/data" -l "$d/server.log" -w start > /dev/null
  else
    taskset -c "$pg_cpus" "$pg_bin/pg_ctl" -D "$d/data" -l "$d/server.log" -w start > /dev/null
  fi
  postmasters+=("$(head -1 "$d/data/postmaster.pid")")
  ports+=("$port")
done

psql_on() {  # port [psql args...]
  local port=$1; shift
  "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"
}

# Tables in template1, so that every database made from it has some.
for port in "${ports[@]}"; do
  for k in $(seq "$tables"); do
    echo "create table t$k (id int primary key, v text, n bigint);
          insert into t$k select g, md5(g::text), g * $k from generate_series(1, 1000) g;
          analyze t$k;"
  done | psql_on "$port" -d template1
done

# The databases, on all servers at once; progress every 25.
created=$(now)
creators=()
for s in $(seq "$servers"); do
  port=${ports[$((s - 1))]}
  for i in $(seq "$databases"); do
    echo "create database db$i;"
    [ $((i % 25)) -ne 0 ] || echo "\\echo server $s: $i / $databases databases"
  done | psql_on "$port" -d postgres &
  creators+=($!)
done
for c in "${creators[@]}"; do wait "$c"; done
echo "created $((servers * databases)) databases in $(awk -v a="$created" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }') s"

# sources.yaml: one source per database.
for s in $(seq "$servers"); do
  port=${ports[$((s - 1))]}
  for i in $(seq "$databases"); do
    printf -- '- name: s%d-db%d\n  conn_str: host=127.0.0.1 port=%s user=postgres dbname=db%d\n  preset_metrics: standard\n' \
      "$s" "$i" "$port" "$i"
  done
done > "$work/sources.yaml"

source "$here/lib.sh"
{
cat <<YAML
receivers:
  postgresql:
    sources_file: $work/sources.yaml
YAML
storage_and_service
cat <<YAML
    metrics:
      receivers: [postgresql]
YAML
} > "$work/sluice.yaml"

echo
echo "== idle servers, ${idle} s =="
t0=$(now); i0=$(server_ticks)
sleep "$idle"
idle_ticks=$(( $(server_ticks) - i0 )); idle_secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')
awk -v t="$idle_ticks" -v hz="$hz" -v s="$idle_secs" \
  'BEGIN { printf "servers idle: %.2f%% of a core\n", 100 * t / hz / s }'

if [ "${COMPILER_WAIT:-on}" = on ] && pgrep -f cc1plus > /dev/null; then
  echo "a compiler is running (cc1plus): waiting for it to end before measuring"
  while pgrep -f cc1plus > /dev/null; do sleep 5; done
  echo "no compiler running any more"
fi

echo
echo "== sluice, $((servers * databases)) sources, standard preset: ${warmup} s warm-up, ${seconds} s measured =="
start_pinned_sluice
grep -q 'admin=' "$work/sluice.log" || { cat "$work/sluice.log" >&2; exit 1; }
admin=$(grep -o 'admin=[0-9.:]*' "$work/sluice.log" | head -1 | cut -d= -f2)
started=$(now)

# metric NAME: the sum of a counter over its labels in sluice's metrics.
metrics_text=
read_metrics() { metrics_text=$(curl -s "http://$admin/metrics"); }
metric() {
  awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%.0f", s }' <<< "$metrics_text"
}

# Per-thread CPU ticks, "tid name ticks" lines.
thread_ticks() {
  local t
  for t in /proc/"$pid"/task/*; do
    echo "${t##*/} $(cat "$t/comm" 2> /dev/null) $(ticks "$t/stat")"
  done
}

: > "$work/rss"      # elapsed rss_kib
: > "$work/stored"   # elapsed accepted_samples
peak_all=0; peak_window=0; compiler_seen=0
end_at=$((warmup + seconds))
elapsed=0
next_read=10
while [ "$elapsed" -lt "$end_at" ]; do
  sleep 1
  kill -0 "$pid" 2> /dev/null || { echo "sluice exited:" >&2; tail "$work/sluice.log" >&2; exit 1; }
  elapsed=$(awk -v a="$started" -v b="$(now)" 'BEGIN { printf "%d", b - a }')
  rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
  echo "$elapsed $rss" >> "$work/rss"
  [ "$rss" -le "$peak_all" ] || peak_all=$rss
  if [ -n "${w_start:-}" ] && [ "$rss" -gt "$peak_window" ]; then peak_window=$rss; fi
  if [ "$elapsed" -ge "$next_read" ]; then
    next_read=$((next_read + 10))
    read_metrics
    echo "$elapsed $(metric sluice_receiver_accepted_samples_total)" >> "$work/stored"
    pgrep -f cc1plus > /dev/null && [ -n "${w_start:-}" ] && compiler_seen=1
  fi
  if [ -z "${w_start:-}" ] && [ "$elapsed" -ge "$warmup" ]; then
    w_start=$(now)
    w_sluice=$(ticks "/proc/$pid/stat")
    server_procs > "$work/servers.start"
    w_servers=$(awk '{ s += $3 } END { print s + 0 }' "$work/servers.start")
    thread_ticks > "$work/threads.start"
    read_metrics
    w_stored=$(metric sluice_receiver_accepted_samples_total)
    w_trips=$(metric sluice_receiver_postgresql_round_trips_total)
    w_errors=$(metric sluice_receiver_postgresql_metric_errors_total)
    w_failures=$(metric sluice_receiver_postgresql_failures_total)
  fi
done
w_end=$(now)
d_sluice=$(( $(ticks "/proc/$pid/stat") - w_sluice ))
server_procs > "$work/servers.end"
d_servers=$(( $(awk '{ s += $3 } END { print s + 0 }' "$work/servers.end") - w_servers ))
thread_ticks > "$work/threads.end"
read_metrics
stored=$(( $(metric sluice_receiver_accepted_samples_total) - w_stored ))
trips=$(( $(metric sluice_receiver_postgresql_round_trips_total) - w_trips ))
errors=$(metric sluice_receiver_postgresql_metric_errors_total)
failures=$(metric sluice_receiver_postgresql_failures_total)
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
last=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
window=$(awk -v a="$w_start" -v b="$w_end" 'BEGIN { print b - a }')

echo
awk -v d="$d_sluice" -v r="$d_servers" -v it="$idle_ticks" -v is="$idle_secs" -v hz="$hz" -v w="$window" '
  BEGIN {
    s = 100 * d / hz / w; p = 100 * r / hz / w; i = 100 * it / hz / is
    printf "sluice CPU:          %.2f%% of one core (%.2f s over %.0f s)\n", s, d / hz, w
    printf "servers CPU (ref.):  %.2f%% of a core (%.2f s); idle %.2f%%, so %.2f%% answering\n", p, r / hz, i, p - i
    printf "sluice / servers:    %.3f (%.3f of what answering cost them)\n", d / r, (p - i > 0 ? s / (p - i) : 0)
  }'
awk -v st="$stored" -v tr="$trips" -v w="$window" \
  'BEGIN { printf "samples stored:      %.0f/s (%d in the window); round trips %.1f/s\n", st / w, st, tr / w }'
echo "metric errors:       $errors over the run ($((errors - w_errors)) in the window)"
echo "failed connections:  $failures over the run ($((failures - w_failures)) in the window)"
if [ "$errors" -gt 0 ]; then
  grep '^sluice_receiver_postgresql_metric_errors_total' <<< "$metrics_text" | awk '$NF > 0' | sed 's/^/  /'
fi
if [ "$errors" -gt 0 ] || [ "$failures" -gt 0 ]; then
  echo "  sluice's warnings, by message and error (source and time left out):"
  grep 'level=warn' "$work/sluice.log" | sed -E 's/^ts=[^ ]* //; s/ source=[^ ]*//' |
    sort | uniq -c | sort -rn | head -8 | sed 's/^/  /'
fi
awk -v p="$peak_window" -v a="$peak_all" -v h="$hwm" -v l="$last" \
  'BEGIN { printf "RSS:                 peak %.1f MiB in the window, %.1f MiB over the run, VmHWM %.1f MiB, last %.1f MiB\n", p / 1024, a / 1024, h / 1024, l / 1024 }'
names=$(awk '{ print $2 }' "$work/threads.end")
io=$(grep -c '^io-[0-9]*$' <<< "$names" || true)
echo "threads:             $(wc -l <<< "$names") ($io I/O threads): $(sort <<< "$names" | uniq -c | awk '{ printf "%s%s×%d", sep, $2, $1; sep = ", " }')"
echo "CPU by thread in the window:"
awk -v hz="$hz" -v w="$window" '
  NR == FNR { start[$1] = $3; next }
  { cpu[$2] += $3 - start[$1] }
  END { for (n in cpu) printf "  %-16s %6.2f s  %5.2f%% of a core\n", n, cpu[n] / hz, 100 * cpu[n] / hz / w }' \
  "$work/threads.start" "$work/threads.end" | sort -k2 -rn
echo "servers' CPU in the window by process (exited: processes that ended in it):"
# A process gone by the end gives back its ticks at the start: what it
# spent in the window is in its postmaster's reaped (exited) ticks.
awk -v hz="$hz" -v w="$window" '
  NR == FNR { start[$1] = $3; kind[$1] = $2; next }
  { cpu[$2] += $3 - start[$1]; n[$2]++; seen[$1] = 1 }
  END {
    for (k in start) if (!(k in seen)) cpu["exited"] -= start[k]
    for (c in cpu) printf "  %-28s %4s  %7.2f s  %5.2f%% of a core\n", c, (c == "exited" ? "" : n[c]), cpu[c] / hz, 100 * cpu[c] / hz / w
  }' "$work/servers.start" "$work/servers.end" | sort -k3 -rn
if [ "$compiler_seen" = 1 ]; then
  echo "WARNING: a compiler (cc1plus) ran during the window; the figures are polluted"
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "RSS and samples stored, about every 30 s:"
echo "| s | RSS MiB | samples stored |"
echo "|---|---|---|"
awk 'NR == FNR { rss[$1] = $2; next }
     $1 >= mark { printf "| %d | %.1f | %d |\n", $1, rss[$1] / 1024, $2; mark += 30 }' mark=30 "$work/rss" "$work/stored"

if [ "$plot" != off ]; then
  PYTHONPATH="$here" python3 - "$work/rss" "$plot" "$warmup" "$((servers * databases))" <<'PY'
# A line plot of RSS (MiB) over time as a PNG (bench/png_canvas.py).
import sys
from png_canvas import Canvas

rows = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
out, warmup, sources = sys.argv[2], float(sys.argv[3]), sys.argv[4]
ts = [r[0] for r in rows]
mib = [r[1] / 1024 for r in rows]

W, H = 720, 360
L, R, T, B = 64, 20, 34, 44  # margins
cv = Canvas(W, H)
px, line, text = cv.px, cv.line, cv.text


t_max = max(ts) if ts else 1
m_max = max(mib) if mib else 1
step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500) if m_max / s <= 8)
y_top = step * (int(m_max / step) + 1)
x_step = next(s for s in (10, 30, 60, 120, 300, 600) if t_max / s <= 10)
pw, ph = W - L - R, H - T - B


def X(t):
    return L + round(pw * t / t_max)


def Y(m):
    return T + ph - round(ph * m / y_top)


grey, axis, blue, shade = (225, 225, 225), (0, 0, 0), (31, 90, 180), (245, 242, 230)
for x in range(L + 1, X(min(warmup, t_max))):
    for y in range(T, T + ph):
        px(x, y, shade)
cv.y_grid(L, pw, y_top, step, Y)
t = 0
while t <= t_max:
    line(X(t), T, X(t), T + ph, grey)
    s = str(int(t))
    text(X(t) - 3 * len(s), T + ph + 8, s)
    t += x_step
line(L, T, L, T + ph, axis)
line(L, T + ph, L + pw, T + ph, axis)
for k in range(1, len(ts)):
    line(X(ts[k - 1]), Y(mib[k - 1]), X(ts[k]), Y(mib[k]), blue, 2)
text(L, 10, "sluice RSS (MiB), " + sources + " postgresql sources, standard preset")
text(L + 6, T + 6, "warm-up", (120, 110, 80))
text(L + pw // 2 - 40, H - 16, "seconds from start")

cv.save(out)
print("RSS plot: " + out)
PY
fi
