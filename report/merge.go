package report

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// MaxShards is the most shards one run may be split into. A run header that
// claims more is refused before anything is sized by it: memory follows the
// data read, not the numbers a file claims.
const MaxShards = 10000

// EndIncomplete is the end reason of a merged run that lacks a shard or
// holds a shard with no end line: its counts cover only part of the run.
const EndIncomplete = "incomplete"

// ShardInfo says which shards of a run a merged summary holds.
type ShardInfo struct {
	Count      int   `json:"count"`
	Present    []int `json:"present"`
	Missing    []int `json:"missing,omitempty"`    // no stream for these indexes
	Unfinished []int `json:"unfinished,omitempty"` // a stream without its end line
}

// Source is one results stream to merge, with the name messages use.
type Source struct {
	Name string
	R    io.Reader
}

// MergedRun is one run assembled from every stream that carries its id.
type MergedRun struct {
	ID       string
	Sources  []string // names of its streams, in shard order
	Summary  *Summary
	Timeline *Timeline
}

// shardStream is what merging keeps of one stream besides its events.
type shardStream struct {
	name   string
	header schema.RunHeader
	end    *schema.Event
	tl     *Timeline
}

type mergeRun struct {
	id      string
	b       *Builder
	streams []*shardStream
	shards  int
}

// Merge reads results streams and assembles one summary per run id, in the
// order the ids first appear. The streams of one run (its shards) feed one
// Builder, so percentiles come from every attempt's value, and a contest for
// a name whose publishers ran in different shards is judged as a whole.
// hooks, when not nil, supplies the hook calls of runs that used an external
// callback. A shard given twice, or shards that disagree on the shard count,
// are errors: merging them would count attempts twice or guess.
func Merge(srcs []Source, hooks *HookLog) ([]MergedRun, error) {
	var runs []*mergeRun
	byID := make(map[string]*mergeRun)
	for _, src := range srcs {
		var st *shardStream
		var mr *mergeRun
		err := schema.Read(src.R, func(ev schema.Event) error {
			if st == nil {
				if ev.Type != schema.TypeRun || ev.Run == nil {
					return errors.New("the first line is not a run header")
				}
				st = &shardStream{name: src.Name, header: *ev.Run, tl: NewTimeline()}
				var err error
				if mr, err = addStream(byID, &runs, st); err != nil {
					return err
				}
				return st.tl.Add(ev)
			}
			switch ev.Type {
			case schema.TypeRun:
				return errors.New("a second run header: concatenated streams must be given as separate files")
			case schema.TypeEnd:
				e := ev
				st.end = &e
				return nil
			}
			if err := mr.b.Add(ev); err != nil {
				return err
			}
			return st.tl.Add(ev)
		})
		if err == nil && st == nil {
			err = errors.New("empty results stream")
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src.Name, err)
		}
	}
	out := make([]MergedRun, 0, len(runs))
	for _, mr := range runs {
		out = append(out, mr.finish(hooks))
	}
	return out, nil
}

func addStream(byID map[string]*mergeRun, runs *[]*mergeRun, st *shardStream) (*mergeRun, error) {
	h := st.header
	if h.Shards > MaxShards {
		return nil, fmt.Errorf("run header says %d shards: at most %d are supported", h.Shards, MaxShards)
	}
	n := max(h.Shards, 1)
	if h.Shard < 0 || h.Shard >= n {
		return nil, fmt.Errorf("run header says shard %d of %d", h.Shard, n)
	}
	mr, ok := byID[h.ID]
	if !ok {
		mr = &mergeRun{id: h.ID, b: NewBuilder(), shards: n}
		byID[h.ID] = mr
		*runs = append(*runs, mr)
	}
	if len(mr.streams) == 0 {
		mr.streams = append(mr.streams, st)
		return mr, nil
	}
	if mr.shards != n {
		return nil, fmt.Errorf("run %s: this stream says %d shards, %s says %d", h.ID, n, mr.streams[0].name, mr.shards)
	}
	if first := mr.streams[0]; !sameScenario(first.header.Scenario, h.Scenario) {
		return nil, fmt.Errorf("run %s: this stream ran scenario %q (%s), %s ran %q (%s): two runs share one --run-id; report them apart or give each run its own id",
			h.ID, h.Scenario.Name, scenarioShape(h.Scenario), first.name, first.header.Scenario.Name, scenarioShape(first.header.Scenario))
	}
	for _, o := range mr.streams {
		if o.header.Shard == h.Shard {
			return nil, fmt.Errorf("run %s shard %d is also in %s: give each shard once", h.ID, h.Shard, o.name)
		}
	}
	mr.streams = append(mr.streams, st)
	return mr, nil
}

