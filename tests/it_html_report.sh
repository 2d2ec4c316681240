#!/usr/bin/env bash
# it_html_report: the self-contained HTML report, rendered by a real browser (Debian's chromium,
# headless). For every kind of recording (full, without heap, without load, without a cgroup, a
# single sample, an OOM-killed run, no samples) and the compare view: the page's script ran
# without a console error, the expected sections are there, the page says what the recording
# lacks, the page made no network request (checked on chromium's own net log, with a canary page
# that does make requests proving the check can fail), a screenshot is not blank (pixels, light
# and dark), a spike seen only by the exact interval peak survives decimation of 200,000
# samples, a mouse over a chart shows the time and values there, and printing gives A4 pages.
set -euo pipefail
: "${BUILD:?}" "${SRC:?}"

if ! bash "$SRC/scripts/install-deps.sh" browser >&2; then
	echo "skip: chromium could not be installed (scripts/install-deps.sh browser failed)"
	exit 77
fi
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || { echo "skip: no chromium after installing the browser group"; exit 77; }
TOOL="$BUILD/tests/tools/html_tool"
CHECK="python3 $SRC/tests/lib/html_check.py"
[ -x "$TOOL" ] || { echo "FAIL: $TOOL not built" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# browse NAME FILE [chromium args]: headless chromium on FILE, net log in $tmp/NAME.net.json,
# the browser's log (console messages included) in $tmp/NAME.err
browse() {
	local name=$1 file=$2
	shift 2
	timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --disable-sync --no-first-run --disable-extensions \
		--disable-default-apps --no-pings --user-data-dir="$(mktemp -d -p "$tmp")" \
		--host-resolver-rules='MAP * ~NOTFOUND' --log-net-log="$tmp/$name.net.json" \
		--enable-logging=stderr --v=0 "$@" "file://$file" 2>"$tmp/$name.err"
}

no_console_errors() {
	if grep -E 'CONSOLE|Uncaught' "$tmp/$1.err" >&2; then
		fail "$1: the page logged to the console (errors, CSP violations)"
	fi
}

no_page_requests() {
	$CHECK net "$tmp/$1.net.json" >"$tmp/$1.net" || { cat "$tmp/$1.net" >&2; fail "$1: the page made network requests"; }
}

# The checks must be able to fail: a page that requests and throws is caught by both.
cat >"$tmp/canary.html" <<'HTML'
<html><body><img src="http://canary.invalid/x.png"><script>console.error("canary"); null.x;</script></body></html>
HTML
browse canary "$tmp/canary.html" --dump-dom >/dev/null
$CHECK net "$tmp/canary.net.json" >/dev/null && fail "the net log check did not see the canary's request"
grep -q 'CONSOLE' "$tmp/canary.err" || fail "the console check did not see the canary's error"

# contains NAME TEXT...: the rendered DOM has every TEXT
contains() {
	local name=$1
	shift
	for t in "$@"; do
		grep -qF -- "$t" "$tmp/$name.dom" || fail "$name: the rendered page lacks '$t'"
	done
}
lacks() {
	local name=$1
	shift
	for t in "$@"; do
		if grep -qF -- "$t" "$tmp/$name.dom"; then fail "$name: the rendered page should not have '$t'"; fi
	done
}

for sc in full noheap noload nocgroup single oom empty; do
	"$TOOL" synth "$sc" 3000 "$tmp/$sc.html" --summary >"$tmp/$sc.spike"
	# the file alone: nothing that could load from elsewhere
	if grep -Eion 'https?://|src=|url\(|@import|<link|<iframe|<img|<object|<embed|href=' "$tmp/$sc.html" | head -5 >&2; then
		fail "$sc.html references something outside itself"
	fi
	browse "$sc" "$tmp/$sc.html" --dump-dom >"$tmp/$sc.dom"
	no_console_errors "$sc"
	no_page_requests "$sc"
	contains "$sc" 'data-ready="1"' 'id="verdict"' 'TEST-VERDICT' 'memory stabilised after startup and tracks load &lt;with markup&gt;' \
		'id="answers"' 'TEST-ANSWER-1' 'TEST-ANSWER-3' 'id="recommendation"' 'limit 300Mi' 'request 200Mi' \
		'TEST-RECOMMENDATION' 'id="building"'
	lacks "$sc" 'data-error=' '<with markup>'
done

# what each recording lacks, said in plain words, and the charts it can have
contains full 'id="chart-memory"' 'id="chart-load"' 'id="chart-blind"' 'live heap' 'allocator-held' 'working set (kubelet)' \
	'interval peak (exact)' 'recommended limit 300.0Mi' 'limit 512.0Mi' 'class="band b-load"' 'class="band b-startup"' 'exit 0' \
	'data-charts="3"'
lacks full 'What this recording lacks'
contains noheap 'No heap figures' 'the target is statically linked'
lacks noheap 'class="held"'
contains noload 'No load was driven' 'No load panel'
lacks noload 'id="chart-load"'
contains nocgroup 'No cgroup figures'
lacks nocgroup 'working set (kubelet)</span>'
contains single 'Only one sample' 'less than one scrape interval'
contains oom 'OOM-killed' 'OOM kill' 'limit 200.0Mi' 'class="verdict t-oom"'
contains empty 'No samples' 'data-charts="0"'

# no spike disappears: 200,000 samples into ~830 columns, one spike of one interval
"$TOOL" synth full 200000 "$tmp/big.html" >"$tmp/big.spike"
spike=$(awk '/^spike/{print $2}' "$tmp/big.spike")
browse big "$tmp/big.html" --dump-dom >"$tmp/big.dom"
no_console_errors big
no_page_requests big
got=$($CHECK hover "$tmp/big.dom" chart-memory 'interval peak (exact)')
[ "$got" = "$spike" ] || fail "the spike of $spike bytes became $got after decimation"
size=$(stat -c %s "$tmp/big.html")
[ "$size" -lt 1500000 ] || fail "a 200,000-sample report is $size bytes: decimation is not bounding it"

# through a real recording: record.c writes it, record_open reads it back, the charts are the same
# as from the recording in memory; an OOM-killed recording says so; a file that is not a
# recording is refused with a message
"$TOOL" record full 3000 "$tmp/rec-full.db" >/dev/null
"$TOOL" render "$tmp/rec-full.db" "$tmp/rec-full.html"
"$TOOL" synth full 3000 "$tmp/mem-full.html" >/dev/null
$CHECK same-charts "$tmp/mem-full.html" "$tmp/rec-full.html" >"$tmp/same.txt" ||
	{ cat "$tmp/same.txt" >&2; fail "the report of the stored recording differs from the one in memory"; }
"$TOOL" record oom 3000 "$tmp/rec-oom.db" >/dev/null
"$TOOL" render "$tmp/rec-oom.db" "$tmp/rec-oom.html"
browse rec-oom "$tmp/rec-oom.html" --dump-dom >"$tmp/rec-oom.dom"
no_console_errors rec-oom
no_page_requests rec-oom
contains rec-oom 'data-ready="1"' 'OOM-killed' 'The service was OOM-killed' "$tmp/rec-oom.db"
"$TOOL" record noload 3000 "$tmp/rec-noload.db" >/dev/null
"$TOOL" render-compare "$tmp/rec-full.db" "$tmp/rec-noload.db" "$tmp/rec-cmp.html"
grep -q 'id="chart-compare"' "$tmp/rec-cmp.html" || fail "no compare chart from two stored recordings"
if "$TOOL" render "$tmp/full.html" "$tmp/bad.html" 2>"$tmp/bad.err"; then fail "an HTML file was rendered as a recording"; fi
grep -q 'not a headroom recording' "$tmp/bad.err" || fail "no message for a file that is not a recording: $(cat "$tmp/bad.err")"
[ ! -e "$tmp/bad.html" ] || fail "a report was written for a file that is not a recording"

# a real run: headroom records memspike (20 MiB, then 100 MiB more for 5 ms, 8 times); the
# report marks as the peak what the program itself read from VmHWM
: "${HEADROOM:?}"
"$HEADROOM" run --quiet --no-heap --interval 20ms --record "$tmp/real.db" -- \
	"$BUILD/tests/progs/memspike" 20 100 5 400 8 >"$tmp/real.out" 2>"$tmp/real.err" ||
	fail "headroom run failed: $(cat "$tmp/real.err")"
"$TOOL" render "$tmp/real.db" "$tmp/real.html"
browse real "$tmp/real.html" --dump-dom >"$tmp/real.dom"
no_console_errors real
no_page_requests real
contains real 'data-ready="1"' 'id="chart-memory"' 'id="chart-blind"' 'exit 0' 'memspike'
want_kb=$(awk '/^peak_kb/ {print $2}' "$tmp/real.out" | tail -1)
got_mi=$(grep -o 'peak [0-9.]*Mi at' "$tmp/real.dom" | head -1 | grep -o '[0-9.]*')
[ -n "$want_kb" ] && [ -n "$got_mi" ] || fail "no peak to compare (program: '$want_kb' kB, report: '$got_mi' Mi)"
awk -v w="$want_kb" -v g="$got_mi" 'BEGIN { d = g - w / 1024; exit !(d < 0.3 && d > -0.3) }' ||
	fail "the report marks a peak of ${got_mi}Mi, the program saw $want_kb kB"

# a real OOM kill: memgrow under a 64 MiB limit
rc=0
"$HEADROOM" run --quiet --limit 64Mi --interval 20ms --record "$tmp/real-oom.db" -- \
	"$BUILD/tests/progs/memgrow" 200 8 20 100 >/dev/null 2>"$tmp/real-oom.err" || rc=$?
[ "$rc" = 137 ] || fail "memgrow under a 64Mi limit exited $rc, not 137: $(cat "$tmp/real-oom.err")"
"$TOOL" render "$tmp/real-oom.db" "$tmp/real-oom.html"
browse real-oom "$tmp/real-oom.html" --dump-dom >"$tmp/real-oom.dom"
no_console_errors real-oom
no_page_requests real-oom
contains real-oom 'data-ready="1"' 'OOM-killed' 'under a limit of 64.0Mi' '>OOM kill<' '>killed by signal 9<' 'limit 64.0Mi'

# a real run with load: the C demo service under two stages; the load panel comes from the load rows
if [ -x "$BUILD/demo-c-svc" ]; then
	# a free port outside the ephemeral range (tests/free_port.py); should another test draw the
	# same one at the same instant ("Address already in use"), pick again
	for attempt in 1 2 3; do
		port=$(python3 "$SRC/tests/free_port.py")
		rm -f "$tmp/real-load.db"
		rc=0
		"$HEADROOM" run --quiet --limit 512Mi --interval 50ms --record "$tmp/real-load.db" \
			--load 2s:10,2s:40 --ready "127.0.0.1:$port" --path '/work?kb=1024&ms=30' --cooldown 1s \
			-- "$BUILD/demo-c-svc" --listen "127.0.0.1:$port" >/dev/null 2>"$tmp/real-load.err" || rc=$?
		[ "$rc" = 0 ] || ! grep -q "Address already in use" "$tmp/real-load.err" && break
	done
	[ "$rc" = 0 ] || fail "headroom run --load failed (exit $rc): $(cat "$tmp/real-load.err")"
	"$TOOL" render "$tmp/real-load.db" "$tmp/real-load.html"
	browse real-load "$tmp/real-load.html" --dump-dom >"$tmp/real-load.dom"
	no_console_errors real-load
	no_page_requests real-load
	contains real-load 'data-ready="1"' 'id="chart-load"' 'requests/s' 'in flight' 'class="band b-load"' '>ready<'
	lacks real-load 'No load was driven'
fi

# with the analysis, as the CLI writes it (html_report_file): the verdict, the checklist and the
# recommendation on the page are the ones `headroom report --json` gives for the same recording
analysed() { # analysed NAME REC
	local name=$1 rec=$2
	"$TOOL" report "$rec" "$tmp/$name.html"
	browse "$name" "$tmp/$name.html" --dump-dom >"$tmp/$name.dom"
	no_console_errors "$name"
	no_page_requests "$name"
	"$HEADROOM" report "$rec" --json >"$tmp/$name.json"
	local verdict limit request
	verdict=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["trend"]["verdict"])' "$tmp/$name.json")
	limit=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["recommendation"]["limit"])' "$tmp/$name.json")
	request=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["recommendation"]["request"])' "$tmp/$name.json")
	contains "$name" 'data-ready="1"' "class=\"verdict t-$verdict\"" "limit $limit · request $request" \
		"memory: $limit" "memory: $request" 'Growing or stable?' 'Heap or allocator?' 'Did a short spike do it?' \
		'Does memory track traffic?' 'recommended limit '
	lacks "$name" 'No analysis was attached' 'Not answered'
	# the resources: block parsed as YAML (a user pastes it into a manifest): requests and limits
	# hold the same figures as the JSON recommendation, each in its place
	python3 - "$tmp/$name.html" "$tmp/$name.json" <<'PY' || fail "$name: the resources: block is not the recommendation"
