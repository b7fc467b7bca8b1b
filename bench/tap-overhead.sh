#!/usr/bin/env bash
# What the tap costs: runs one scenario (default 100 publishers, 60 s, ramp
# 10 s, testsrc-360p at 500k) twice on the embedded server, without and with
# the tap, and prints rtmpload's own CPU and max RSS, its ffmpegs' CPU and the
# ffmpeg-observed publish_start latency of both runs (bench/tapcheck).
#
#   bench/tap-overhead.sh
#   PUBLISHERS=100 DURATION=60s CLIP=testsrc-720p bench/tap-overhead.sh
#
# Each run takes DURATION plus a few seconds; run it on a quiet machine.
set -euo pipefail

PUBLISHERS=${PUBLISHERS:-100}
DURATION=${DURATION:-60s}
RAMP=${RAMP:-10s}
CLIP=${CLIP:-testsrc-360p}
BITRATE=${BITRATE:-500k}

cd "$(dirname "$0")/.."
work=$(mktemp -d "${TMPDIR:-/tmp}/tap-overhead.XXXXXX")
go build -o "$work/rtmpload" ./cmd/rtmpload
go build -o "$work/tapcheck" ./bench/tapcheck

cat >"$work/scenario.yaml" <<EOF
name: tap-overhead
description: $PUBLISHERS publishers, with and without the tap
duration: $DURATION
media: {clip: $CLIP, bitrate: $BITRATE}
publishers:
  - group: cams
    count: $PUBLISHERS
    name: "cam-{i:03}"
    ramp: $RAMP
EOF
# The clip is encoded once and cached: a one-second run encodes it first, so
# that neither measured run pays for the encode in its children's CPU.
cat >"$work/warmup.yaml" <<EOF
name: warmup
duration: 1s
media: {clip: $CLIP, bitrate: $BITRATE}
publishers: [{group: warmup, count: 1, name: warmup}]
EOF

run() { # name, extra flags...
	local name=$1
	shift
	"$work/rtmpload" run "$work/$name.yaml" --out "$work/$name" --progress none "$@" >"$work/$name.txt" 2>&1 ||
		{ cat "$work/$name.txt" >&2; exit 1; }
}
run warmup
cp "$work/scenario.yaml" "$work/notap.yaml"
cp "$work/scenario.yaml" "$work/tap.yaml"
echo "scenario: $PUBLISHERS publishers, $DURATION, ramp $RAMP, $CLIP $BITRATE; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
run notap --tap=false
echo "without tap done; load: $(cut -d' ' -f1-3 /proc/loadavg)"
run tap
echo "with tap done; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$work/tapcheck" overhead -notap "$work/notap" -tap "$work/tap"
echo
echo "files: $work"
