#!/bin/sh
# Check the man pages against the public headers:
#  - every public function (MESH_EXTERN in include/mesh/*.h) has man3/<name>.3;
#  - that page's SYNOPSIS holds the function's exact prototype;
#  - every mesh_*(3) and libmesh(7) named in SEE ALSO exists;
#  - every page renders without a warning from groff or man-db.
# Run from anywhere: sh man/check-pages.sh. Exit status 0 means all passed.
# Needs groff; man-db's man(1) is used when present.
set -u
here=$(cd "$(dirname "$0")" && pwd)
inc="$here/../include/mesh"
cd "$here" || exit 2
fail=0
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT

say() { printf '%s\n' "$*" >&2; fail=1; }

# Prototypes, one per line, whitespace collapsed, MESH_EXTERN dropped.
awk '
  /^MESH_EXTERN / { buf = ""; on = 1 }
  on { buf = buf " " $0; if ($0 ~ /;/) { print buf; on = 0 } }
' "$inc"/*.h |
  sed -e 's/MESH_EXTERN //' -e 's/[[:space:]][[:space:]]*/ /g' \
      -e 's/^ //' -e 's/( /(/g' -e 's/ )/)/g' > "$tmp/protos"
[ -s "$tmp/protos" ] || { say "no MESH_EXTERN prototypes found in $inc"; exit 1; }

while IFS= read -r proto; do
  name=$(printf '%s\n' "$proto" | sed 's/^[^(]*[ *]\(mesh_[a-z0-9_]*\)(.*/\1/')
  page="man3/$name.3"
  if [ ! -f "$page" ]; then
    say "$name: no page $page"
    continue
  fi
  syn=$(groff -man -Tascii -P-cbou "$page" 2>/dev/null |
        awk '/^SYNOPSIS/ { on = 1; next } /^[A-Z]/ { on = 0 } on' |
        tr -s ' \n' '  ' | sed -e 's/( /(/g' -e 's/ )/)/g')
  case "$syn" in
    *"$proto"*) ;;
    *) say "$page: SYNOPSIS lacks: $proto" ;;
  esac
done < "$tmp/protos"

for f in man[1-9]/*; do
  [ -f "$f" ] || continue
  # SEE ALSO references to our own pages.
  for ref in $(awk '/^\.SH SEE ALSO/ { on = 1; next } /^\.SH/ { on = 0 }
                    on && /^\.BR (mesh_|libmesh)/ { print $2 $3 }' "$f" |
               sed 's/[(),]/ /g' | awk '{ print $1 "." $2 }'); do
    sec=${ref##*.}
    [ -f "man$sec/$ref" ] || say "$f: SEE ALSO names missing page man$sec/$ref"
  done
  out=$(groff -man -ww -z "$f" 2>&1)
  [ -z "$out" ] || say "$f: groff: $out"
  if command -v man >/dev/null 2>&1; then
    out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
          man --warnings -E UTF-8 -l "$f" 2>&1 >/dev/null)
    [ -z "$out" ] || say "$f: man: $out"
  fi
done

[ "$fail" -eq 0 ] && echo "man pages: all checks passed"
exit "$fail"
