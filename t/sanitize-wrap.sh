#!/bin/sh
# Runs one test program (automake's LOG_COMPILER). Criterion runs each
# test in a child process and reports it passed even when AddressSanitizer,
# LeakSanitizer or UBSan printed a report there, so fail on any report.
out=$(mktemp) || exit 99
"$@" >"$out" 2>&1
rc=$?
cat "$out"
if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$out"; then
  echo "FAIL: sanitizer report above"
  rc=1
fi
rm -f "$out"
exit $rc
