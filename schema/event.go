package schema

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Schema is the version of the results stream. Bump it when a field changes
// meaning or a type of event is added; readers refuse streams with a newer
// schema and read every older one.
//
//   - 1: the first stream.
//   - 2: "machine" events, the load machine's state every second (Machine).
//   - 3: an attempt may be a native publisher's (AttemptEvent.Engine
//     "native": no pid, its exit message what the server did, its wire
//     record its own); older streams read the same (every attempt ffmpeg's).
//   - 4: viewers: "view" events, one per play (View), the hook's on_play and
//     on_stop actions, the embedded server's play kinds, and the viewers'
//     outcomes (no_such_stream, stalled); older streams have no viewers.
const Schema = 4

// Event types, the "type" field of every line.
const (
	TypeRun     = "run"      // first line: the run header
	TypeAttempt = "attempt"  // one publish attempt changed state
	TypeHook    = "hook"     // the callback server answered (or failed) one call
	TypeServer  = "server"   // the RTMP server's own view (embedded server events)
	TypeWire    = "wire"     // the tap's phases of one connection
	TypeState   = "state"    // the callback's availability changed
	TypeSnap    = "snapshot" // the server's own view (SRS API, nginx-rtmp stat)
	TypeStep    = "step"     // a capacity step was judged
	TypeMachine = "machine"  // the load machine's state over the last second (schema 2)
	TypeEnd     = "end"      // last line
	// TypeView (view.go): one viewer's play (schema 4).
)

// Attempt phases (the "phase" field of attempt events).
const (
	PhaseSpawn      = "spawn"      // ffmpeg started
	PhasePublishing = "publishing" // ffmpeg's first -progress block: its output is open
	PhaseExit       = "exit"       // ffmpeg is gone
	PhaseStarved    = "starved"    // ffmpeg fell below real time or stalled (Message says which)
	PhaseRecovered  = "recovered"  // back to real time
)

// End reasons.
const (
	EndNormal      = "normal"
	EndInterrupted = "interrupted"
	EndError       = "error"
	EndKnee        = "knee" // a capacity run found its knee and stopped
)

// Event is one line of results.jsonl. Only the fields of its type are set.
type Event struct {
	Type string    `json:"type"`
	Time time.Time `json:"t"`

	// run header
	Run *RunHeader `json:"run,omitempty"`

	// attempt
	Attempt *AttemptEvent `json:"attempt,omitempty"`

	// hook call
	Hook *HookCall `json:"hook,omitempty"`

	// server event
	Server *ServerEvent `json:"server,omitempty"`

	// wire (tap) phases
	Wire *WireConn `json:"wire,omitempty"`

	// callback availability
	State *StateChange `json:"state,omitempty"`

	// server's own view
	Snapshot *Snapshot `json:"snapshot,omitempty"`

	// capacity step
	Step *Step `json:"step,omitempty"`

	// the load machine's state
	Machine *MachineSample `json:"machine,omitempty"`

	// viewer's play
	View *ViewEvent `json:"view,omitempty"`

	// end
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	Usage  *Usage `json:"usage,omitempty"`
}

// Usage is the CPU and memory rtmpload itself used (embedded server, hook
// and tap included) beside what its ffmpeg children used, from getrusage.
type Usage struct {
	SelfCPU     time.Duration `json:"self_cpu_ns"`
	SelfMaxRSS  int64         `json:"self_max_rss_bytes"`
	ChildCPU    time.Duration `json:"children_cpu_ns"`
	ChildMaxRSS int64         `json:"children_max_rss_bytes"` // the largest single child
	// ServerCPU and ServerMaxRSS are the server's, when it is a process of
	// its own (a managed SRS or nginx, or `rtmpload serve`): read when the
	// publishers are done, so the generator and the server of one run can
	// be compared side by side.
	ServerCPU    time.Duration `json:"server_cpu_ns,omitempty"`
	ServerMaxRSS int64         `json:"server_max_rss_bytes,omitempty"`
}

// RunHeader describes a run so that its report explains itself.
type RunHeader struct {
	Schema    int               `json:"schema"`
	ID        string            `json:"id"`
	Started   time.Time         `json:"started"`
	Scenario  ScenarioInfo      `json:"scenario"`
	Target    string            `json:"target"`
	HookMode  string            `json:"hook_mode"`
	Options   map[string]string `json:"options,omitempty"`
	Versions  map[string]string `json:"versions,omitempty"`
	Publisher []string          `json:"publisher_args,omitempty"`
	Expect    []string          `json:"expect,omitempty"` // thresholds of the scenario and the command line
	Shard     int               `json:"shard,omitempty"`  // this stream is slice Shard of Shards
	Shards    int               `json:"shards,omitempty"`
}

