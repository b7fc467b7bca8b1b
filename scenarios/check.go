package scenarios

import (
	"fmt"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/hook"
	"github.com/rtmpload/rtmpload/report/threshold"
	"github.com/rtmpload/rtmpload/schema"
)

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
		s.checkHeader, s.checkMode, s.checkMedia, s.checkHook, s.checkChurn, s.checkGroups, s.checkViewers, s.checkExpect,
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
	if s.Duration < MinDuration {
		return problemAt("$", "duration", "duration %v is shorter than %v: no publisher would be accepted before the run ends (a publish takes about 0.3 s to start), such as 60s", s.Duration, MinDuration)
	}
	return nil
}

// MinDuration is the shortest run: ffmpeg needs a few hundred ms to be
// accepted, so a shorter run stops every publisher before it publishes
// and measures nothing.
const MinDuration = time.Second

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
		if _, err := hook.ParseFaultAction(f.Action); err != nil {
			return problemAt(path, "action", "%v", err)
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
	total := 0
	for i, g := range s.Publishers {
		path := fmt.Sprintf("$.publishers[%d]", i)
		if seen[g.Group] {
			return problemAt(path, "group", "duplicate group %q", g.Group)
		}
		if p := s.checkGroup(path, g); p != nil {
			return p
		}
		seen[g.Group] = true
		if total += g.Count; total > MaxPublishers {
			return problemAt(path, "count", "group %q: count %d brings the publishers of all groups to %d: at most %d in all", g.Group, g.Count, total, MaxPublishers)
		}
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
	if g.Engine != "" && g.Engine != schema.EngineFFmpeg && g.Engine != schema.EngineNative {
		return problemAt(path, "engine", "group %q: engine %q: use ffmpeg or native", g.Group, g.Engine)
	}
	if g.Witness < 0 || g.Witness > 1 {
		return problemAt(path, "witness", "group %q: witness must be a share of the group such as 5%% or 0.05", g.Group)
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
