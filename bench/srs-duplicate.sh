#!/usr/bin/env bash
# Under which timing does a real SRS accept two publishers of one name?
# Runs bench/duprace against the SRS binary in $RTMPLOAD_SRS: per hook latency
# and rival delay, TRIALS owner/rival pairs (a fresh name each, bare RTMP
# clients, no ffmpeg), then explains every trial from SRS's log (its 3 s
# source cleanup). The finding is in docs/srs-behaviour.md, "Duplicate names".
#
#   RTMPLOAD_SRS=/path/to/srs bench/srs-duplicate.sh
#   TRIALS=8 HOOKS=0,1s,2s,4s DELAYS=0,10ms,50ms,200ms,500ms,1s,1500ms,3s PARALLEL=2 bench/srs-duplicate.sh
#
# Takes about 10 minutes with the defaults (256 trials, two at a time: a
# loaded SRS stretches the window being measured). Loopback only; SRS is
# started and stopped by duprace.
set -euo pipefail

TRIALS=${TRIALS:-8}
HOOKS=${HOOKS:-0,1s,2s,4s}
DELAYS=${DELAYS:-0,10ms,50ms,200ms,500ms,1s,1500ms,3s}
PARALLEL=${PARALLEL:-2}

[[ -n ${RTMPLOAD_SRS:-} ]] || { echo "srs-duplicate: set RTMPLOAD_SRS to the path of an SRS binary" >&2; exit 1; }
cd "$(dirname "$0")/.."
work=$(mktemp -d "${TMPDIR:-/tmp}/srs-duplicate.XXXXXX")
go build -o "$work/duprace" ./bench/duprace
# KEEP=1 keeps SRS's directory (srs.conf, srs.log) in $work.
dir=()
[[ -n ${KEEP:-} ]] && dir=(-dir "$work/srs")
"$work/duprace" -srs "$RTMPLOAD_SRS" -trials "$TRIALS" -hooks "$HOOKS" -delays "$DELAYS" -parallel "$PARALLEL" "${dir[@]}"
[[ -n ${KEEP:-} ]] && echo "SRS's files: $work/srs" || rm -rf "$work"
