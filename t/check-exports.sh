#!/bin/sh
# The library exports exactly the mesh_* functions of the public headers,
# and each has a man page.
set -e
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
lib=$(ls "$top_builddir"/.libs/libmesh.so.* 2>/dev/null | head -n 1)
[ -n "$lib" ] || { echo "libmesh.so not built"; exit 1; }
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" {print $3}' | sed 's/@.*//' | sort)
declared=$(grep -hoE '\bmesh_[a-z0-9_]+\(' "$top_srcdir"/include/mesh/*.h | tr -d '(' | sort -u)
fail=0
for s in $exported; do
  echo "$declared" | grep -qx "$s" || { echo "exported but not declared: $s"; fail=1; }
done
for s in $declared; do
  echo "$exported" | grep -qx "$s" || { echo "declared but not exported: $s"; fail=1; }
  [ -f "$top_srcdir/man/man3/$s.3" ] || { echo "no man page: man/man3/$s.3"; fail=1; }
done
n=$(echo "$exported" | wc -l)
[ $fail = 0 ] && echo "exports: $n mesh_* functions, all declared and documented"
exit $fail