import html, json, re, sys, yaml
page = open(sys.argv[1], encoding="utf-8").read()
blocks = re.findall(r"<pre><code>(resources:.*?)</code></pre>", page, re.S)
assert len(blocks) == 1, "%d resources: blocks" % len(blocks)
doc = yaml.safe_load(html.unescape(blocks[0]))
rec = json.load(open(sys.argv[2]))["recommendation"]
want = {"resources": {"requests": {"memory": rec["request"]}, "limits": {"memory": rec["limit"]}}}
assert doc == want, "YAML %r, JSON says %r" % (doc, want)
assert list(doc["resources"]) == ["requests", "limits"], list(doc["resources"])
print("resources: block ok:", doc)
PY
}
"$TOOL" record full 3000 "$tmp/an-full.db" >/dev/null
analysed an-full "$tmp/an-full.db"
contains an-full 'class="band b-load"' '>stage 0<' 'the live heap does not grow'
analysed an-real "$tmp/real.db"
contains an-real 'unavailable —' 'Not known: no load was driven' 'anonymous (heap and more)' \
	'The heap was not measured: off (--heap off)'
# the page says why there is no heap in the analysis's words, as the terminal does; the
# recorder's bare word ("off") was shown before
lacks an-real 'No heap figures: off'
[ -s "$tmp/real-load.db" ] && analysed an-load "$tmp/real-load.db" && contains an-load '>stage 1<'
"$TOOL" record leak 3000 "$tmp/an-leak.db" >/dev/null
analysed an-leak "$tmp/an-leak.db"
contains an-leak 'class="verdict t-growing"' 'live heap grows with memory'
"$TOOL" record empty 0 "$tmp/an-empty.db" >/dev/null
"$TOOL" report "$tmp/an-empty.db" "$tmp/an-empty.html"
browse an-empty "$tmp/an-empty.html" --dump-dom >"$tmp/an-empty.dom"
no_console_errors an-empty
contains an-empty 'No memory samples were recorded' 'No samples at all'
"$TOOL" report-compare "$tmp/an-full.db" "$tmp/an-leak.db" "$tmp/an-cmp.html"
browse an-cmp "$tmp/an-cmp.html" --dump-dom >"$tmp/an-cmp.dom"
no_console_errors an-cmp
no_page_requests an-cmp
contains an-cmp 'data-ready="1"' 'class="verdict t-growing"' 'A: recommended' 'B: recommended' 'id="chart-compare"'

