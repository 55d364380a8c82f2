#!/bin/sh
# Build libmesh with ASan+UBSan in its own directory and run the suite.
set -e
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
dir=${MESH_SAN_BUILDDIR:-$src/build-sanitizers}
mkdir -p "$dir"
cd "$dir"
[ -f Makefile ] || "$src/configure" --enable-sanitizers --disable-silent-rules >/dev/null
# detect_leaks: every test must free what it allocates.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  make -j"$(nproc)" check
