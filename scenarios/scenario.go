// Package scenarios defines rtmpload's scenario files: the schema, a strict loader whose errors
// carry file, line and column, the publish schedule as a pure function of elapsed time, and the
// built-in scenarios embedded in the binary.
package scenarios

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/printer"
	"github.com/goccy/go-yaml/token"

	"github.com/rtmpload/rtmpload/hook"
	"github.com/rtmpload/rtmpload/report/threshold"
	"github.com/rtmpload/rtmpload/schema"
)

// Values accepted in a scenario file. The hook modes and clips are package
// schema's words.
const (
	DefaultBitrate = "500k"

	// MaxGroupCount bounds one group so that a typo cannot schedule millions of ffmpeg processes.
	MaxGroupCount = 100000
)

// Scenario is one load test: who publishes which stream name, when, for how long.
type Scenario struct {
	Name        string
	Description string        // one line, shown by `rtmpload scenarios`
	Duration    time.Duration // whole run; > 0
	Media       Media
	Hook        Hook
	Publishers  []Group
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

// Info describes a built-in scenario.
type Info struct {
	Name, Description string
}

// ParseError is a problem in a scenario file. Error() is the one line
// "FILE:LINE:COL: message"; Excerpt holds the surrounding source with a caret, for a terminal.
type ParseError struct {
	Source  string
	Line    int // 1-based; 0 when the position is unknown
	Column  int
	Message string
	Excerpt string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.Source, e.Line, e.Column, e.Message)
}

// nodeError is returned from our own YAML unmarshalers: goccy/go-yaml passes it through
// unchanged, so it must carry the position itself.
type nodeError struct {
	tok *token.Token
	msg string
}

func (e *nodeError) Error() string { return e.msg }

// The file's shape. Separate from the public types so that durations are parsed strictly and
// the public API keeps plain time.Duration.
type fileScenario struct {
	Name        string      `yaml:"name"`
	Description string      `yaml:"description"`
	Duration    Duration    `yaml:"duration"`
	Media       fileMedia   `yaml:"media"`
	Hook        fileHook    `yaml:"hook"`
	Publishers  []fileGroup `yaml:"publishers"`
	Churn       fileChurn   `yaml:"churn"`
	Mode        string      `yaml:"mode"`
	Capacity    fileCap     `yaml:"capacity"`
	Expect      []string    `yaml:"expect"`
}

type fileCap struct {
	Step  whole    `yaml:"step"`
	Every Duration `yaml:"every"`
	Ramp  Duration `yaml:"ramp"`
	Stop  struct {
		FailureRate  float64  `yaml:"failure_rate"`
		P95Publish   Duration `yaml:"p95_publish"`
		StarvedShare float64  `yaml:"starved_share"`
		CPU          float64  `yaml:"cpu"`
		MachineCPU   float64  `yaml:"machine_cpu"`
		GeneratorCPU float64  `yaml:"generator_cpu"`
		ServerCPU    float64  `yaml:"server_cpu"`
	} `yaml:"stop"`
}

type fileChurn struct {
	Every Duration `yaml:"every"`
	Share string   `yaml:"share"` // "10%" or "0.1"
}

type fileReconnect struct {
	Delay   Duration `yaml:"delay"`
	Max     whole    `yaml:"max"`
	Backoff float64  `yaml:"backoff"`
}

type fileMedia struct {
	Clip    word[schema.Clip, *schema.Clip] `yaml:"clip"`
	Bitrate string                          `yaml:"bitrate"`
}

type fileHook struct {
	Mode    word[schema.HookMode, *schema.HookMode] `yaml:"mode"`
	Latency Duration                                `yaml:"latency"`
	Faults  []fileFault                             `yaml:"faults"`
}

type fileFault struct {
	At   Duration `yaml:"at"`
	For  Duration `yaml:"for"`
	Kind string   `yaml:"kind"`
}

type fileGroup struct {
	Group string   `yaml:"group"`
	Count whole    `yaml:"count"`
	Name  string   `yaml:"name"`
	Param string   `yaml:"param"`
	Start Duration `yaml:"start"`
	Ramp  Duration `yaml:"ramp"`
	Hold  Duration `yaml:"hold"`

	Reconnect fileReconnect `yaml:"reconnect"`
	Fanout    whole         `yaml:"fanout"`
}