# compare view
"$TOOL" compare 3000 "$tmp/cmp.html"
browse cmp "$tmp/cmp.html" --dump-dom >"$tmp/cmp.dom"
no_console_errors cmp
no_page_requests cmp
contains cmp 'data-ready="1"' 'id="side-a"' 'id="side-b"' 'id="chart-compare"' 'B: RSS' 'A: live heap' 'id="compare-building"'

# hover: a real mouse move over the memory chart shows the time and the values there
$CHECK pointer "$CHROMIUM" "$tmp/full.html" chart-memory >"$tmp/hover.txt" || { cat "$tmp/hover.txt" >&2; fail "no hover box"; }
grep -q '^t = [0-9.]*s' "$tmp/hover.txt" || fail "the hover box shows no time: $(cat "$tmp/hover.txt")"
grep -Eq '^RSS: ([0-9.]+Mi – )?[0-9.]+Mi' "$tmp/hover.txt" || fail "the hover box shows no RSS: $(cat "$tmp/hover.txt")"
grep -Eq '^allocator-held: ' "$tmp/hover.txt" || fail "the hover box shows no allocator-held: $(cat "$tmp/hover.txt")"

# pixels: light, dark, and the compare view
shot() { # shot NAME FILE [args]
	local name=$1 file=$2
	shift 2
	browse "$name" "$file" --hide-scrollbars --window-size=1000,1300 --screenshot="$tmp/$name.png" "$@" >/dev/null
	no_console_errors "$name"
	no_page_requests "$name"
	[ -s "$tmp/$name.png" ] || fail "$name: no screenshot"
	$CHECK png "$tmp/$name.png" >"$tmp/$name.px"
	cat "$tmp/$name.px" | tr '\n' ' '
	echo
}
val() { awk -F= -v k="$2" '$1 == k {print $2}' "$tmp/$1.px"; }
shot light "$tmp/full.html"
shot dark "$tmp/full.html" --force-dark-mode --blink-settings=preferredColorScheme=0
shot cmpshot "$tmp/cmp.html"
for s in light dark cmpshot; do
	[ "$(val $s non_background_permille)" -ge 40 ] || fail "$s: the screenshot is nearly blank"
	[ "$(val $s colours)" -ge 50 ] || fail "$s: the screenshot has too few colours to hold a chart"
	[ "$(val $s blue_pixels)" -ge 200 ] || fail "$s: no RSS line in the screenshot"
done
[ "$(val light background_luma)" -ge 200 ] || fail "light: the background is not light"
[ "$(val dark background_luma)" -le 60 ] || fail "dark: prefers-color-scheme: dark did not darken the page"

# print: A4
browse print "$tmp/full.html" --no-pdf-header-footer --print-to-pdf="$tmp/full.pdf" >/dev/null
$CHECK pdf "$tmp/full.pdf" >"$tmp/pdf.txt"
grep -q 'page_w=595 page_h=842' "$tmp/pdf.txt" || { cat "$tmp/pdf.txt" >&2; fail "the printed report is not A4"; }
echo "ok: html report rendered by $("$CHROMIUM" --version 2>/dev/null | head -1)"