// ScenarioInfo is the part of a scenario a report needs.
type ScenarioInfo struct {
	Name     string        `json:"name"`
	Source   string        `json:"source"`
	Duration time.Duration `json:"duration_ns"`
	Groups   []GroupInfo   `json:"groups"`
	Viewers  []GroupInfo   `json:"viewers,omitempty"` // viewer groups
}

// GroupInfo is one publisher group of the scenario.
type GroupInfo struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// AttemptEvent is a state change of one publish attempt.
type AttemptEvent struct {
	ID     string `json:"id"`
	Phase  string `json:"phase"`
	Group  string `json:"group"`
	Stream string `json:"stream"`
	Slot   int    `json:"slot"`
	URL    string `json:"url,omitempty"`
	PID    int    `json:"pid,omitempty"` // spawn: ffmpeg's pid (and process group)
	// Engine is who published (EngineFFmpeg when empty); set on spawn.
	Engine string `json:"engine,omitempty"`
	// spawn, for an output of a fan-out process (several publishers in one
	// ffmpeg, tee muxer): the process's first attempt id, the output's place
	// (1..) and the process's outputs. tee opens them in this order.
	Process string `json:"process,omitempty"`
	Output  int    `json:"output,omitempty"`
	Outputs int    `json:"outputs,omitempty"`

	// exit only
	Class      ExitClass `json:"class,omitempty"`
	ExitCode   int       `json:"exit_code,omitempty"`
	Stopped    bool      `json:"stopped,omitempty"`
	Killed     bool      `json:"killed,omitempty"`
	Message    string    `json:"message,omitempty"`
	StderrTail []string  `json:"stderr_tail,omitempty"`
	Frames     int64     `json:"frames,omitempty"`
	Bytes      int64     `json:"bytes,omitempty"`
}

// HookCall is the callback server's record of one call.
type HookCall struct {
	Seq      int64      `json:"seq"`
	Action   HookAction `json:"action"`
	Attempt  string     `json:"attempt,omitempty"`
	ClientID string     `json:"client_id,omitempty"`
	Stream   string     `json:"stream,omitempty"`
	App      string     `json:"app,omitempty"`
	Param    string     `json:"param,omitempty"`
	Arrived  time.Time  `json:"arrived"`
	Answered time.Time  `json:"answered"`
	Status   int        `json:"status"`
	Verdict  string     `json:"verdict"` // srs.Verdict's words: allow | deny | bad_answer | error
	Reason   string     `json:"reason,omitempty"`
	// Dialect is the calling server's (DialectSRS or DialectNginx; "" in
	// older streams, taken as srs).
	Dialect string `json:"dialect,omitempty"`
	// Body is the answer the calling server got, cut at MaxHookBody bytes;
	// BodyBytes is its full length. Nil in older streams.
	Body      *string `json:"body,omitempty"`
	BodyBytes int     `json:"body_bytes,omitempty"`
	Canceled  bool    `json:"canceled,omitempty"`
	Fault     string  `json:"fault,omitempty"` // the fault that shaped the answer, e.g. "status:500"
	// Upstream is the user's callback service's own answer when rtmpload's
	// hook proxies it (--hook proxy=URL).
	Upstream *Upstream `json:"upstream,omitempty"`
}

// Dialects of a hook call (HookCall.Dialect): how the calling server asks.
const (
	DialectSRS   = "srs"   // SRS's JSON body
	DialectNginx = "nginx" // nginx-rtmp's form-encoded fields
)

// Upstream is what a proxied callback service answered one call.
type Upstream struct {
	Status  int           `json:"status,omitempty"` // 0: no answer
	Latency time.Duration `json:"latency_ns"`
	Err     string        `json:"err,omitempty"`
	Body    string        `json:"body,omitempty"`
}

// Latency is how long the hook took to answer, as the hook saw it.
func (h *HookCall) Latency() time.Duration { return h.Answered.Sub(h.Arrived) }

// MaxHookBody bounds HookCall.Body.
const MaxHookBody = 512

// HookBody returns a call's Body field for an answer: at most MaxHookBody
// bytes of it, cut on a character boundary, and its full length.
func HookBody(body string) (*string, int) {
	cut := body
	if len(cut) > MaxHookBody {
		cut = strings.ToValidUTF8(cut[:MaxHookBody], "")
	}
	return &cut, len(body)
}

