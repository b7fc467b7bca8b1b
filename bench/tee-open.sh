#!/usr/bin/env bash
# How fast one ffmpeg's tee muxer opens its RTMP outputs, one after another: K outputs against the
# embedded server (`rtmpload serve`) or a real SRS, with the built-in callback (`rtmpload hook`)
# answering on_publish. Prints, per run, the time from ffmpeg's start to each output's open (read
# from tee's "filename:" lines at -loglevel verbose, stamped as they arrive) and the opens per
# second. The first output waits for media until the last one is open: that wait must stay far
# below SRS's drop of a publisher that sent only its headers, 25 s after its publish
# (docs/srs-behaviour.md, "Publish timeouts").
#   RTMPLOAD=bin/rtmpload SERVER=embedded K=50 RUNS=2 bench/tee-open.sh
#   RTMPLOAD=bin/rtmpload SERVER=srs SRS=$RTMPLOAD_SRS K=50 bench/tee-open.sh
set -euo pipefail
RTMPLOAD=${RTMPLOAD:-bin/rtmpload}; SERVER=${SERVER:-embedded}; K=${K:-50}; RUNS=${RUNS:-2}
PORT=${PORT:-19461}; API=${API:-19462}; HOOK=${HOOK:-19463}
CLIP=${CLIP:-$HOME/.cache/rtmpload/clips/testsrc-720p_500000bps_10s_r1.flv}
work=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
"$RTMPLOAD" hook --listen 127.0.0.1:$HOOK > "$work/hook.out" 2>&1 & pids+=($!)
hookurl=http://127.0.0.1:$HOOK/api/v1/hooks/on_publish
if [ "$SERVER" = srs ]; then
	cat > "$work/srs.conf" <<CONF
listen $PORT;
max_connections 3000;
daemon off;
srs_log_tank file;
srs_log_file $work/srs.log;
pid $work/srs.pid;
http_api { enabled on; listen $API; }
vhost __defaultVhost__ { http_hooks { enabled on; on_publish $hookurl; } }
CONF
	"${SRS:?path to the srs binary}" -c "$work/srs.conf" > "$work/srs.out" 2>&1 & pids+=($!)
else
	"$RTMPLOAD" serve --listen 127.0.0.1:$PORT --api-listen 127.0.0.1:$API --on-publish "$hookurl" > "$work/serve.out" 2> "$work/serve.err" & pids+=($!)
fi
sleep 2
for run in $(seq 1 "$RUNS"); do
	outs=""; for i in $(seq 1 "$K"); do outs="$outs|[f=flv:onfail=ignore${SLAVEOPTS:-}]rtmp://127.0.0.1:$PORT/live/open${run}_$i?rtmpload=r$run-$i"; done
	python3 - "$K" "$run" ffmpeg -hide_banner -nostdin -nostats -loglevel level+verbose -re -stream_loop -1 -i "$CLIP" \
		-map 0 -c copy -f tee "${outs#|}" <<'PY'
import subprocess, sys, time, signal
k, run, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
t0 = time.monotonic()
p = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, errors="replace")
opens, failed = [], 0
for line in p.stderr:
    if "] [verbose] filename:'" in line: opens.append(time.monotonic() - t0)
    elif "error opening" in line: failed += 1
    if len(opens) + failed >= k: break
p.send_signal(signal.SIGINT)
try: p.wait(10)
except subprocess.TimeoutExpired: p.kill(); p.wait()
gaps = [b - a for a, b in zip(opens, opens[1:])]
gaps.sort()
rate = (len(opens) - 1) / (opens[-1] - opens[0]) if len(opens) > 1 else 0
print(f"run {run}: K={k} opened {len(opens)} failed {failed}; first open {opens[0]:.2f}s, last {opens[-1]:.2f}s after start; "
      f"first output waited {opens[-1]-opens[0]:.2f}s for media; {rate:.1f} opens/s; gap p50 {gaps[len(gaps)//2]*1000:.0f} ms, max {gaps[-1]*1000:.0f} ms")
PY
	sleep 1
done
