// Package scenarios defines rtmpload's scenario files: the schema, a strict loader whose errors
// carry file, line and column, the publish schedule as a pure function of elapsed time, and the
// built-in scenarios embedded in the binary.
package scenarios

import (
	"math"
	"time"

	"github.com/rtmpload/rtmpload/hook"
	"github.com/rtmpload/rtmpload/schema"
)

// Values accepted in a scenario file. The hook modes and clips are package
// schema's words.
const (
	DefaultBitrate = "500k"

	// MaxGroupCount bounds one group so that a typo cannot schedule millions of ffmpeg processes.
	MaxGroupCount = 100000
)

// Modes of a scenario.
const (
	ModeLoad     = "load"
	ModeCapacity = "capacity"
)

// Scenario is one load test: who publishes which stream name, when, for how long.
type Scenario struct {
	Name        string
	Description string        // one line, shown by `rtmpload scenarios`
	Duration    time.Duration // whole run; > 0
	Media       Media
	Hook        Hook
	Publishers  []Group
	Viewers     []ViewerGroup // players of the published streams (viewers.go)
	Churn       Churn
	// Mode is "load" ("" too: the schedule as written) or "capacity": add
	// publishers of the one group in steps until a stop rule breaks.
	Mode     string
	Capacity Capacity
	Expect   []string // thresholds as written, e.g. "rate(ok) >= 0.99"
	Source   string   // file path or "builtin:<name>", set by the loader
}

// Media is what every publisher sends.
type Media struct {
	Clip       schema.Clip
	Bitrate    string // as written, for ffmpeg: "500k", "1.5M", "800000"
	BitrateBps int    // Bitrate in bits per second
}

// Hook is how the built-in on_publish callback server answers.
type Hook struct {
	Mode    schema.HookMode
	Latency time.Duration
	Faults  []hook.Fault // windows over the run's elapsed time, in file order
}

// Group is a set of publishers that share a name pattern and a start schedule.
type Group struct {
	Group string // unique within the scenario
	Count int    // >= 1
	Name  string // pattern, see ExpandName; equal names inside or across groups are deliberate duplicates
	// Param is the publish URL's own query (publish tokens the server's
	// callback checks), a pattern with Name's placeholders: "token=t{i}".
	Param string
	Start time.Duration
	Ramp  time.Duration // publisher i starts at Start + Ramp*i/Count
	Hold  time.Duration // 0: until the run ends
	// Reconnect restarts a publisher that ended on its own (refused,
	// dropped) before its stop time; zero: no reconnects.
	Reconnect Reconnect
	// Fanout is how many of the group's publishers may share one ffmpeg
	// process (tee muxer), 1..MaxFanout; 0: the run's default (one each
	// unless --fanout says otherwise). See Batches.
	Fanout int
	// Engine publishes the group: schema.EngineFFmpeg or
	// schema.EngineNative; "" takes the run's (--engine, default ffmpeg).
	// A native publisher is one connection of rtmpload's own (native/):
	// fan-out does not apply to it.
	Engine string
	// Witness is the share (0..1) of a native group's publishers that
	// ffmpeg runs instead, so the report still shows what real ffmpeg met
	// beside the native publishers (see IsWitness). It is ignored when the
	// group's engine is ffmpeg.
	Witness float64
}

// IsWitness tells whether publisher i of a group with witness share
// publishes with ffmpeg: the first, then one in every 1/share, spread
// evenly over the group.
func IsWitness(i int, share float64) bool {
	if share <= 0 {
		return false
	}
	return math.Ceil(float64(i)*share-1e-9) < math.Ceil(float64(i+1)*share-1e-9)
}

// Reconnect is a group's reconnect policy: the n-th reconnect (n = 1..Max)
// waits Delay * Backoff^(n-1).
type Reconnect struct {
	Delay   time.Duration
	Max     int
	Backoff float64 // 0 or 1: a constant delay
}

// Capacity is the step plan and stop rules of mode capacity.
type Capacity struct {
	Step  int           // publishers added per step
	Every time.Duration // length of a step
	Ramp  time.Duration // the step's publishers start spread over this (default Every/4)
	Stop  StopRules
}

// StopRules end a capacity run: a step breaks when any rule is exceeded
// over the attempts started in it (or the time it lasted).
type StopRules struct {
	FailureRate  float64       // share of the step's attempts that did not publish (default 0.05)
	P95Publish   time.Duration // p95 of publish latency (wire, else ffmpeg's publish_start) (default 1s)
	StarvedShare float64       // share of publishers starved at the step's end (default 0.05)
	CPU          float64       // rtmpload's own CPU in cores (default 0.9)
	MachineCPU   float64       // the whole machine's CPU busy share, 0..1 (default 0.97)
	// GeneratorCPU is the generator's CPU in cores: rtmpload and every
	// ffmpeg it runs (default 0: half of the machine's cores, decided by the
	// run). A capacity test measures the server only while the generator
	// leaves it most of the machine.
	GeneratorCPU float64
	// ServerCPU is the server's own CPU in cores, when the run can read it
	// (a server it started, or the embedded one run as its own process)
	// (default 0.9: SRS serves on one thread, so one core is its limit).
	ServerCPU float64
}

// Churn stops and restarts a share of the publishers every period, to soak
// the server with reconnections as a fleet of real cameras does.
type Churn struct {
	Every time.Duration // 0: no churn
	Share float64       // 0..1: the fraction of publishers restarted each period
}

func (c *Capacity) defaults() {
	if c.Ramp == 0 {
		c.Ramp = c.Every / 4
	}
	st := &c.Stop
	if st.FailureRate == 0 {
		st.FailureRate = 0.05
	}
	if st.P95Publish == 0 {
		st.P95Publish = time.Second
	}
	if st.StarvedShare == 0 {
		st.StarvedShare = 0.05
	}
	if st.CPU == 0 {
		st.CPU = 0.9
	}
	if st.ServerCPU == 0 {
		st.ServerCPU = 0.9
	}
	if st.MachineCPU == 0 {
		st.MachineCPU = 0.97
	}
}

// Steps is how many steps reach count publishers.
func (c Capacity) Steps(count int) int {
	if c.Step < 1 {
		return 0
	}
	return (count + c.Step - 1) / c.Step
}

// Duration is the length of a capacity run that reaches count publishers.
func (c Capacity) Duration(count int) time.Duration {
	return time.Duration(c.Steps(count)) * c.Every
}