// ServerEvent is the embedded server's view of a publish, like SRS's log.
type ServerEvent struct {
	Kind        ServerKind `json:"kind"`
	Attempt     string     `json:"attempt,omitempty"`
	ClientID    string     `json:"client_id,omitempty"`
	Stream      string     `json:"stream,omitempty"`
	Reason      string     `json:"reason,omitempty"` // reject: an Outcome's word (or server_closed); unpublish: how it ended
	HookStatus  int        `json:"hook_status,omitempty"`
	HookErr     string     `json:"hook_err,omitempty"`
	HookBody    string     `json:"hook_body,omitempty"` // the refusing answer, cut at 512 bytes
	HookLatency int64      `json:"hook_latency_ns,omitempty"`
	BytesIn     uint64     `json:"bytes_in,omitempty"`
	VideoMsgs   uint64     `json:"video_msgs,omitempty"`
	AudioMsgs   uint64     `json:"audio_msgs,omitempty"`
}

// StateChange is a change of the callback's availability: the built-in
// hook's own state under its fault schedule, or a probe's finding for a
// callback rtmpload does not serve.
type StateChange struct {
	Source string        `json:"source"` // hook | probe
	State  CallbackState `json:"state"`
	Fault  string        `json:"fault,omitempty"`
	Detail string        `json:"detail,omitempty"`
	// Action is the side of the callback the change is about, publish
	// (on_publish, on_unpublish) or play (on_play, on_stop), when a fault
	// window targets one side; "" when the state holds for every call.
	Action string `json:"action,omitempty"`
}

// Sides of a capacity step's limit (Step.Side).
const (
	SideGenerator = "generator"
	SideServer    = "server"
	SideMachine   = "machine"
	// SideOther: the machine was busy, but the generator and the server
	// used less than half of it: other work on the machine ran it out.
	SideOther = "other"
)

// Step is one judged step of a capacity run.
type Step struct {
	Step       int     `json:"step"`       // 1..
	Publishers int     `json:"publishers"` // planned by the end of the step
	Active     int     `json:"active"`     // running at its end
	Started    int     `json:"started"`    // attempts started in the step
	Refused    int     `json:"refused"`    // of those, never published
	Dropped    int     `json:"dropped"`    // of those, published then ended on their own
	Starved    int     `json:"starved"`    // running and starved at its end
	P95Ms      float64 `json:"p95_ms"`
	P95Source  string  `json:"p95_metric"` // publish (wire) or publish_start (ffmpeg)
	CPU        float64 `json:"cpu_cores"`  // rtmpload's own
	MachineCPU float64 `json:"machine_cpu"`
	// GeneratorCPU is rtmpload and its ffmpegs, in cores; ServerCPU the
	// server's own process (-1: not a process of its own, or not readable).
	GeneratorCPU float64 `json:"generator_cpu_cores"`
	ServerCPU    float64 `json:"server_cpu_cores"`
	// Side is who ran out when a rule broke: generator, server or machine.
	Side  string   `json:"side,omitempty"`
	Held  bool     `json:"held"`
	Broke []string `json:"broke,omitempty"`
}

// MachineSample is the load machine's state over one span (Span, ending at
// the event's time): how busy its CPUs were, how many processes waited to run,
// and whether rtmpload itself ran when it should have. A failure that
// coincides with a saturated or stalled generator is the load machine's
// doing before it is the server's: the report says so.
type MachineSample struct {
	Span  time.Duration `json:"span_ns"`
	Cores int           `json:"cores"`
	// CPUBusy and CPUSteal are shares of all cores over the span, from
	// /proc/stat (busy excludes idle, iowait and steal; steal is the time a
	// hypervisor gave to others). -1: /proc/stat could not be read.
	CPUBusy  float64 `json:"cpu_busy"`
	CPUSteal float64 `json:"cpu_steal"`
	// RunQueue is the processes running or ready to run at the sample
	// (/proc/stat procs_running; -1: unknown). More than the cores means
	// some wait.
	RunQueue int `json:"run_queue"`
	// TimerLate is how late rtmpload's own 50 ms timer woke at worst in the
	// span: how long the whole process, its tap and its clocks stood still
	// (no CPU for it, or the Go scheduler's backlog).
	TimerLate time.Duration `json:"timer_late_ns"`
	// GCPause is the longest stop-the-world pause of rtmpload's garbage
	// collector in the span (an upper bound, from runtime/metrics).
	GCPause time.Duration `json:"gc_pause_ns"`
	// TapPublishing is the connections publishing through the tap at the
	// sample; TapQuiet how long the tap had then forwarded no media from any
	// of them while none of its writes to the server was blocked: nothing
	// came from the publishers, or the tap did not run. Zero without the tap.
	TapPublishing int           `json:"tap_publishing,omitempty"`
	TapQuiet      time.Duration `json:"tap_quiet_ns,omitempty"`
}

