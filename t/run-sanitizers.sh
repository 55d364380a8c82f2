#!/bin/sh
# The whole suite under ASan+UBSan, from a pristine copy of the sources
# (make distcheck with --enable-sanitizers): works whether or not the
# source tree itself was configured in place.
set -e
cd "${1:-$(dirname "$0")/..}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
make -j"$(nproc)" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-sanitizers >/dev/null
echo "sanitizers: make check passed under ASan+UBSan (leak checks on)"
