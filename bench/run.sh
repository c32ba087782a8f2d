#!/usr/bin/env bash
# Runs every benchmark and prints each figure next to its same-run reference.
# Usage: bench/run.sh [build-dir]   (make bench builds and calls this)
#   LOG_GIB=N   size of the log used for recovery, replay and RSS (default 4)
#   SLUICE_BENCH_DIR=DIR   directory on the disk to measure (default $TMPDIR)
set -euo pipefail
build=${1:-build/release}
dir=${SLUICE_BENCH_DIR:-${TMPDIR:-/tmp}}
echo "== decoding: zero-copy walker vs memcpy of the same bytes vs libprotobuf =="
"$build/bench/wire_bench" --benchmark_min_time=1
echo
echo "== processors on one core: filter, filter + ten attributes actions vs memcpy and the walker =="
taskset -c 0 "$build/bench/processors_bench" --benchmark_min_time=1
echo
echo "== connectors on one core: spanmetrics + servicegraph vs memcpy and the walker =="
taskset -c 0 "$build/bench/connectors_bench" --benchmark_min_time=1
echo
echo "== log: append, recovery, replay and RSS vs raw O_DIRECT write of the same disk =="
"$build/bench/log_throughput" --dir "$dir" --gib "${LOG_GIB:-4}"
