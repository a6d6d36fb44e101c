#!/usr/bin/env bash
# lamina report in a real browser: headless Chromium loads the report of
# three real runs (allreduce and localsgd training, FedLAMA) with no console
# message (the page's Content-Security-Policy turns any script or fetch into
# one), and the DOM it builds holds the expected series: 3 accuracy curves,
# 2 throughput curves (federated runs have none), the FedLAMA interval map
# of 1 run, the configs table with differing rows marked. The screenshot is
# kept in $LMN_ARTIFACT_DIR. Skipped (77) without a working Chromium.
source "$(dirname "$0")/../cli/testing.bash"
source "$(dirname "$0")/runs.bash"
ARTIFACTS=${LMN_ARTIFACT_DIR:-$WORK/artifacts}
mkdir -p "$ARTIFACTS"

chromium_bin=$(command -v chromium || command -v chromium-browser || true)
[[ -n $chromium_bin ]] || { echo "SKIP: chromium is not installed (scripts/install-deps.sh --with-tests)" >&2; exit 77; }
# headless CHROME_ARGS...: one run with its console on $WORK/console.log.
headless() {
  timeout 120 "$chromium_bin" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --user-data-dir="$WORK/profile" --enable-logging=stderr --v=0 "$@" 2> "$WORK/console.log"
}

# The console capture must see what a page logs, or "no errors" means nothing.
echo '<html><body><script>console.error("lamina-probe")</script></body></html>' > "$WORK/probe.html"
if ! headless --dump-dom "file://$WORK/probe.html" > "$WORK/probe.dom"; then
  echo "SKIP: chromium cannot start here: $(grep -v -i dbus "$WORK/console.log" | tail -n 2 | tr '\n' ' ')" >&2
  exit 77
fi
grep -q 'CONSOLE.*lamina-probe' "$WORK/console.log" || fail "the console capture does not see console.error"

write_small_configs
make_train_run "$WORK/allreduce" allreduce
make_train_run "$WORK/localsgd" localsgd --set parallel.tau=4
make_fl_run "$WORK/fedlama" fedlama
"$LAMINA" report "$WORK/allreduce" "$WORK/localsgd" "$WORK/fedlama" --out "$WORK/report.html" \
  --title "browser test" > "$WORK/report.log" 2>&1 || { fail "lamina report failed"; cat "$WORK/report.log" >&2; }
cp "$WORK/report.html" "$ARTIFACTS/report.html"

headless --dump-dom "file://$WORK/report.html" > "$WORK/report.dom" || fail "chromium failed on the report"
if grep -E 'CONSOLE|Refused to|Uncaught' "$WORK/console.log" > "$WORK/console.errors"; then
  fail "console messages while loading the report:"; cat "$WORK/console.errors" >&2
fi
headless --hide-scrollbars --window-size=1280,2600 --screenshot="$ARTIFACTS/report.png" \
  "file://$WORK/report.html" > /dev/null || fail "no screenshot"
[[ -s "$ARTIFACTS/report.png" ]] && echo "screenshot: $ARTIFACTS/report.png" || fail "empty screenshot"

# What the browser built, counted per chart (python3's HTML parser reads
# the serialised DOM).
/usr/bin/python3 - "$WORK/report.dom" > "$WORK/counts" <<'PY'
import collections, html.parser, sys
class Count(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.svg = None; self.counts = collections.Counter()
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg": self.svg = a.get("id")
        elif tag == "polyline" and "series" in a.get("class", "").split(): self.counts[self.svg] += 1
        elif tag == "rect" and a.get("class") == "interval-cell": self.counts["interval-cells"] += 1
        elif tag == "tr" and a.get("class") == "differs": self.counts["differing-rows"] += 1
        elif tag == "svg" or tag == "script": self.counts[tag] += 1
    def handle_endtag(self, tag):
        if tag == "svg": self.svg = None
c = Count(); c.feed(open(sys.argv[1]).read())
for key, value in sorted(c.counts.items(), key=lambda kv: str(kv[0])): print(f"{key} {value}")
PY
count() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/counts"; }
expect_count() {  # KEY EXPECTED
  local got; got=$(count "$1"); got=${got:-0}
  [[ "$got" == "$2" ]] && echo "ok: $1: $2" || fail "$1: $got drawn, expected $2"
}
for chart in acc-step acc-seconds acc-bytes loss-step loss-seconds loss-bytes train-loss-step; do
  expect_count "$chart" 3
done
expect_count images-step 2
expect_count exposed-step 2
expect_count script 0
rounds=$(grep -c '"round"' "$WORK/fedlama/metrics.jsonl")
relaxed=$(grep -o '"relaxed_layers":\[[^]]*\]' "$WORK/fedlama/metrics.jsonl" | grep -o '"[^"]*"' | grep -v relaxed_layers | sort -u | wc -l)
if (( relaxed > 0 )); then expect_count interval-cells $((relaxed * rounds)); else fail "FedLAMA relaxed no layer in $rounds rounds"; fi
differing=$(count differing-rows)
(( ${differing:-0} >= 2 )) && echo "ok: $differing differing config rows marked" || fail "configs: ${differing:-0} differing rows marked"
finish
