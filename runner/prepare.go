package runner

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rtmpload/rtmpload/hook"
	"github.com/rtmpload/rtmpload/internal/option"
	"github.com/rtmpload/rtmpload/media"
	"github.com/rtmpload/rtmpload/report/threshold"
	"github.com/rtmpload/rtmpload/runner/limits"
	"github.com/rtmpload/rtmpload/scenarios"
	"github.com/rtmpload/rtmpload/schema"
)

// plan is a run decided before anything starts: the options with their
// defaults, the callback's mode, the thresholds and the schedule. prepare
// makes it without I/O; nothing edits it afterwards.
type plan struct {
	o          Options // defaults filled in
	sc         *scenarios.Scenario
	id         string          // the run id, shared by its shards
	mode       schema.HookMode // the built-in hook's mode
	hook       HookPlan        // serve, proxy or external
	server     ServerSpec      // embedded, nginx-rtmp or srs=PATH
	cacheDir   string
	expect     []string // the scenario's thresholds, then the command line's
	thresholds []threshold.Threshold
	schedule   []scenarios.Slot // the whole schedule, by Seq: attempt ids index it
	slots      []scenarios.Slot // this shard's part of it
	planned    map[string]int   // this shard's publishers per group
}

// ErrNoBaseline follows a threshold relative to a baseline among a run's:
// a run has none, so such a threshold is for its results afterwards.
var ErrNoBaseline = errors.New("a run has none; evaluate it on the run's results afterwards")

