package scenarios

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"

	"github.com/rtmpload/rtmpload/hook"
	"github.com/rtmpload/rtmpload/schema"
)

// The file's shape. Separate from the public types so that durations are parsed strictly and
// the public API keeps plain time.Duration.
type fileScenario struct {
	Name        string            `yaml:"name"`
	Description string            `yaml:"description"`
	Duration    Duration          `yaml:"duration"`
	Media       fileMedia         `yaml:"media"`
	Hook        fileHook          `yaml:"hook"`
	Publishers  []fileGroup       `yaml:"publishers"`
	Viewers     []fileViewerGroup `yaml:"viewers"`
	Churn       fileChurn         `yaml:"churn"`
	Mode        string            `yaml:"mode"`
	Capacity    fileCap           `yaml:"capacity"`
	Expect      []string          `yaml:"expect"`
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
	// Action: publish or play, the side the window shapes; left out, every
	// call (hook.Fault.Action).
	Action string `yaml:"action"`
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
	Fanout    fanoutWhole   `yaml:"fanout"`
	Engine    string        `yaml:"engine"`
	Witness   string        `yaml:"witness"` // "5%" or "0.05"
}

// Load reads and parses a scenario file of at most MaxFileBytes. Ending
// ctx (Ctrl-C) ends the read: a FIFO or a terminal may never send its end.
func Load(ctx context.Context, path string) (*Scenario, error) {
	data, err := readFile(ctx, path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// readFile reads at most MaxFileBytes of path, and fails beyond: /dev/zero
// or a 50 MB log passed by mistake ends in a moment with an error, not in a
// read of everything. It gives up when ctx ends, closing the file under a
// read that waits (a FIFO, a terminal); an open that waits (a FIFO without
// a writer) is left to finish on its own.
func readFile(ctx context.Context, path string) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	var (
		mu       sync.Mutex
		open     *os.File // the file while it is read
		canceled bool
	)
	go func() {
		f, err := os.Open(path)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer f.Close()
		mu.Lock()
		open = f
		gone := canceled
		mu.Unlock()
		if gone {
			return
		}
		data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
		done <- result{data, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		mu.Lock()
		canceled = true
		if open != nil {
			open.Close() // ends a read that waits; the goroutine's own Close then does nothing
		}
		mu.Unlock()
		return nil, fmt.Errorf("reading scenario %s: %w", path, context.Cause(ctx))
	}
	if r.err != nil {
		return nil, fmt.Errorf("reading scenario %s: %w", path, r.err)
	}
	if len(r.data) > MaxFileBytes {
		return nil, fmt.Errorf("scenario %s is larger than %d bytes (1 MiB), the most a scenario file may have: is it the right file?", path, MaxFileBytes)
	}
	return r.data, nil
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
	if len(data) > MaxFileBytes {
		return nil, &ParseError{Source: source, Line: 1, Column: 1,
			Message: fmt.Sprintf("the scenario has %d bytes: at most %d (1 MiB)", len(data), MaxFileBytes)}
	}
	// The tokens are what parser.ParseBytes would make; checked first, they
	// keep a crafted file from costing the parser gigabytes.
	tokens := lexer.Tokenize(string(data))
	if tok, msg := checkTokens(tokens); tok != nil {
		return nil, &ParseError{Source: source, Line: tok.Position.Line, Column: tok.Position.Column, Message: msg, Excerpt: excerpt(data, tok)}
	}
	file, err := parser.Parse(tokens, 0)
	if err != nil {
		return nil, positioned(source, data, err)
	}
	if len(file.Docs) != 1 || file.Docs[0].Body == nil {
		return nil, &ParseError{Source: source, Line: 1, Column: 1, Message: "want exactly one YAML document with the scenario"}
	}
	body := file.Docs[0].Body
	var raw fileScenario
	if err := decodeNode(body, &raw); err != nil {
		return nil, positioned(source, data, err)
	}
	s := raw.scenario(source)
	if p := s.check(); p != nil {
		tok := p.token(file)
		return nil, &ParseError{Source: source, Line: tok.Position.Line, Column: tok.Position.Column, Message: p.msg, Excerpt: excerpt(data, tok)}
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
		pf.Spec, pf.At, pf.For, pf.Action = f.Kind, time.Duration(f.At), time.Duration(f.For), f.Action
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
			Engine:    g.Engine,
			Witness:   witness(g.Witness),
		})
	}
	for _, g := range raw.Viewers {
		s.Viewers = append(s.Viewers, g.group())
	}
	if s.Mode == ModeCapacity && s.Duration == 0 && len(s.Publishers) == 1 {
		s.Duration = s.Capacity.Duration(s.Publishers[0].Count)
	}
	return s
}

// witness reads a group's witness share; a bad one is -1, which check
// refuses.
func witness(v string) float64 {
	f, err := parseShare(v)
	if err != nil {
		return -1
	}
	return f
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
