#!/usr/bin/env bash
# Formats the C++ sources under src/ tests/ bench/ with clang-format 14 (the
# version Debian 12 ships, which .clang-format is written for: other versions
# format some constructs differently, so the check pins it).
#
#   tools/format.sh [--check] [ROOT]
#
# --check changes nothing: it lists every file clang-format would change and
# exits 1 if there is one (a ctest test runs it). ROOT defaults to this
# script's repository.
set -euo pipefail

check=0
if [[ "${1:-}" == "--check" ]]; then
  check=1
  shift
fi
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"

clang_format="${CLANG_FORMAT:-}"
if [[ -z "$clang_format" ]]; then
  for candidate in clang-format-14 clang-format; do
    if command -v "$candidate" >/dev/null; then
      clang_format="$candidate"
      break
    fi
  done
fi
if [[ -z "$clang_format" ]] || ! "$clang_format" --version | grep -q 'version 14\.'; then
  echo "format.sh: needs clang-format 14 (Debian 12's clang-format package; make deps)" >&2
  exit 2
fi

cd "$root"
dirs=()
for d in src tests bench; do
  if [[ -d "$d" ]]; then dirs+=("$d"); fi
done
# node_modules (tests/interop/js) holds other projects' code.
mapfile -d '' files < <(find "${dirs[@]}" -name node_modules -prune -o \
  -type f \( -name '*.h' -o -name '*.cc' \) -print0 | sort -z)

if [[ $check -eq 0 ]]; then
  printf '%s\0' "${files[@]}" | xargs -0 -r "$clang_format" -i
  exit 0
fi

# One clang-format run over every file: it reports each change as
# "file:line:col: warning: code should be clang-formatted".
if ! report=$(printf '%s\0' "${files[@]}" | xargs -0 -r "$clang_format" --dry-run 2>&1); then
  echo "$report" >&2
  echo "format.sh: clang-format failed" >&2
  exit 2
fi
mapfile -t unformatted < <(grep -E '^[^ :]+:[0-9]+:[0-9]+: (warning|error):' <<<"$report" |
  cut -d: -f1 | sort -u)
if [[ ${#unformatted[@]} -gt 0 ]]; then
  for f in "${unformatted[@]}"; do
    echo "$f: not clang-format clean (tools/format.sh, or make format, fixes it)"
  done
  exit 1
fi
echo "${#files[@]} files clang-format clean"
