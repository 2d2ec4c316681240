#!/usr/bin/env bash
# docs/run.md's worked examples run as written (issue 19.5): every ```sh block, in order, in one
# shell, with the ports moved to free ones the kernel picks (8080, 9464, 9090 -> free_port).
. "$(dirname "$0")/lib.sh"
cd "$T"
for tool in prometheus curl sqlite3; do
  command -v $tool >/dev/null || { echo "skip: $tool not installed"; exit 77; }
done
# the plain -O2 build, as in it_run_load: under ASan the demo does not fit the 256Mi of the guide
EXAMPLES_OUT="$BUILD/examples" bash "$SRC/scripts/build-examples.sh" c >/dev/null
[ -x "$BUILD/examples/demo-c-svc" ] || { echo "skip: demo-c-svc not built"; exit 77; }
mkdir bin
ln -s "$HEADROOM" bin/headroom
ln -s "$BUILD/examples/demo-c-svc" bin/demo-c-svc
P_SVC=$(free_port)
awk '/^```sh$/ {on=1; next} /^```/ {on=0} on' "$SRC/docs/run.md" |
  sed -e "s/8080/$P_SVC/g" -e "s/9464/$(free_port)/g" -e "s/9090/$(free_port)/g" > examples.sh
check "docs/run.md has worked examples ($(grep -c headroom examples.sh) headroom lines)" test "$(grep -c headroom examples.sh)" -ge 12
set +e
# its own process group, so that whatever an example left running is stopped with it
PATH="$T/bin:$PATH" timeout 200 setsid bash -c 'echo $$ > pgid; exec bash -e examples.sh' > out.txt 2> err.txt; rc=$?
kill -- -"$(cat pgid)" 2>/dev/null || true
set -e
expect_eq "every example ran (exit 0)" "$rc" 0
[ "$rc" -eq 0 ] || { tail -n 20 out.txt err.txt; }
# what the text says happened
check "section 1 recorded three load stages" test "$(q svc.db "select count(*) from events where kind='stage'")" = 3
check "under the 256Mi limit" test "$(q svc.db 'select limit_bytes from run')" = $((256 << 20))
check "--load-url alone became ready on its address" \
  test "$(q svc-url.db "select detail from events where kind='ready'")" = "127.0.0.1:$P_SVC accepts connections"
check "the failing load said LOAD FAILED" grep -q "LOAD FAILED" err.txt
check "and exited 1" grep -q "run exited 1" out.txt
check "report --json wrote JSON" python3 -c "import json; json.load(open('svc.json'))"
check "report --html wrote a page" grep -q "<html" svc.html
check "size printed a resources block" grep -q "resources:" out.txt
check "size --format json" python3 -c "import json; json.load(open('size.json'))"
check "the exporter served headroom_rss_bytes" grep -q "^headroom_rss_bytes" out.txt
check "size --prometheus sized from Prometheus" grep -q "^limit = peak over" out.txt
finish
