#!/usr/bin/env bash
# How rtmpload's own cost grows with the number of publishers: runs
# one scenario per step (default 10, 50, 100, 200, 300 publishers, 60 s each,
# testsrc-720p at 500k, ramp n/50 s so that 100 publishers start within 2 s)
# on the embedded server and prints one table from each run's report.json and
# results.jsonl.
#
#   bench/scale.sh
#   STEPS="10 50" DURATION=15s bench/scale.sh      # a quick look
#   RTMPLOAD=/path/to/rtmpload bench/scale.sh       # a binary built elsewhere
#
# Columns: ok/failed attempts; rtmpload's own CPU (embedded server and tap
# included) and its ffmpegs' CPU, in % of one core over the run's wall time;
# self/ffmpegs ratio (target <= 10 %); rtmpload's max RSS and RSS per
# publisher, and the target for that RSS (64 MiB + 64 KiB each); p50/p95 of ffmpeg's
# publish_start and p95 of the wire's publish, in ms; speed: frames sent per
# second of publishing / 25 fps, per attempt, as min and median, and "slow" =
# attempts below 0.98x (a starved publisher: the machine did not keep up).
set -euo pipefail

STEPS=${STEPS:-10 50 100 200 300}
DURATION=${DURATION:-60s}
CLIP=${CLIP:-testsrc-720p}
BITRATE=${BITRATE:-500k}
FPS=25 # media encodes every clip at 25 fps

cd "$(dirname "$0")/.."
work=$(mktemp -d "${TMPDIR:-/tmp}/scale.XXXXXX")
if [[ -n ${RTMPLOAD:-} ]]; then
	cp "$RTMPLOAD" "$work/rtmpload"
else
	go build -o "$work/rtmpload" ./cmd/rtmpload
fi

# The clip is encoded once and cached: a one-second run encodes it first, so
# that no measured step pays for the encode.
cat >"$work/warmup.yaml" <<EOF
name: warmup
duration: 1s
media: {clip: $CLIP, bitrate: $BITRATE}
publishers: [{group: warmup, count: 1, name: warmup}]
EOF

run() { # name
	# Exit 3 (thresholds) cannot happen without expect; 2 (aborted) still
	# leaves a report worth reading, so only a missing report.json stops us.
	"$work/rtmpload" run "$work/$1.yaml" --out "$work/$1" --progress none >"$work/$1.txt" 2>&1 || true
	[[ -s $work/$1/report.json ]] || { cat "$work/$1.txt" >&2; exit 1; }
}
run warmup

# Timestamps are RFC 3339 with nanoseconds; jq's fromdate takes whole
# seconds only. The zone is dropped: only differences within one run are used.
jqdefs='def ts: capture("^(?<s>[^.Z+]+?)(?<f>\\.[0-9]+)?(?<z>Z|[+-][0-9:]+)$")
	| ((.s + "Z") | fromdateiso8601) + ((.f // "0") | tonumber);
def lat($m; $src): [.latency[] | select(.metric == $m and .source == $src and .group == "all")][0];
def fmt: if . == null then "-" else (. * 10 | round / 10 | tostring) end;'

row() { # publishers, name
	local n=$1 dir=$work/$2
	# Per-attempt speed from the exit event's frame count over the time from
	# the first -progress block to the exit.
	local speed
	speed=$(jq -rs --argjson fps "$FPS" "$jqdefs"'
		[.[] | select(.type == "attempt")] | group_by(.attempt.id)
		| map({p: (map(select(.attempt.phase == "publishing"))[0]),
		       x: (map(select(.attempt.phase == "exit"))[0])})
		| map(select(.p != null and .x != null)
		      | ((.x.t | ts) - (.p.t | ts)) as $secs
		      | select($secs > 5)
		      | (.x.attempt.frames // 0) / $fps / $secs)
		| sort
		| if length == 0 then "- - -" else
		  "\(.[0] * 100 | round / 100) \(.[length / 2 | floor] * 100 | round / 100) \(map(select(. < 0.98)) | length)"
		  end' "$dir/results.jsonl")
	jq -r --arg n "$n" --arg speed "$speed" "$jqdefs"'
		(((.ended | ts) - (.run.started | ts))) as $wall
		| (.usage.self_cpu_ns / 1e9 / $wall * 100) as $self
		| (.usage.children_cpu_ns / 1e9 / $wall * 100) as $kids
		| (.usage.self_max_rss_bytes / 1048576) as $rss
		| [$n, "\(.outcomes.ok // 0)/\(.attempts - (.outcomes.ok // 0))",
		   ($self | fmt), ($kids | fmt),
		   (if $kids > 0 then ($self / $kids * 100 | fmt) + "%" else "-" end),
		   ($rss | fmt), ($rss * 1024 / ($n | tonumber) | fmt), (64 + ($n | tonumber) / 16 | fmt),
		   (lat("publish_start"; "ffmpeg").p50_ms | fmt), (lat("publish_start"; "ffmpeg").p95_ms | fmt),
		   (lat("publish"; "wire").p95_ms | fmt), ($speed | split(" "))[]]
		| @tsv' "$dir/report.json"
}

echo "scale: steps $STEPS, $DURATION each, $CLIP $BITRATE, ramp n/50 s; $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
rows=()
for n in $STEPS; do
	ramp=$(awk -v n="$n" 'BEGIN { printf "%.2fs", n / 50 }')
	cat >"$work/p$n.yaml" <<EOF
name: scale-$n
description: $n publishers, $DURATION, ramp $ramp
duration: $DURATION
media: {clip: $CLIP, bitrate: $BITRATE}
publishers:
  - group: cams
    count: $n
    name: "cam-{i:03}"
    ramp: $ramp
EOF
	run "p$n"
	rows+=("$(row "$n" "p$n")")
	echo "  $n publishers done; load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done

echo
{
	printf 'publishers\tok/failed\tself_cpu%%\tffmpegs_cpu%%\tself/ffmpegs\tmax_rss_MiB\tKiB/publisher\trss_target_MiB\tp50_publish_start_ms\tp95_publish_start_ms\tp95_wire_publish_ms\tspeed_min\tspeed_median\tslow(<0.98x)\n'
	printf '%s\n' "${rows[@]}"
} | column -t -s $'\t'
echo
echo "files: $work"