// Load reads and parses a scenario file.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// decodeNode decodes the scenario's YAML node strictly. go-yaml v1.19.2
// panics on some malformed input (a tagged scalar where a list belongs:
// `publishers: ! 0`, found by FuzzParse); a scenario file is outside input,
// so that panic becomes an error at the document, not a crash.
func decodeNode(body ast.Node, raw *fileScenario) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &nodeError{tok: body.GetToken(), msg: fmt.Sprintf("the YAML cannot be read as a scenario (%v)", p)}
		}
	}()
	return yaml.NodeToValue(body, raw, yaml.Strict())
}

// Parse parses a scenario strictly: unknown keys, malformed values and inconsistent settings are
// all errors, returned as *ParseError naming source, line and column. A missing name defaults to
// the source's base name without extension; media and hook settings have defaults.
func Parse(source string, data []byte) (*Scenario, error) {
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, positioned(source, err)
	}
	if len(file.Docs) != 1 || file.Docs[0].Body == nil {
		return nil, &ParseError{Source: source, Line: 1, Column: 1, Message: "want exactly one YAML document with the scenario"}
	}
	body := file.Docs[0].Body
	var raw fileScenario
	if err := decodeNode(body, &raw); err != nil {
		return nil, positioned(source, err)
	}
	s := raw.scenario(source)
	if p := s.check(); p != nil {
		tok := p.token(file)
		return nil, &ParseError{Source: source, Line: tok.Position.Line, Column: tok.Position.Column, Message: p.msg, Excerpt: excerpt(tok)}
	}
	return s, nil
}

func (raw *fileScenario) scenario(source string) *Scenario {
	s := &Scenario{
		Name:        raw.Name,
		Description: raw.Description,
		Duration:    time.Duration(raw.Duration),
		Media:       Media{Clip: raw.Media.Clip.v, Bitrate: raw.Media.Bitrate},
		Hook:        Hook{Mode: raw.Hook.Mode.v, Latency: time.Duration(raw.Hook.Latency)},
		Expect:      raw.Expect,
		Source:      source,
	}
	s.Mode = raw.Mode
	c := raw.Capacity
	s.Capacity = Capacity{Step: int(c.Step), Every: time.Duration(c.Every), Ramp: time.Duration(c.Ramp), Stop: StopRules{
		FailureRate: c.Stop.FailureRate, P95Publish: time.Duration(c.Stop.P95Publish),
		StarvedShare: c.Stop.StarvedShare, CPU: c.Stop.CPU, MachineCPU: c.Stop.MachineCPU,
		GeneratorCPU: c.Stop.GeneratorCPU, ServerCPU: c.Stop.ServerCPU,
	}}
	if s.Mode == ModeCapacity {
		s.Capacity.defaults()
	}
	s.Churn = Churn{Every: time.Duration(raw.Churn.Every)}
	// A bad share is reported by check; here it stays -1.
	s.Churn.Share, _ = parseShare(raw.Churn.Share)
	for _, f := range raw.Hook.Faults {
		// A bad kind is reported by check with its position; keep what was written.
		pf, _ := hook.ParseFault(f.Kind)
		pf.Spec, pf.At, pf.For = f.Kind, time.Duration(f.At), time.Duration(f.For)
		s.Hook.Faults = append(s.Hook.Faults, pf)
	}
	if s.Name == "" {
		base := filepath.Base(strings.TrimPrefix(source, builtinPrefix))
		s.Name = strings.TrimSuffix(base, filepath.Ext(base))
	}
	if s.Media.Clip == "" {
		s.Media.Clip = schema.DefaultClip
	}
	if s.Media.Bitrate == "" {
		s.Media.Bitrate = DefaultBitrate
	}
	// A bad bitrate is reported by check; here it just stays 0.
	s.Media.BitrateBps, _ = ParseBitrate(s.Media.Bitrate)
	if s.Hook.Mode == "" {
		s.Hook.Mode = schema.HookAllow
	}
	for _, g := range raw.Publishers {
		s.Publishers = append(s.Publishers, Group{
			Group: g.Group, Count: int(g.Count), Name: g.Name, Param: g.Param,
			Start: time.Duration(g.Start), Ramp: time.Duration(g.Ramp), Hold: time.Duration(g.Hold),
			Reconnect: Reconnect{Delay: time.Duration(g.Reconnect.Delay), Max: int(g.Reconnect.Max), Backoff: g.Reconnect.Backoff},
			Fanout:    int(g.Fanout),
		})
	}
	if s.Mode == ModeCapacity && s.Duration == 0 && len(s.Publishers) == 1 {
		s.Duration = s.Capacity.Duration(s.Publishers[0].Count)
	}
	return s
}

