package schema

import (
	"math"
	"time"
)

// TypeView is the event of one viewer's play (a play attempt): written
// once, when the play ended, with its whole timeline.
const TypeView = "view"

// Outcomes only a viewer has; a viewer whose play failed for a cause a
// publisher shares (the callback denied, was down, slow, erroring or
// misanswering; the server was unreachable) gets the publisher's word.
const (
	// OutcomeNoSuchStream: the play was accepted and no media ever came
	// (SRS 7.0.18 holds a play of a name nobody publishes, silent): inferred
	// from silence, not read from a refusal.
	OutcomeNoSuchStream Outcome = "no_such_stream"
	// OutcomeStalled: the viewer played to its end, but its media clock fell
	// behind the wall clock (ViewEvent.Stalls).
	OutcomeStalled Outcome = "stalled"
)

// ViewerOutcomes lists a viewer's outcomes in the order reports show them.
var ViewerOutcomes = []Outcome{
	OutcomeOK, OutcomeStalled, OutcomeServerUnreachable, OutcomeHookUnreachable, OutcomeHookDenied,
	OutcomeHookBadAnswer, OutcomeHookErrorStatus, OutcomeHookTimeout, OutcomeNoSuchStream, OutcomeDropped,
	OutcomeRejectedUnknown,
}

// ViewEvent is one play attempt of a viewer. Its id is <run>-v<seq+1>
// (then .<k> for its reconnects), the same in every shard; a play URL
// carries it as ?rtmpload=<id>, so the callback's on_play call names it.
// Steps are durations from Start; 0 is a step not reached.
type ViewEvent struct {
	ID       string `json:"id"`
	Group    string `json:"group"`
	Stream   string `json:"stream"`
	Slot     int    `json:"slot"`
	URL      string `json:"url,omitempty"`
	Protocol string `json:"protocol"` // rtmp | http-flv
	Engine   string `json:"engine"`   // native | ffmpeg

	Start time.Time `json:"start"`
	// Dial: TCP connected; Handshake: RTMP handshake done; Connect: the
	// connect's _result; PlaySent: the play command (HTTP: the request)
	// written; PlayStart: NetStream.Play.Start (HTTP: the response head);
	// FirstTag: the stream's first message; FirstFrame: its first audio or
	// video frame; FirstKeyframe: its first video keyframe.
	Dial          time.Duration `json:"dial_ns,omitempty"`
	Handshake     time.Duration `json:"handshake_ns,omitempty"`
	Connect       time.Duration `json:"connect_ns,omitempty"`
	PlaySent      time.Duration `json:"play_sent_ns,omitempty"`
	PlayStart     time.Duration `json:"play_start_ns,omitempty"`
	FirstTag      time.Duration `json:"first_tag_ns,omitempty"`
	FirstFrame    time.Duration `json:"first_frame_ns,omitempty"`
	FirstKeyframe time.Duration `json:"first_keyframe_ns,omitempty"`
	End           time.Duration `json:"end_ns"`

	// Ending is how the play ended (package player's words: held,
	// unreachable, setup_timeout, refused, closed_in_setup,
	// closed_before_media, silent, closed, reset, error); Message details
	// it; Status is an RTMP error status, HTTPStatus the response's code.
	Ending     string `json:"ending"`
	Message    string `json:"message,omitempty"`
	Status     string `json:"status,omitempty"`
	HTTPStatus int    `json:"http_status,omitempty"`

	Bytes       uint64        `json:"bytes,omitempty"`
	MediaBytes  uint64        `json:"media_bytes,omitempty"`
	VideoFrames int           `json:"video_frames,omitempty"`
	AudioFrames int           `json:"audio_frames,omitempty"`
	Keyframes   int           `json:"keyframes,omitempty"`
	MediaSpan   time.Duration `json:"media_span_ns,omitempty"`
	// Stalls counts the times the media clock fell more than StallAfter
	// behind the wall clock after the first frame (the GOP cache's burst
	// is not counted as lead); StallTime sums how far; MaxLag is the most.
	Stalls     int           `json:"stalls,omitempty"`
	StallAfter time.Duration `json:"stall_after_ns,omitempty"`
	StallTime  time.Duration `json:"stall_time_ns,omitempty"`
	MaxLag     time.Duration `json:"max_lag_ns,omitempty"`
	// StallAt are the moments (from Start) the first 16 stalls were seen,
	// at their end.
	StallAt []time.Duration `json:"stall_at_ns,omitempty"`

	// Latency is the viewer's latency from publisher to viewer, when it was
	// in the sample and its publisher's send times were known (a native
	// publisher): milliseconds, over its video frames after the GOP
	// cache's burst.
	Latency *LatencySample `json:"latency,omitempty"`
}

// LatencySample is one viewer's latency figures, in milliseconds.
type LatencySample struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	// Unpaired counts frames whose send time was not found.
	Unpaired int `json:"unpaired,omitempty"`
	// Buckets counts the latencies by LatencyBucket, so that a report can
	// merge viewers' samples (trailing empty buckets left out).
	Buckets []int64 `json:"buckets,omitempty"`
}

// Latency buckets: bucket 0 holds latencies under 1 ms; bucket i >= 1 those
// from 2^((i-1)/8) ms to 2^(i/8) ms (9 % wide); the last one everything
// from about 2 minutes.
const (
	bucketsPerDoubling = 8
	LatencyBuckets     = 8*17 + 2
)

// LatencyBucket is the bucket of latency d.
func LatencyBucket(d time.Duration) int {
	m := float64(d) / float64(time.Millisecond)
	if m < 1 {
		return 0
	}
	return min(int(math.Log2(m)*bucketsPerDoubling)+1, LatencyBuckets-1)
}

// BucketUpper is the upper bound of bucket i.
func BucketUpper(i int) time.Duration {
	return time.Duration(math.Exp2(float64(i)/bucketsPerDoubling) * float64(time.Millisecond))
}

// BucketQuantile is the q quantile (0..1) of counts by bucket, as the upper
// bound of its bucket (0 without counts).
func BucketQuantile(buckets []int64, q float64) time.Duration {
	var n int64
	for _, c := range buckets {
		n += c
	}
	if n == 0 {
		return 0
	}
	want := int64(math.Ceil(q * float64(n)))
	var seen int64
	for i, c := range buckets {
		seen += c
		if seen >= max(want, 1) {
			return BucketUpper(i)
		}
	}
	return BucketUpper(len(buckets) - 1)
}

// Viewer endings (ViewEvent.Ending) that a report tells apart.
const (
	ViewHeld              = "held"
	ViewUnreachable       = "unreachable"
	ViewSetupTimeout      = "setup_timeout"
	ViewRefused           = "refused"
	ViewClosedInSetup     = "closed_in_setup"
	ViewClosedBeforeMedia = "closed_before_media"
	ViewSilent            = "silent"
	ViewClosed            = "closed"
	ViewReset             = "reset"
	ViewError             = "error"
)