// sameScenario tells whether two shards' headers describe one scenario: its
// name, duration and groups. The source may differ (each shard's pod reads
// the file from a path of its own).
func sameScenario(a, b schema.ScenarioInfo) bool {
	return a.Name == b.Name && a.Duration == b.Duration && slices.Equal(a.Groups, b.Groups)
}

// scenarioShape describes a scenario's duration and groups in a few words.
func scenarioShape(s schema.ScenarioInfo) string {
	parts := make([]string, 0, len(s.Groups)+1)
	parts = append(parts, s.Duration.String())
	for i, g := range s.Groups {
		if i == 4 {
			parts = append(parts, fmt.Sprintf("%d more groups", len(s.Groups)-i))
			break
		}
		parts = append(parts, fmt.Sprintf("%s×%d", g.Name, g.Count))
	}
	return strings.Join(parts, ", ")
}

// finish joins the hook log, builds the summary and names what is missing.
func (mr *mergeRun) finish(hooks *HookLog) MergedRun {
	slices.SortFunc(mr.streams, func(x, y *shardStream) int { return cmp.Compare(x.header.Shard, y.header.Shard) })
	b := mr.b
	b.header = mr.streams[0].header
	b.end = mergeEnds(mr.streams, mr.shards)
	for _, st := range mr.streams[1:] {
		if st.header.Started.Before(b.header.Started) {
			b.header.Started = st.header.Started
		}
	}
	tl := mr.streams[0].tl
	if len(mr.streams) > 1 {
		b.header.Shard = 0
		tls := make([]*Timeline, len(mr.streams))
		for i, st := range mr.streams {
			tls[i] = st.tl
		}
		tl = mergeTimelines(b.header.Started, tls)
		// Shards were read one after another; list attempts in schedule
		// order, as one process would have started them.
		slices.SortStableFunc(b.order, func(x, y string) int { return cmp.Compare(b.attempts[x].Slot, b.attempts[y].Slot) })
	}
	if hooks != nil {
		var to time.Time
		if b.end != nil && b.end.Reason != EndIncomplete {
			to = b.end.Time
		}
		for _, ev := range hooks.Events(mr.id, b.header.Started, to) {
			_ = b.Add(ev) // Add fails on no event
			_ = tl.Add(ev)
		}
	}
	s := b.Summary()
	m := MergedRun{ID: mr.id, Summary: s, Timeline: tl}
	for _, st := range mr.streams {
		m.Sources = append(m.Sources, st.name)
	}
	if mr.shards > 1 {
		s.Shards = shardInfo(mr.streams, mr.shards)
		if len(s.Shards.Missing) > 0 {
			s.Anomalies = append(s.Anomalies, fmt.Sprintf("shards %s of %d missing: their publishers are not in this report", ints(s.Shards.Missing), mr.shards))
		}
		if len(s.Shards.Unfinished) > 0 {
			s.Anomalies = append(s.Anomalies, fmt.Sprintf("shards %s of %d unfinished (no end line): their attempts after the cut are missing", ints(s.Shards.Unfinished), mr.shards))
		}
	}
	return m
}

func shardInfo(streams []*shardStream, n int) *ShardInfo {
	si := &ShardInfo{Count: n, Present: []int{}}
	for _, st := range streams {
		si.Present = append(si.Present, st.header.Shard)
		if st.end == nil {
			si.Unfinished = append(si.Unfinished, st.header.Shard)
		}
	}
	for i := range n {
		if !slices.Contains(si.Present, i) {
			si.Missing = append(si.Missing, i)
		}
	}
	return si
}

