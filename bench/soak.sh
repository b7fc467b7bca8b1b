#!/usr/bin/env bash
# A long soak of rtmpload itself: N publishers (default 100) for D (default
# 60m) on the embedded server, with churn and reconnects on, sampling
# rtmpload's RSS and CPU every 30 s. Prints RSS at minute 5 and at the end,
# and the change: the target is flat within 10 %.
# Usage: bench/soak.sh [PUBLISHERS] [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
dur=${2:-60m}
out=${OUT:-/tmp/rtmpload-soak.$$}
mkdir -p "$out"
go build -o "$out/rtmpload" ./cmd/rtmpload
cat > "$out/soak.yaml" <<YAML
name: soak-$n
description: $n publishers for $dur with churn and reconnects
duration: $dur
media: {clip: testsrc-720p, bitrate: 500k}
churn: {every: 5m, share: 10%}
publishers:
  - group: cams
    count: $n
    name: "soak-{i:03}"
    ramp: 20s
    reconnect: {delay: 2s, max: 100, backoff: 1.5}
YAML
"$out/rtmpload" run "$out/soak.yaml" --out "$out/run" --progress log > "$out/stdout.txt" 2> "$out/stderr.txt" &
pid=$!
start=$(date +%s)
echo "seconds rss_kib cpu_ticks" > "$out/samples.txt"
while kill -0 "$pid" 2>/dev/null; do
	rss=$(awk '/^VmRSS:/{print $2}' "/proc/$pid/status" 2>/dev/null || true)
	ticks=$(awk '{print $14+$15}' "/proc/$pid/stat" 2>/dev/null || true)
	[ -n "$rss" ] && echo "$(( $(date +%s) - start )) $rss $ticks" >> "$out/samples.txt"
	sleep 30
done
wait "$pid" || true
awk -v hz="$(getconf CLK_TCK)" 'NR==1{next}
	{t[NR]=$1; r[NR]=$2; c[NR]=$3; n=NR}
	$1>=300 && !m5 {m5=$2; c5=$3; t5=$1}
	END{
		printf "samples %d over %d s\n", n-1, t[n]
		printf "RSS at minute 5: %.1f MiB; at the end (%d s): %.1f MiB; change %+.1f%%\n", m5/1024, t[n], r[n]/1024, 100*(r[n]-m5)/m5
		max=0; for(i=2;i<=n;i++) if(r[i]>max) max=r[i]
		printf "max RSS %.1f MiB\n", max/1024
		printf "rtmpload CPU from minute 5 to the end: %.1f%% of one core\n", 100*(c[n]-c5)/hz/(t[n]-t5)
	}' "$out/samples.txt"
sed -n 1,3p "$out/stdout.txt"
echo "samples: $out/samples.txt  results: $out/run"