// prepare checks o and makes the run's plan. Everything that can fail on bad
// input fails here, before a port is bound or a file written. now names the
// run when o does not.
func prepare(o Options, now time.Time) (*plan, error) {
	o = withDefaults(o)
	sc := o.Scenario
	mode := cmp.Or(o.HookMode, sc.Hook.Mode, schema.HookAllow)
	if _, err := schema.ParseHookMode(string(mode)); err != nil {
		return nil, err
	}
	if err := checkOptions(o); err != nil {
		return nil, err
	}
	if err := checkFLV(o); err != nil {
		return nil, err
	}
	if o.Shards < 0 || o.Shard < 0 || (o.Shards > 0 && o.Shard >= o.Shards) {
		return nil, fmt.Errorf("shard %d/%d: want i/n with 0 <= i < n", o.Shard, o.Shards)
	}
	if o.Fanout < 0 || o.Fanout > scenarios.MaxFanout {
		return nil, fmt.Errorf("fanout %d: want 1 to %d publishers per ffmpeg process", o.Fanout, scenarios.MaxFanout)
	}
	if o.FanoutParallel && o.NoTap && !serverInProcess(o, sc) {
		return nil, &option.Error{Fields: []string{"Options.FanoutParallel", "Options.NoTap"}, Text: func(n ...string) string {
			return fmt.Sprintf("%s learns that each output opened from the tap or the embedded server in this process: drop %s", n[0], n[1])
		}}
	}
	if err := checkRunID(o.RunID); err != nil {
		return nil, err
	}
	sc, err := withEngines(sc, o.Engine, o.NativeTick)
	if err != nil {
		return nil, err
	}
	o.Scenario = sc
	p := &plan{o: o, sc: sc, id: o.RunID, mode: mode, server: o.Server, hook: o.Hook, cacheDir: o.CacheDir}
	if p.id == "" {
		p.id = newRunID(now)
	}
	p.expect = append(slices.Clone(sc.Expect), o.Expect...)
	if p.thresholds, err = threshold.ParseAll(p.expect); err != nil {
		return nil, err
	}
	if err := threshold.NeedBaseline(p.thresholds); err != nil {
		return nil, fmt.Errorf("%w: %w", err, ErrNoBaseline)
	}
	if err := checkThresholdGroups(p.expect, p.thresholds, sc); err != nil {
		return nil, err
	}
	p.schedule = sc.Schedule()
	p.slots = scenarios.Shard(p.schedule, o.Shard, o.Shards)
	if err := limits.Check(len(p.slots)); err != nil {
		return nil, err
	}
	if err := checkURLPaths(p); err != nil {
		return nil, err
	}
	p.planned = make(map[string]int)
	for _, s := range p.slots {
		p.planned[s.Group]++
	}
	if p.cacheDir == "" {
		if p.cacheDir, err = media.DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// MaxGrace bounds Options.Grace: a run stopped with Ctrl-C, or at its end,
// waits that long at most for an ffmpeg that ignores SIGINT.
const MaxGrace = 5 * time.Minute

// checkThresholdGroups refuses a threshold on a group the scenario does not
// have: it could only fail, and only once the run is over.
func checkThresholdGroups(exprs []string, ts []threshold.Threshold, sc *scenarios.Scenario) error {
	var names []string
	for _, g := range sc.Publishers {
		names = append(names, g.Group)
	}
	for i, t := range ts {
		if t.Group != "" && !slices.Contains(names, t.Group) {
			return fmt.Errorf("expect[%d]: %s: the scenario has no group %q (its groups: %s)", i, exprs[i], t.Group, strings.Join(names, ", "))
		}
	}
	return nil
}

// MaxRunID is the longest run id: it is in every publish URL (and so in
// every server's and callback's param) and in every attempt id. With the
// app and "rtmpload=<id>-<n>.<k>" it fits in the room a scenario leaves for
// them (scenarios' urlReserve, 128 bytes).
const MaxRunID = 64

// checkRunID refuses a run id that would be cut or would reach a terminal
// as control characters.
func checkRunID(id string) error {
	if len(id) > MaxRunID {
		return option.New("Options.RunID", func(name string) string {
			return fmt.Sprintf("%s of %d bytes: at most %d (it goes into every publish URL)", name, len(id), MaxRunID)
		})
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == utf8.RuneError {
			return option.New("Options.RunID", func(name string) string {
				return fmt.Sprintf("%s %q: control characters and invalid UTF-8 are not allowed: use letters, digits and -_.", name, id)
			})
		}
	}
	return nil
}

// checkURLPaths refuses a run any of whose publish URLs would have a longer
// path than ffmpeg keeps (scenarios.MaxURLPath: the rest is cut without a
// word, rtmpload=<id> at the end first, so the server's and callback's
// events would carry an id that matches no attempt). The scenario checked
// its names and params; this adds --target's app and query and the run id,
// with room for a reconnect's .k.
func checkURLPaths(p *plan) error {
	app, query := "live", ""
	if p.o.Target != "" {
		u, err := url.Parse(p.o.Target)
		if err != nil {
			return nil // the target's own check says what is wrong
		}
		if a := strings.Trim(u.Path, "/"); a != "" {
			app = a
		}
		query = u.RawQuery
	}
	idLen := len(url.QueryEscape(p.id)) + len("-") + len(strconv.Itoa(len(p.schedule))) + len(".999999")
	longest, at := 0, scenarios.Slot{}
	for _, s := range p.slots {
		n := len("/"+app+"/") + len(url.PathEscape(s.Stream)) + len("?") + len(joinQuery(query, p.sc.ParamOf(s))) + len("&rtmpload=") + idLen
		if n > longest {
			longest, at = n, s
		}
	}
	if longest > scenarios.MaxURLPath {
		return fmt.Errorf("group %s: the publish URL of %s would be %d bytes after host:port (app, stream name, query, param and rtmpload=<run id>-<n>), and ffmpeg keeps %d: shorten the param, the stream names, the target's app and query or the run id",
			at.Group, at.Stream, longest, scenarios.MaxURLPath)
	}
	return nil
}

// checkOptions refuses options that would otherwise be ignored or misread
// without a word.
func checkOptions(o Options) error {
	if o.Grace < 0 {
		return option.New("Options.Grace", func(name string) string {
			return fmt.Sprintf("%s %v is negative: it is how long a stopped ffmpeg may take to exit", name, o.Grace)
		})
	}
	if o.Grace > MaxGrace {
		return option.New("Options.Grace", func(name string) string {
			return fmt.Sprintf("%s %v is more than %v: it is how long a stopped ffmpeg may take to exit before SIGKILL, and a working one takes a second at most", name, o.Grace, MaxGrace)
		})
	}
	if o.HookProbe == "" {
		if o.HookProbeMethod != "" && o.HookProbeMethod != hook.ProbeTCP {
			return fmt.Errorf("a probe method (%q) without a probe URL", o.HookProbeMethod)
		}
		return nil
	}
	if !o.Hook.External {
		return errors.New("a hook probe watches an external callback: it needs the hook external")
	}
	return hook.CheckProbe(hook.ProbeConfig{URL: o.HookProbe, Method: o.HookProbeMethod})
}

// withDefaults fills in o's zero values.
func withDefaults(o Options) Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Live == nil {
		o.Live = NewLive()
	}
	o.Listen = cmp.Or(o.Listen, "127.0.0.1:0")
	o.APIListen = cmp.Or(o.APIListen, "127.0.0.1:0")
	o.HookListen = cmp.Or(o.HookListen, "127.0.0.1:0")
	return o
}

// plannedUpTo is how many publishers this process runs by the end of step k.
func (p *plan) plannedUpTo(k int) int {
	n := 0
	for _, s := range p.slots {
		if p.sc.StepOf(s) <= k {
			n++
		}
	}
	return n
}

// slotOf finds the slot of an attempt id "<run>-<seq+1>[.<k>]".
func (p *plan) slotOf(id string) (scenarios.Slot, bool) {
	rest, ok := strings.CutPrefix(id, p.id+"-")
	if !ok {
		return scenarios.Slot{}, false
	}
	rest, _, _ = strings.Cut(rest, ".")
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || n > len(p.schedule) {
		return scenarios.Slot{}, false
	}
	return p.schedule[n-1], true
}

// groupOf is the group of an attempt, "unknown" for an id not of this run.
func (p *plan) groupOf(id string) string {
	if slot, ok := p.slotOf(id); ok {
		return slot.Group
	}
	return "unknown"
}
