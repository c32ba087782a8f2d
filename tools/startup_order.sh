#!/usr/bin/env bash
# Writes src/app/startup_functions.txt: the functions sluice runs from its
# start to idle, in the two ways people start it (the embedded default of
# `make run`, and one OTLP/HTTP receiver with a file exporter).
#
# The release link places these functions side by side (lld's
# --symbol-ordering-file, src/app/CMakeLists.txt). Start-up then touches a
# few pages of code instead of one in every corner of the binary, and every
# page touched costs resident memory: the kernel maps the 64 KiB around a
# fault (docs/memory.md).
#
# Run it again after changes to start-up (with valgrind installed); names no
# longer in the binary are ignored, so an old list costs memory, never
# correctness.
#
#   tools/startup_order.sh [path/to/sluice]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-build/release/src/app/sluice}")
out=src/app/startup_functions.txt
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

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

# Runs sluice under callgrind until it has been idle for a while, then
# writes the names of the functions of the binary it ran.
profile() {
  local name=$1
  shift
  mkdir -p "$work/$name"
  (cd "$work/$name" && exec valgrind --tool=callgrind --demangle=no \
    --callgrind-out-file="$work/$name.cg" "$bin" run "$@" >"$work/$name.log" 2>&1) &
  local pid=$!
  sleep "${STARTUP_SECONDS:-15}"
  kill -INT "$pid"
  wait "$pid" || true
  python3 - "$work/$name.cg" "$bin" <<'PY'
import re, sys
path, binary = sys.argv[1], sys.argv[2]
objects, functions, current, names = {}, {}, None, set()
for line in open(path):
    m = re.match(r'(c?ob)=\((\d+)\)(?: (.*))?$', line.rstrip('\n'))
    if m:
        if m.group(3):
            objects[m.group(2)] = m.group(3)
        if m.group(1) == 'ob':
            current = objects.get(m.group(2))
        continue
    m = re.match(r'(c?fn)=\((\d+)\)(?: (.*))?$', line.rstrip('\n'))
    if m:
        if m.group(3):
            functions[m.group(2)] = m.group(3)
        if m.group(1) == 'fn' and current == binary:
            # callgrind marks a function entered again recursively with 'N.
            names.add(re.sub(r"'\d+$", '', functions[m.group(2)]))
for n in sorted(names):
    # Unnamed code (an address) and valgrind's "(below main)" cannot be placed.
    if not n.startswith(('0x', '(')):
        print(n)
PY
}

echo "profiling the embedded default ..." >&2
profile default >"$work/default.txt"
echo "profiling one OTLP receiver ..." >&2
profile otlp --config "$work/otlp.yaml" >"$work/otlp.txt"
{
  echo "# Functions sluice runs from start to idle; written by tools/startup_order.sh."
  sort -u "$work/default.txt" "$work/otlp.txt"
} >"$out"
echo "$(grep -vc '^#' "$out") functions written to $out" >&2