// Validate checks a scenario built in code by the same rules Parse applies to files.
func (s *Scenario) Validate() error {
	p := s.check()
	if p == nil {
		return nil
	}
	where := strings.TrimPrefix(p.path, "$")
	if p.key != "" {
		where += "." + p.key
	}
	return fmt.Errorf("scenario %q: %s: %s", s.Name, strings.TrimPrefix(where, "."), p.msg)
}

// problem is a validation failure found after decoding, located by YAML path so that Parse can
// point at the offending key in the source.
type problem struct {
	path string // mapping that holds the key, e.g. "$.publishers[1]"
	key  string // "" for the mapping itself
	msg  string
}

// check finds the scenario's first problem, section by section in the
// file's order, so that Parse points at the first offending key.
func (s *Scenario) check() *problem {
	for _, section := range []func() *problem{
		s.checkHeader, s.checkMode, s.checkMedia, s.checkHook, s.checkChurn, s.checkGroups, s.checkExpect,
	} {
		if p := section(); p != nil {
			return p
		}
	}
	return nil
}

func problemAt(path, key, format string, args ...any) *problem {
	return &problem{path: path, key: key, msg: fmt.Sprintf(format, args...)}
}

func (s *Scenario) checkHeader() *problem {
	if s.Name == "" {
		return problemAt("$", "name", "name is required")
	}
	if strings.ContainsAny(s.Description, "\r\n") {
		return problemAt("$", "description", "description must be one line")
	}
	return nil
}

// checkMode checks the mode and the duration, which a capacity run needs
// long enough for all of its steps.
func (s *Scenario) checkMode() *problem {
	switch s.Mode {
	case ModeLoad, "":
	case ModeCapacity:
		if p := s.checkCapacity(); p != nil {
			return p
		}
	default:
		return problemAt("$", "mode", "unknown mode %q (want load or capacity)", s.Mode)
	}
	if s.Duration <= 0 {
		return problemAt("$", "duration", "duration is required and must be greater than 0, such as 60s")
	}
	return nil
}

func (s *Scenario) checkCapacity() *problem {
	c := s.Capacity
	switch {
	case len(s.Publishers) != 1:
		return problemAt("$", "publishers", "mode capacity takes exactly one publisher group: its count is the most publishers to try")
	case c.Step < 1:
		return problemAt("$.capacity", "step", "capacity.step is required: publishers added per step, such as 25")
	case c.Every <= 0:
		return problemAt("$.capacity", "every", "capacity.every is required: the length of a step, such as 30s")
	case c.Ramp < 0 || c.Ramp > c.Every:
		return problemAt("$.capacity", "ramp", "capacity.ramp must be within the step (0 to %v)", c.Every)
	case c.Stop.FailureRate < 0 || c.Stop.FailureRate > 1 || c.Stop.StarvedShare < 0 || c.Stop.StarvedShare > 1 ||
		c.Stop.CPU < 0 || c.Stop.GeneratorCPU < 0 || c.Stop.ServerCPU < 0 || c.Stop.MachineCPU < 0 || c.Stop.MachineCPU > 1 || c.Stop.P95Publish < 0:
		return problemAt("$.capacity", "stop", "capacity.stop: rates and shares are fractions from 0 to 1, cpu is in cores, p95_publish a duration")
	}
	if need := c.Duration(s.Publishers[0].Count); s.Duration < need {
		return problemAt("$", "duration", "mode capacity with %d publishers in steps of %d every %v needs a duration of at least %v (or leave it out)",
			s.Publishers[0].Count, c.Step, c.Every, need)
	}
	return nil
}

func (s *Scenario) checkMedia() *problem {
	if _, err := schema.ParseClip(string(s.Media.Clip)); err != nil {
		return problemAt("$.media", "clip", "%v", err)
	}
	if bps, err := ParseBitrate(s.Media.Bitrate); err != nil {
		return problemAt("$.media", "bitrate", "%v", err)
	} else if bps != s.Media.BitrateBps {
		return problemAt("$.media", "bitrate", "bitrate %q is %d b/s but BitrateBps says %d", s.Media.Bitrate, bps, s.Media.BitrateBps)
	}
	return nil
}