// mergeEnds is the end line of the whole run. A single stream keeps its own,
// so a run of one process reports exactly as it does unmerged. Shards: the
// last end, usage added up (the largest RSS kept), and a reason that is
// normal only when every shard is there and ended normally.
func mergeEnds(streams []*shardStream, n int) *schema.Event {
	if n == 1 {
		return streams[0].end
	}
	end := &schema.Event{Type: schema.TypeEnd, Reason: schema.EndNormal}
	var missing, unfinished []int
	var errs []string
	present := make(map[int]bool)
	for _, st := range streams {
		present[st.header.Shard] = true
		e := st.end
		if e == nil {
			unfinished = append(unfinished, st.header.Shard)
			continue
		}
		if e.Time.After(end.Time) {
			end.Time = e.Time
		}
		if e.Reason != schema.EndNormal {
			if end.Reason == schema.EndNormal {
				end.Reason = e.Reason
			}
			msg := fmt.Sprintf("shard %d: %s", st.header.Shard, e.Reason)
			if e.Error != "" {
				msg += ": " + e.Error
			}
			errs = append(errs, msg)
		}
		if u := e.Usage; u != nil {
			if end.Usage == nil {
				end.Usage = &schema.Usage{}
			}
			end.Usage.SelfCPU += u.SelfCPU
			end.Usage.ChildCPU += u.ChildCPU
			end.Usage.SelfMaxRSS = max(end.Usage.SelfMaxRSS, u.SelfMaxRSS)
			end.Usage.ChildMaxRSS = max(end.Usage.ChildMaxRSS, u.ChildMaxRSS)
			end.Usage.ServerCPU += u.ServerCPU
			end.Usage.ServerMaxRSS = max(end.Usage.ServerMaxRSS, u.ServerMaxRSS)
		}
	}
	for i := range n {
		if !present[i] {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		errs = append([]string{"shards missing: " + ints(missing)}, errs...)
	}
	if len(unfinished) > 0 {
		errs = append([]string{"shards unfinished: " + ints(unfinished)}, errs...)
	}
	if len(missing)+len(unfinished) > 0 {
		end.Reason = EndIncomplete
	}
	end.Error = strings.Join(errs, "; ")
	return end
}

// mergeTimelines lays the shards' timelines on one clock starting at start.
// Counts add up; Active adds each shard's peak within a bucket, which is the
// most that can have been live at once (the shards' peaks may not coincide).
func mergeTimelines(start time.Time, tls []*Timeline) *Timeline {
	m := NewTimeline()
	m.start = start
	var span time.Duration
	for _, t := range tls {
		m.width = max(m.width, t.width)
		if !t.start.IsZero() {
			span = max(span, t.start.Sub(start)+time.Duration(len(t.buckets))*t.width)
		}
	}
	for span > time.Duration(timelineBuckets)*m.width {
		m.width *= 2
	}
	for _, t := range tls {
		own := make(map[int]Bucket)
		for i, bk := range t.buckets {
			j := int(max(t.start.Sub(start)+time.Duration(i)*t.width, 0) / m.width)
			o := own[j]
			o.Started += bk.Started
			o.Published += bk.Published
			o.Refused += bk.Refused
			o.Dropped += bk.Dropped
			o.HookOK += bk.HookOK
			o.HookFail += bk.HookFail
			o.Active = max(o.Active, bk.Active)
			own[j] = o
		}
		for j, o := range own {
			for len(m.buckets) <= j {
				m.buckets = append(m.buckets, Bucket{})
			}
			mb := &m.buckets[j]
			mb.Started += o.Started
			mb.Published += o.Published
			mb.Refused += o.Refused
			mb.Dropped += o.Dropped
			mb.HookOK += o.HookOK
			mb.HookFail += o.HookFail
			mb.Active += o.Active
		}
	}
	return m
}

// ints lists shard indexes with runs of consecutive ones as ranges
// ("0, 2-3999"), so a message stays short however many shards are missing.
func ints(xs []int) string {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	var s []string
	for i := 0; i < len(xs); {
		j := i
		for j+1 < len(xs) && xs[j+1] == xs[j]+1 {
			j++
		}
		if j == i {
			s = append(s, strconv.Itoa(xs[i]))
		} else {
			s = append(s, strconv.Itoa(xs[i])+"-"+strconv.Itoa(xs[j]))
		}
		i = j + 1
	}
	return strings.Join(s, ", ")
}
