#!/usr/bin/env bash
# Checks the tap's handshake and publish figures against tcpdump: runs a
# scenario on the embedded server at a known port while tcpdump captures the
# tap<->server leg, then compares, per attempt, the times computed from the
# capture with the tap's marks in results.jsonl (bench/tapcheck).
#
#   sudo bench/tap-accuracy.sh          # tcpdump needs CAP_NET_RAW
#   PUBLISHERS=40 DURATION=20s bench/tap-accuracy.sh
#
# Output: a table per metric (capture vs tap vs |difference|, p50/p99/max), and
# whether each target (p99 |tap - capture| < 1 ms, handshake and publish) was
# met; the exit status is non-zero when one was missed.
set -euo pipefail

PUBLISHERS=${PUBLISHERS:-40}
DURATION=${DURATION:-20s}
RAMP=${RAMP:-10s}
CLIP=${CLIP:-testsrc-360p}
BITRATE=${BITRATE:-300k}

cd "$(dirname "$0")/.."
work=$(mktemp -d "${TMPDIR:-/tmp}/tap-accuracy.XXXXXX")
tcpdump_pid=
cleanup() {
	if [[ -n $tcpdump_pid ]] && kill -0 "$tcpdump_pid" 2>/dev/null; then
		kill -INT "$tcpdump_pid" 2>/dev/null || true
		wait "$tcpdump_pid" 2>/dev/null || true
	fi
}
trap cleanup EXIT

command -v tcpdump >/dev/null || { echo "tap-accuracy: tcpdump is missing (apt-get install tcpdump)" >&2; exit 1; }
go build -o "$work/rtmpload" ./cmd/rtmpload
go build -o "$work/tapcheck" ./bench/tapcheck

cat >"$work/scenario.yaml" <<EOF
name: tap-accuracy
description: $PUBLISHERS publishers through the tap while tcpdump watches the server leg
duration: $DURATION
media: {clip: $CLIP, bitrate: $BITRATE}
publishers:
  - group: cams
    count: $PUBLISHERS
    name: "cam-{i:03}"
    ramp: $RAMP
EOF

# The clip is encoded once and cached: a one-second run encodes it before the
# capture, so that the measured run does nothing but publish.
cat >"$work/warmup.yaml" <<EOF
name: warmup
duration: 1s
media: {clip: $CLIP, bitrate: $BITRATE}
publishers: [{group: warmup, count: 1, name: warmup}]
EOF
"$work/rtmpload" run "$work/warmup.yaml" --out "$work/warmup" --progress none >"$work/warmup.txt" 2>&1 ||
	{ cat "$work/warmup.txt" >&2; exit 1; }

port=$("$work/tapcheck" freeport)
# Nanosecond stamps where the kernel gives them; -U so a stop loses nothing.
tcpdump -i lo -U -B 16384 --time-stamp-precision=nano -w "$work/cap.pcap" "tcp port $port" \
	2>"$work/tcpdump.err" &
tcpdump_pid=$!
for _ in $(seq 50); do # tcpdump says "listening on" once its filter is in place
	grep -q "listening on" "$work/tcpdump.err" && break
	kill -0 "$tcpdump_pid" 2>/dev/null || { cat "$work/tcpdump.err" >&2; exit 1; }
	sleep 0.1
done
grep -q "listening on" "$work/tcpdump.err" || { echo "tap-accuracy: tcpdump did not start" >&2; exit 1; }

"$work/rtmpload" run "$work/scenario.yaml" --listen "127.0.0.1:$port" --out "$work/run" \
	--progress none >"$work/run.txt" 2>&1 || { cat "$work/run.txt" >&2; exit 1; }

kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true
tcpdump_pid=
grep -E "captured|dropped" "$work/tcpdump.err" || true
if grep -qE "^[1-9][0-9]* packets dropped by kernel" "$work/tcpdump.err"; then
	echo "tap-accuracy: tcpdump dropped packets; the figures may be incomplete" >&2
fi

grep "^rtmpload itself" "$work/run.txt" || true
echo "scenario: $PUBLISHERS publishers, $DURATION, ramp $RAMP, $CLIP $BITRATE; server port $port"
status=0
tcpdump -r "$work/cap.pcap" --time-stamp-precision=nano -tt -nn -x 2>/dev/null |
	"$work/tapcheck" accuracy -port "$port" -results "$work/run/results.jsonl" || status=$?
echo
echo "files: $work"
exit "$status" # non-zero when a target was missed
