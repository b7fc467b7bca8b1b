#!/usr/bin/env bash
# rtmpload's own CPU against its ffmpegs' once every publisher runs (its
# target, docs/benchmarks.md: "at most 10 % of the CPU its ffmpegs use"),
# without the start-up burst that a whole-run figure (the run's end line,
# bench/scale.sh) includes: N publishers (default 100) on the embedded
# server, tap and hook on, and the CPU of rtmpload and of each of its ffmpegs
# read from /proc between WARM (default 40 s) and WARM+WINDOW (default 60 s).
# Usage: bench/steady.sh [PUBLISHERS]    WARM=40 WINDOW=60 RTMPLOAD=bin/rtmpload
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
warm=${WARM:-40}
window=${WINDOW:-60}
work=$(mktemp -d "${TMPDIR:-/tmp}/steady.XXXXXX")
if [[ -n ${RTMPLOAD:-} ]]; then
	cp "$RTMPLOAD" "$work/rtmpload"
else
	go build -o "$work/rtmpload" ./cmd/rtmpload
fi
cat >"$work/steady.yaml" <<YAML
name: steady-$n
duration: $((warm + window + 10))s
media: {clip: testsrc-720p, bitrate: 500k}
publishers:
  - group: cams
    count: $n
    name: "steady-{i:03}"
    ramp: 10s
YAML
"$work/rtmpload" run "$work/steady.yaml" --out "$work/run" --progress none >"$work/stdout.txt" 2>"$work/stderr.txt" &
pid=$!
trap 'kill -INT $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT

# ticks PID...: utime+stime of each, summed (a process gone counts 0).
ticks() { cat "${@/#//proc/}" 2>/dev/null | awk '{gsub(/^.*\) /, ""); t += $12 + $13} END {print t + 0}'; }
stats() { local kids; kids=$(pgrep -P "$pid" | sed 's|$|/stat|'); echo "$(ticks "$pid/stat") $(ticks $kids) $(echo "$kids" | grep -c .)"; }

sleep "$warm"
read -r self0 ff0 k0 < <(stats)
sleep "$window"
read -r self1 ff1 k1 < <(stats)
hz=$(getconf CLK_TCK)
awk -v s=$((self1 - self0)) -v f=$((ff1 - ff0)) -v hz="$hz" -v w="$window" -v n="$n" -v k0="$k0" -v k1="$k1" 'BEGIN {
	printf "publishers %d (ffmpegs running: %d at the start of the window, %d at its end), window %d s\n", n, k0, k1, w
	printf "rtmpload: %.1f%% of one core (%.3f%% per publisher)\n", 100*s/hz/w, 100*s/hz/w/n
	printf "ffmpegs:  %.1f%% of one core (%.3f%% per publisher)\n", 100*f/hz/w, 100*f/hz/w/n
	printf "rtmpload / ffmpegs: %.1f%% (target <= 10%%)\n", 100*s/f
}'
wait "$pid" || true
trap - EXIT
grep -m1 "rtmpload itself" "$work/stdout.txt" "$work/stderr.txt" | sed 's/^[^:]*://' || true