// checkHook checks the callback's mode, latency and faults, which must fall
// within the run.
func (s *Scenario) checkHook() *problem {
	if _, err := schema.ParseHookMode(string(s.Hook.Mode)); err != nil {
		return problemAt("$.hook", "mode", "%v", err)
	}
	if s.Hook.Latency < 0 {
		return problemAt("$.hook", "latency", "latency must not be negative")
	}
	for i, f := range s.Hook.Faults {
		path := fmt.Sprintf("$.hook.faults[%d]", i)
		if _, err := hook.ParseFault(f.Spec); err != nil {
			return problemAt(path, "kind", "%v", err)
		}
		if f.At < 0 || f.At >= s.Duration {
			return problemAt(path, "at", "fault %s: at %v must be within the run (0 to %v)", f.Spec, f.At, s.Duration)
		}
		if f.For <= 0 {
			return problemAt(path, "for", "fault %s: for is required and must be greater than 0, such as 10s", f.Spec)
		}
	}
	return nil
}

func (s *Scenario) checkChurn() *problem {
	if s.Churn.Share < 0 || s.Churn.Share > 1 {
		return problemAt("$.churn", "share", "churn share must be a fraction such as 10%% or 0.1")
	}
	if s.Churn.Every < 0 || (s.Churn.Every == 0) != (s.Churn.Share == 0) {
		return problemAt("$", "churn", "churn wants both every (such as 10m) and share (such as 10%%)")
	}
	return nil
}

func (s *Scenario) checkGroups() *problem {
	if len(s.Publishers) == 0 {
		return problemAt("$", "publishers", "publishers: at least one group is required")
	}
	seen := make(map[string]bool)
	for i, g := range s.Publishers {
		path := fmt.Sprintf("$.publishers[%d]", i)
		if seen[g.Group] {
			return problemAt(path, "group", "duplicate group %q", g.Group)
		}
		if p := s.checkGroup(path, g); p != nil {
			return p
		}
		seen[g.Group] = true
	}
	return nil
}

// checkGroup checks one publisher group, at path, against the run's duration.
func (s *Scenario) checkGroup(path string, g Group) *problem {
	switch {
	case g.Group == "":
		return problemAt(path, "group", "group is required (a unique label for these publishers)")
	case g.Count < 1 || g.Count > MaxGroupCount:
		return problemAt(path, "count", "group %q: count must be between 1 and %d, got %d", g.Group, MaxGroupCount, g.Count)
	case g.Name == "":
		return problemAt(path, "name", "group %q: name is required, such as \"cam-{i:03}\"", g.Group)
	case g.Start < 0 || g.Ramp < 0 || g.Hold < 0:
		return problemAt(path, "", "group %q: start, ramp and hold must not be negative", g.Group)
	case g.Start >= s.Duration:
		return problemAt(path, "start", "group %q: start %v is not before the end of the run (%v)", g.Group, g.Start, s.Duration)
	case g.Start+g.Ramp > s.Duration:
		return problemAt(path, "ramp", "group %q: start %v + ramp %v is beyond the end of the run (%v)", g.Group, g.Start, g.Ramp, s.Duration)
	}
	if p := checkLengths(g); p != nil {
		p.path = path
		return p
	}
	if _, err := compilePattern(g.Name); err != nil {
		return problemAt(path, "name", "group %q: %v", g.Group, err)
	}
	if g.Param != "" {
		if _, err := compileParam(g.Param); err != nil {
			return problemAt(path, "param", "group %q: %v", g.Group, err)
		}
	}
	if g.Fanout < 0 || g.Fanout > MaxFanout {
		return problemAt(path, "fanout", "group %q: fanout must be from 1 to %d publishers per ffmpeg process (tee opens its outputs one after another; more would keep the first waiting for media near SRS's 25 s limit), got %d", g.Group, MaxFanout, g.Fanout)
	}
	if rc := g.Reconnect; rc.Max < 0 || rc.Delay < 0 || (rc.Backoff != 0 && (rc.Backoff < 1 || rc.Backoff > 10)) {
		return problemAt(path+".reconnect", "", "group %q: reconnect wants max >= 0, delay >= 0 and backoff from 1 to 10", g.Group)
	}
	return nil
}

