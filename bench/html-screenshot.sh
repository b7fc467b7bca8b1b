#!/usr/bin/env bash
# Renders an HTML report in headless Chromium and writes a screenshot, to
# check by eye that every chart draws without network access.
#   bench/html-screenshot.sh [RESULTS.jsonl] [OUT.png]
# Default: the golden stream in report/testdata, with a baseline and
# thresholds that fail, so every section of the page is shown.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
results=${1:-report/testdata/dup.jsonl}
png=${2:-/tmp/report.png}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
	echo "chromium not found: apt-get install -y chromium" >&2
	exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/rtmpload" ./cmd/rtmpload
rc=0
"$work/rtmpload" report "$results" --format html --out "$work/report.html" \
	--baseline report/testdata/smoke.jsonl \
	--expect 'rate(ok) >= 0.99' --expect 'p95(publish_start) < 2s' \
	--expect 'count(duplicate_accepted) == 0' --expect 'max(hook_latency) < baseline*1.2' || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
	exit "$rc"
fi
"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
	--disable-component-update --disable-sync --no-first-run \
	--user-data-dir="$work/profile" --screenshot="$png" --window-size=1280,2400 \
	"file://$work/report.html" 2>"$work/chromium.log" || { cat "$work/chromium.log" >&2; exit 1; }
echo "screenshot: $png"
