#!/usr/bin/env bash
# Lists C functions longer than N lines (default 80) under src/, longest first, with whether a
# comment right above the function gives the reason ("Long because ..."). A function
# starts at a line beginning with an identifier and '(' whose body opens with '{' in column 0, and
# ends at the next '}' in column 0 (the kernel style this tree uses).
set -euo pipefail
max=${1:-80}
cd "$(dirname "$0")/.."
for f in $(git ls-files 'src/*.c'); do
	awk -v f="$f" -v max="$max" '
		/[Ll]ong because|why long/ { reason = NR }
		/^[a-zA-Z_].*\(/ && !/;[ \t]*$/ { sig = $0; sigline = NR }
		/^\{/ { start = NR; name = sig; sub(/\(.*/, "", name); n = split(name, w, /[ *]+/); name = w[n]; why = reason && NR - reason <= 10 }
		/^\}/ && start { len = NR - start; if (len > max) printf "%5d %s:%d %s%s\n", len, f, sigline, name, why ? " (reason given)" : ""; start = 0 }
' "$f"
done | sort -rn