func (s *Scenario) checkExpect() *problem {
	for i, e := range s.Expect {
		if _, err := threshold.Parse(e); err != nil {
			return problemAt(fmt.Sprintf("$.expect[%d]", i), "", "expect[%d]: %v", i, err)
		}
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// token finds where a problem is in the source: the key if present, else the mapping that should
// hold it, else the document start.
func (p *problem) token(file *ast.File) *token.Token {
	fallback := file.Docs[0].Body.GetToken()
	path, err := yaml.PathString(p.path)
	if err != nil {
		return fallback
	}
	node, err := path.FilterFile(file)
	if err != nil || node == nil {
		return fallback
	}
	if m, ok := node.(ast.MapNode); ok && p.key != "" {
		for it := m.MapRange(); it.Next(); {
			if it.Key().GetToken().Value == p.key {
				return it.Key().GetToken()
			}
		}
	}
	if m, ok := node.(ast.MapNode); ok {
		// A mapping's own token is its first ':'; its first key is where a reader looks.
		if it := m.MapRange(); it.Next() {
			return it.Key().GetToken()
		}
	}
	if tok := node.GetToken(); tok != nil {
		return tok
	}
	return fallback
}

// positioned turns a goccy/go-yaml error (or our own nodeError) into a ParseError.
func positioned(source string, err error) error {
	var ne *nodeError
	if errors.As(err, &ne) && ne.tok != nil {
		return &ParseError{Source: source, Line: ne.tok.Position.Line, Column: ne.tok.Position.Column, Message: ne.msg, Excerpt: excerpt(ne.tok)}
	}
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		tok := ye.GetToken()
		msg := ye.GetMessage()
		var te *yaml.TypeError
		if errors.As(err, &te) {
			// goccy's text names our private Go structs; say it in the file's terms instead.
			msg = fmt.Sprintf("%q is not %s", tok.Value, kindName(te.DstType.Kind().String()))
		}
		return &ParseError{Source: source, Line: tok.Position.Line, Column: tok.Position.Column, Message: msg, Excerpt: excerpt(tok)}
	}
	return &ParseError{Source: source, Message: err.Error()}
}

func kindName(kind string) string {
	switch kind {
	case "int":
		return "a whole number"
	case "string":
		return "a string"
	case "slice":
		return "a list"
	case "struct":
		return "a mapping"
	}
	return "a " + kind
}

func excerpt(tok *token.Token) string {
	if tok == nil {
		return ""
	}
	var p printer.Printer
	// A line of megabytes (a pasted blob, a generated name) is cut: the
	// excerpt shows where, not all of it.
	lines := strings.Split(p.PrintErrorToken(tok, false), "\n")
	for i, l := range lines {
		if len(l) > maxExcerptLine {
			lines[i] = l[:maxExcerptLine] + "..."
		}
	}
	return strings.Join(lines, "\n")
}

const maxExcerptLine = 200

// ParseBitrate reads a video bitrate as ffmpeg's -b:v does: a number with an optional k/K (1e3)
// or M (1e6) suffix. A lowercase m is refused because ffmpeg reads it as milli.
func ParseBitrate(s string) (int, error) {
	num, mult := s, 1.0
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		num, mult = s[:len(s)-1], 1e3
	case strings.HasSuffix(s, "M"):
		num, mult = s[:len(s)-1], 1e6
	}
	// Plain decimals only: ParseFloat alone would also take "1e6", "0x1p4", "Inf".
	plain := num != "" && strings.Trim(num, "0123456789.") == "" && strings.Count(num, ".") <= 1
	f, err := strconv.ParseFloat(num, 64)
	bps := math.Round(f * mult)
	if !plain || err != nil || bps < 1000 || bps > 1e9 || math.Abs(f*mult-bps) > 1e-6 {
		return 0, fmt.Errorf("invalid bitrate %q: want bits per second from 1k to 1000M, such as 500k, 1.5M or 800000", s)
	}
	return int(bps), nil
}

// parseShare reads a churn share: "10%", "0.1", or "" (none).
func parseShare(v string) (float64, error) {
	if v == "" {
		return 0, nil
	}
	pct := strings.HasSuffix(v, "%")
	f, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
	if err != nil {
		return -1, err
	}
	if pct {
		f /= 100
	}
	return f, nil
}

// Modes of a scenario.
const (
	ModeLoad     = "load"
	ModeCapacity = "capacity"
)

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
