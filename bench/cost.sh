#!/usr/bin/env bash
# rtmpload's own cost per publisher (its target, docs/benchmarks.md: RSS at
# most 64 MiB + 64 KiB per publisher at 1,000): N publishers (default 200) on
# the embedded server, FANOUT (default 16) per ffmpeg process so that ffmpeg
# costs little, tap on unless TAP=false. Between WARM (default 60 s) and
# WARM+WINDOW (default 60 s) it reads /proc for rtmpload's CPU and RSS
# (sampled every 5 s) and its ffmpegs' CPU, and takes rtmpload's goroutine
# count and a heap profile from --metrics' /debug/pprof; then it stops the run
# with Ctrl-C (SIGINT).
# Usage: bench/cost.sh [PUBLISHERS]    FANOUT=16 RAMP=30s WARM=60 WINDOW=60 TAP=true RTMPLOAD=bin/rtmpload
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
fanout=${FANOUT:-16}
ramp=${RAMP:-30s}
warm=${WARM:-60}
window=${WINDOW:-60}
tap=${TAP:-true}
port=${PORT:-19464}
work=$(mktemp -d "${TMPDIR:-/tmp}/cost.XXXXXX")
if [[ -n ${RTMPLOAD:-} ]]; then
	cp "$RTMPLOAD" "$work/rtmpload"
else
	go build -o "$work/rtmpload" ./cmd/rtmpload
fi
cat >"$work/cost.yaml" <<YAML
name: cost-$n
duration: $((warm + window + 120))s
media: {clip: testsrc-720p, bitrate: 500k}
publishers:
  - group: cams
    count: $n
    name: "cost-{i:04}"
    ramp: $ramp
    fanout: $fanout
YAML
"$work/rtmpload" run "$work/cost.yaml" --out "$work/run" --progress none --tap="$tap" \
	--metrics "127.0.0.1:$port" >"$work/stdout.txt" 2>"$work/stderr.txt" &
pid=$!
trap 'kill -INT $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT

# ticks PID...: utime+stime of each, summed (a process gone counts 0).
ticks() { { cat "${@/#//proc/}" 2>/dev/null || true; } | awk '{gsub(/^.*\) /, ""); t += $12 + $13} END {print t + 0}'; }
kids() { { pgrep -P "$pid" || true; } | sed 's|$|/stat|'; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 ~ "^"m {s += $2} END {print s + 0}'; }
goroutines() { curl -s "http://127.0.0.1:$port/debug/pprof/goroutine?debug=1" | awk 'NR == 1 {print $NF}'; }

sleep "$warm"
self0=$(ticks "$pid/stat") ff0=$(ticks $(kids)) k0=$(kids | grep -c . || true)
pub0=$(metric rtmpload_publishers_publishing) g0=$(goroutines)
maxrss=0 sum=0 samples=0
for ((t = 0; t < window; t += 5)); do
	r=$(rss)
	((r > maxrss)) && maxrss=$r
	sum=$((sum + r)) samples=$((samples + 1))
	sleep 5
done
self1=$(ticks "$pid/stat") ff1=$(ticks $(kids)) k1=$(kids | grep -c . || true)
pub1=$(metric rtmpload_publishers_publishing) starved=$(metric rtmpload_publishers_starved) g1=$(goroutines)
curl -s "http://127.0.0.1:$port/debug/pprof/heap" >"$work/heap.pb"
hz=$(getconf CLK_TCK)
load=$(cut -d' ' -f1-3 /proc/loadavg)
awk -v s=$((self1 - self0)) -v f=$((ff1 - ff0)) -v hz="$hz" -v w="$window" -v n="$n" -v k0="$k0" -v k1="$k1" \
	-v p0="$pub0" -v p1="$pub1" -v st="$starved" -v g0="$g0" -v g1="$g1" -v max="$maxrss" -v avg=$((sum / samples)) \
	-v tap="$tap" -v fan="$fanout" -v load="$load" 'BEGIN {
	printf "publishers %d, fanout %d, tap %s, window %d s; publishing %d at its start, %d at its end (%d starved); ffmpegs %d / %d; load average %s\n", n, fan, tap, w, p0, p1, st, k0, k1, load
	target = 64 + 64*n/1024
	m = p1 > 0 ? p1 : n # per publisher: per one publishing at the end of the window
	printf "rtmpload: %.1f%% of one core; RSS avg %.1f MiB, max %.1f MiB (target 64 MiB + 64 KiB x %d = %.1f MiB: %s)\n", 100*s/hz/w, avg/1024, max/1024, n, target, max/1024 <= target ? "met" : "missed"
	printf "rtmpload per publishing publisher: %.3f%% of one core, %.1f KiB of RSS above 64 MiB\n", 100*s/hz/w/m, (max-65536)/m
	printf "rtmpload: goroutines %d / %d (%.2f per publishing publisher)\n", g0, g1, g1/m
	printf "ffmpegs:  %.1f%% of one core (%.3f%% per publishing publisher)\n", 100*f/hz/w, 100*f/hz/w/m
}'
kill -INT "$pid" # the window is over: stop the run (its results are still written)
go tool pprof -sample_index=inuse_space -top "$work/rtmpload" "$work/heap.pb" 2>/dev/null | sed -n '5,20p'
wait "$pid" || true
trap - EXIT
grep -h -m1 "rtmpload itself" "$work/stdout.txt" "$work/stderr.txt" || true
echo "results: $work"
