#!/usr/bin/env bash
# The man pages (docs/man/*.scd, rendered by scdoc at build time): one per subcommand, each
# renders with man(1), and every option a subcommand takes (its option table, `headroom help
# --options`, or without one what its --help and `headroom --help` list) is documented in its
# page, and the other way round. A mismatch names the option, the subcommand and the side it is
# missing from.
. "$(dirname "$0")/lib.sh"
: "${SRC:?SRC must point at the source tree}"
command -v scdoc >/dev/null || { echo "skip: scdoc is not installed (scripts/install-deps.sh)"; exit 77; }
cd "$T"
"$HEADROOM" --help > global.txt
# the option table when the binary has one (`headroom help --options`: command, option, argument,
# default, help, tab-separated); else what each --help text and the global help mention
if "$HEADROOM" help --options > table.tsv 2>/dev/null && grep -q $'^run\t--' table.tsv; then
  source=table
  cmds=$(cut -f1 table.tsv | sort -u)
else
  source=help
  cmds=$(awk '/^  headroom [a-z]/ {print $2}' global.txt | sort -u)
fi
check "the subcommands, from the $source ($(echo $cmds))" test "$(echo "$cmds" | wc -l)" -ge 8

# options defined in a page: the definition lines of its OPTIONS section, "*--name*" (--help
# is left out on both sides: every command has it)
man_opts() { awk '/^# OPTIONS/ {f = 1; next} /^# / {f = 0} f && /^\*--[a-z]/ {print}' "$1" |
             grep -o '^\*--[a-z][a-z-]*' | tr -d '*' | grep -vx -- '--help' | sort -u; }
# options a help text mentions (not --help itself)
help_opts() { grep -o -- '--[a-z][a-z-]*' | grep -vx -- '--help' | sort -u; }

compare() {  # compare NAME PAGE HELP_OPTS_FILE
  local name=$1 page=$2 help=$3
  man_opts "$page" > man.lst
  local missing extra
  missing=$(comm -23 "$help" man.lst | tr '\n' ' ')
  extra=$(comm -13 "$help" man.lst | tr '\n' ' ')
  expect_eq "$name: every option of its --help is in $(basename "$page" .scd)" "${missing% }" ""
  expect_eq "$name: every option of $(basename "$page" .scd) is in its --help" "${extra% }" ""
}

for c in $cmds; do
  page="$SRC/docs/man/headroom-$c.1.scd"
  if [ ! -f "$page" ]; then fail "$c: no man page docs/man/headroom-$c.1.scd"; continue; fi
  if [ "$source" = table ]; then
    awk -F'\t' -v c="$c" '$1 == c {print $2}' table.tsv | grep -vx -- '--help' | sort -u > help.lst
  else
    # the subcommand's own --help when it has one, and its entry in the global help
    set +e; "$HEADROOM" "$c" --help > own.txt 2>&1; rc=$?; set -e
    [ "$rc" -eq 0 ] || : > own.txt
    awk -v c="$c" '/^  headroom / {f = ($2 == c)} /^$/ {f = 0} f' global.txt > entry.txt
    cat own.txt entry.txt | help_opts > help.lst
  fi
  compare "$c" "$page" help.lst
  rendered="$BUILD/man/headroom-$c.1"
  if [ -f "$rendered" ]; then
    out=$(MANWIDTH=100 man -l "$rendered" 2>man.err | col -b)
    check "$c: man headroom-$c renders (NAME, SYNOPSIS, EXIT STATUS)" \
      grep -q "headroom-$c - " <<<"$out"
    check "$c: the rendering has SYNOPSIS and EXIT STATUS" bash -c 'grep -q "^SYNOPSIS" <<<"$1" && grep -q "^EXIT STATUS" <<<"$1"' _ "$out"
    expect_eq "$c: man prints no warning" "$(cat man.err)" ""
  else
    fail "$c: $rendered was not built (the man target)"
  fi
done
# headroom(1): the top-level options (--version; --help is left out on both sides)
{ grep -E '^usage:|^ +headroom --' global.txt; "$HEADROOM" --version >/dev/null 2>&1 && echo --version; } | help_opts > top.lst
compare "headroom" "$SRC/docs/man/headroom.1.scd" top.lst
# every page is a subcommand's (no stale page)
for page in "$SRC"/docs/man/headroom-*.1.scd; do
  c=$(basename "$page" .1.scd); c=${c#headroom-}
  check "docs/man/headroom-$c.1.scd documents a subcommand that exists" grep -qx "$c" <<<"$cmds"
done
finish