// Snapshot is the server's own view at one moment, as its API showed it:
// every stream and its publishing clients.
type Snapshot struct {
	Err     string       `json:"err,omitempty"`
	Streams []SnapStream `json:"streams,omitempty"`
}

// SnapStream is one stream in a Snapshot.
type SnapStream struct {
	Name       string   `json:"name"`
	App        string   `json:"app,omitempty"`
	Clients    int      `json:"clients,omitempty"`
	Publishers []string `json:"publishers,omitempty"` // client ids publishing it
}

// WireConn is the tap's record of one TCP connection between a publisher
// and the server.
type WireConn struct {
	Conn      uint64     `json:"conn"`
	Attempt   string     `json:"attempt,omitempty"`
	Stream    string     `json:"stream,omitempty"`
	Marks     []WireMark `json:"marks"`
	BytesUp   uint64     `json:"bytes_up"`
	BytesDown uint64     `json:"bytes_down"`
	Unparsed  bool       `json:"unparsed,omitempty"`
}

// WireMark is one phase seen on the wire.
type WireMark struct {
	Phase  string    `json:"phase"`
	At     time.Time `json:"at"`
	Detail string    `json:"detail,omitempty"`
}

// Writer writes events as JSON lines. Each event is one write to the
// underlying file, so a run killed midway still leaves whole lines behind.
// Secrets in any field (a token in the spawn URL, a password in an option,
// ffmpeg's stderr quoting the URL) are redacted as the process's policy says
// (schema.SetRedactPolicy). It is safe for concurrent use.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	err error
	n   int
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write appends one event. The first error sticks and is returned by Err.
func (w *Writer) Write(ev Event) {
	b, err := json.Marshal(ev)
	if err == nil {
		b = append(RedactJSON(b), '\n')
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	if err == nil {
		_, err = w.w.Write(b)
	}
	if err != nil {
		w.err = fmt.Errorf("write results: %w", err)
		return
	}
	w.n++
}

// Err returns the first write error.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Count returns how many events were written.
func (w *Writer) Count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// MaxLine bounds one line of a results stream or of the hook's call log:
// the longest line rtmpload writes (an attempt's stderr tail, a hook call
// with its answer) is a few KiB, so a longer line is not ours and must not
// be held whole.
const MaxLine = 4 << 20

// ErrLongLine is ReadLine's error for a line longer than its max.
var ErrLongLine = errors.New("line too long")

// ReadLine is bufio.Reader.ReadBytes('\n') that gives up past max bytes
// (ErrLongLine) instead of holding a line of any length.
func ReadLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) > max {
			return nil, ErrLongLine
		}
		line = append(line, frag...)
		if err != bufio.ErrBufferFull {
			return line, err
		}
	}
}

// Read decodes a results stream and calls fn for each event. A truncated
// last line (a run killed mid-write) is ignored; any other bad line is an
// error naming its line number. Secrets are redacted as they are read, so
// a report hides them even from a results file written with --show-secrets.
func Read(r io.Reader, fn func(Event) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	line := 0
	for {
		b, err := ReadLine(br, MaxLine)
		if errors.Is(err, ErrLongLine) {
			return fmt.Errorf("results line %d is longer than %d bytes: not an rtmpload results file", line+1, MaxLine)
		}
		if len(b) > 0 {
			line++
			complete := b[len(b)-1] == '\n'
			var ev Event
			if uerr := json.Unmarshal(RedactJSON(b), &ev); uerr != nil {
				if !complete && err == io.EOF {
					return nil // torn last line of an interrupted run
				}
				return fmt.Errorf("results line %d: %v", line, uerr)
			}
			if ev.Type == TypeRun && ev.Run != nil && ev.Run.Schema > Schema {
				return fmt.Errorf("results line %d: schema %d is newer than this rtmpload understands (%d): upgrade rtmpload", line, ev.Run.Schema, Schema)
			}
			// Schema 1 is the first rtmpload wrote: a header without one (0,
			// a missing field) or below it is not rtmpload's, and a report
			// of it would be a guess.
			if ev.Type == TypeRun && ev.Run != nil && ev.Run.Schema < 1 {
				return fmt.Errorf("results line %d: run header with schema %d: rtmpload writes schema 1 and up; this is not an rtmpload results file", line, ev.Run.Schema)
			}
			if ferr := fn(ev); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// How a fan-out process opens its outputs, in the run header's options
// ("fanout_open"): all at once, each behind its own queue, or one after
// another with media to none until all are open.
const (
	FanoutParallel = "parallel"
	FanoutInTurn   = "in turn"
)
