package report

import (
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// Summary is what a run amounts to. It is the body of report.json.
type Summary struct {
	Run       schema.RunHeader       `json:"run"`
	Ended     time.Time              `json:"ended,omitzero"`
	EndReason string                 `json:"end_reason"`
	EndError  string                 `json:"end_error,omitempty"`
	Usage     *schema.Usage          `json:"usage,omitempty"`
	Attempts  int                    `json:"attempts"`
	Outcomes  map[schema.Outcome]int `json:"outcomes"`
	Groups    []GroupSummary         `json:"groups"`
	Latency   []LatencyRow           `json:"latency"`
	Hook      HookSummary            `json:"hook"`
	Contests  []Contest              `json:"contests"`
	Failures  []Failure              `json:"failures"`
	// Fanout is what publishing several outputs per ffmpeg did (nil when no
	// process had several).
	Fanout *FanoutSummary `json:"fanout,omitempty"`
	// Engines compares native and ffmpeg publishers when a run had both.
	Engines *Engines `json:"engines,omitempty"`
	// Slowest are the attempts that waited longest for the server's verdict.
	Slowest   []Slow   `json:"slowest"`
	Anomalies []string `json:"anomalies,omitempty"`
	// Availability is every change of the callback's state over the run.
	Availability []TimedState `json:"availability"`
	// ByState counts outcomes by the callback's state at each attempt's
	// decisive moment: outcome -> state -> count.
	ByState map[schema.Outcome]map[schema.CallbackState]int `json:"by_state"`
	// Machine is the load machine's state over the run (nil: the results
	// have no samples, as schema 1's).
	Machine *MachineView `json:"machine,omitempty"`
	// Server is the server's own view, when its API was read.
	Server *ServerView `json:"server_view,omitempty"`
	// Capacity is the step table and knee of a capacity run.
	Capacity *Capacity `json:"capacity,omitempty"`
	// Viewers is what the scenario's viewers saw (nil: no viewers).
	Viewers *ViewerSummary `json:"viewers,omitempty"`
	// Shards is set when the summary merges the shards of one run (Merge).
	Shards *ShardInfo `json:"shards,omitempty"`
}

// TimedState is a StateChange with its time.
type TimedState struct {
	At time.Time `json:"at"`
	schema.StateChange
}

// GroupSummary counts one publisher group's outcomes.
type GroupSummary struct {
	Name     string                 `json:"name"`
	Attempts int                    `json:"attempts"`
	Outcomes map[schema.Outcome]int `json:"outcomes"`
	// Starved counts attempts that fell below real time or stalled at some
	// point: a server or machine that cannot keep up shows here first.
	Starved int `json:"starved"`
}

// Capacity is what a capacity run found.
type Capacity struct {
	Steps []schema.Step `json:"steps"`
	// Knee is the most publishers of a step that held (0: none held).
	Knee int `json:"knee"`
	// Limit says what ended the ramp: the rules the first failing step
	// broke, or that the scenario's most publishers held.
	Limit string `json:"limit"`
}

// LatencyRow is one metric's percentiles for one group ("all" for every
// group), in milliseconds.
type LatencyRow struct {
	Metric string  `json:"metric"`
	Source string  `json:"source"` // ffmpeg | wire | hook
	Group  string  `json:"group"`
	Count  int64   `json:"count"`
	P50    float64 `json:"p50_ms"`
	P90    float64 `json:"p90_ms"`
	P95    float64 `json:"p95_ms"`
	P99    float64 `json:"p99_ms"`
	P999   float64 `json:"p99_9_ms"`
	Max    float64 `json:"max_ms"`
	// Histogram is the distribution on fixed log-spaced buckets, from the
	// first bucket with a sample to the last.
	Histogram []LatencyBucket `json:"histogram,omitempty"`
}

// LatencyBucket counts the samples above the previous bucket's bound and at
// most LeMS (the last bucket of the scale has no bound: LeMS 0).
type LatencyBucket struct {
	LeMS  float64 `json:"le_ms"`
	Count int64   `json:"count"`
}

// HookSummary is what the callback server saw.
type HookSummary struct {
	Calls    int            `json:"calls"`
	Verdicts map[string]int `json:"verdicts"` // on_publish answers
	Orphans  int            `json:"orphans"`  // on_publish calls not tied to any attempt
	// Upstream is the proxied callback service's behaviour (--hook
	// proxy=URL); its latency is the upstream_latency row.
	Upstream *UpstreamSummary `json:"upstream,omitempty"`
}

// UpstreamSummary is how the user's real callback service behaved.
type UpstreamSummary struct {
	Calls       int            `json:"calls"`       // calls forwarded to it
	Unreachable int            `json:"unreachable"` // no answer (connection refused, timeout)
	Statuses    map[string]int `json:"statuses"`    // HTTP status -> count
	Allowed     int            `json:"allowed"`     // answers SRS takes as allow
	// BadAnswers are its 2xx answers in a format SRS does not take
	// ({"status":"ok"}); BadAnswerBody is the first of them, cut at 512
	// bytes.
	BadAnswers    int    `json:"bad_answers,omitempty"`
	BadAnswerBody string `json:"bad_answer_body,omitempty"`
}

// Contest is every attempt at one stream name that more than one publisher
// used, in the order they were started.
type Contest struct {
	Stream   string         `json:"stream"`
	Winners  []string       `json:"winners"`
	Attempts []ContestEntry `json:"attempts"`
	// TwoLive is set when two attempts held the name at the same time.
	TwoLive bool `json:"two_live,omitempty"`
	// Takeover is set when a publisher took the name over: the server
	// closed the old one after it accepted the new one (MediaMTX's way).
	Takeover bool `json:"takeover,omitempty"`
	// ServerMax is the most publishing clients the server's API ever listed
	// for the name (0: no API was read).
	ServerMax int `json:"server_max_publishers,omitempty"`
}

// ContestEntry is one attempt in a contest.
type ContestEntry struct {
	ID          string         `json:"id"`
	Group       string         `json:"group"`
	Spawn       time.Time      `json:"spawn"`
	HookVerdict string         `json:"hook_verdict"` // what the hook answered, "" if it saw no call
	HookReason  string         `json:"hook_reason,omitempty"`
	Outcome     schema.Outcome `json:"outcome"`
	Message     string         `json:"message,omitempty"`
	// TakenOverBy is the attempt that took the name over from this one.
	TakenOverBy string `json:"taken_over_by,omitempty"`
}

// Failure is one attempt that did not end ok, with its evidence.
type Failure struct {
	ID      string               `json:"id"`
	Group   string               `json:"group"`
	Stream  string               `json:"stream"`
	Outcome schema.Outcome       `json:"outcome"`
	State   schema.CallbackState `json:"callback_state"` // the callback's state over the decisive interval
	// StateFrom and StateTo are that interval: from the publish command to
	// the server's decision (equal: the hook's call, at its arrival).
	StateFrom time.Time `json:"callback_from,omitzero"`
	StateTo   time.Time `json:"callback_to,omitzero"`
	Message   string    `json:"message"` // ffmpeg's own words
	Hook      string    `json:"hook"`    // what the hook saw
	Evidence  string    `json:"evidence"`
	// Machine is what strained the load machine as it failed (Attempt.Machine).
	Machine string `json:"load_machine,omitempty"`
	// Timeline is the attempt's phases, from its spawn to its exit.
	Timeline []PhaseMark `json:"timeline,omitempty"`
}

// FanoutSummary is what fan-out changed: outputs of one ffmpeg (tee) start
// together. Parallel outputs open at once, each fed from its own queue; in
// turn, they are opened one after another and tee sends media to none of
// them until all are open, so an accepted output waits for the ones after
// it, and SRS drops one that sent only its headers at its second look
// (docs/srs-behaviour.md, "Publish timeouts").
type FanoutSummary struct {
	Parallel   bool `json:"parallel"`
	Processes  int  `json:"processes"`   // ffmpeg processes with several outputs
	Outputs    int  `json:"outputs"`     // attempts that were one of their outputs
	MaxOutputs int  `json:"max_outputs"` // the most outputs of one process
	// MediaWait is, per output, from the server's acceptance of its publish
	// (the wire's Publish.Start) to its first media: on its own connection
	// when Parallel, else its process's first progress; Waits is how many
	// outputs had both.
	Waits          int     `json:"waits"`
	MediaWaitP50Ms float64 `json:"media_wait_p50_ms"`
	MediaWaitMaxMs float64 `json:"media_wait_max_ms"`
}
