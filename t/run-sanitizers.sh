#!/bin/sh
# Build libmesh with ASan+UBSan in its own directory and run the suite.
# Criterion reports a test as passed even when LeakSanitizer or UBSan
# printed a report from its process, so the logs are scanned as well.
set -e
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
dir=${MESH_SAN_BUILDDIR:-$src/build-sanitizers}
mkdir -p "$dir"
cd "$dir"
[ -f Makefile ] || "$src/configure" --quiet --enable-sanitizers
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
rm -f t/*.log t/*/*.log man/*.log
make -j"$(nproc)" check
reports=$(grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:" t/*.log t/*/*.log 2>/dev/null || true)
if [ -n "$reports" ]; then
  echo "sanitizer reports in: $reports"
  grep -h -A 12 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" $reports | head -n 80
  exit 1
fi
echo "sanitizers: no reports"
