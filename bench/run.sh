#!/usr/bin/env bash
# Runs every benchmark and prints each figure next to its same-run reference.
# Usage: bench/run.sh [build-dir]   (make bench builds and calls this)
set -euo pipefail
build=${1:-build/release}
echo "== decoding: zero-copy walker vs memcpy of the same bytes vs libprotobuf =="
"$build/bench/wire_bench" --benchmark_min_time=1
echo
echo "== log append vs raw sequential write() to the same directory =="
"$build/bench/log_bench" --benchmark_min_time=1
