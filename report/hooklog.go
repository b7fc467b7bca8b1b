package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

// HookLog is the record a standalone `rtmpload hook --json` keeps of every
// call. Shards that run with --hook external write no hook events of their
// own; the hook's log supplies them, joined to attempts through the attempt
// id each publish URL carries (?rtmpload=<run>-<n>).
type HookLog struct {
	calls []schema.HookCall
}

// ReadHookLog reads the JSON lines of `rtmpload hook --json`. Call lines
// become calls; state and other lines are skipped. A torn last line (a hook
// killed mid-write) is ignored; any other line that is not JSON is an error
// naming its line, since it means the log was not written with --json.
func ReadHookLog(r io.Reader) (*HookLog, error) {
	l := &HookLog{}
	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		b, err := schema.ReadLine(br, schema.MaxLine)
		if errors.Is(err, schema.ErrLongLine) {
			return nil, fmt.Errorf("hook log line %d is longer than %d bytes: not the output of rtmpload hook --json", line, schema.MaxLine)
		}
		if len(strings.TrimSpace(string(b))) > 0 {
			var v struct {
				Type string `json:"type"`
				schema.HookCall
			}
			if uerr := json.Unmarshal(schema.RedactJSON(b), &v); uerr != nil {
				if err == io.EOF && b[len(b)-1] != '\n' {
					return l, nil
				}
				return nil, fmt.Errorf("hook log line %d: %v (is it the output of rtmpload hook --json?)", line, uerr)
			}
			if v.Type == "call" {
				l.calls = append(l.calls, v.HookCall)
			}
		}
		if err == io.EOF {
			return l, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// Len is the number of calls in the log.
func (l *HookLog) Len() int { return len(l.calls) }

// Events returns the calls that belong to run runID as hook events, in log
// order: every call whose attempt id is one of the run's, and every call tied
// to no attempt that arrived between from and to (a zero to leaves the end
// open). One hook serving several runs thus splits cleanly between them.
func (l *HookLog) Events(runID string, from, to time.Time) []schema.Event {
	var out []schema.Event
	for i := range l.calls {
		c := l.calls[i]
		switch {
		case c.Attempt != "":
			if !attemptOf(c.Attempt, runID) {
				continue
			}
		case c.Arrived.Before(from) || (!to.IsZero() && c.Arrived.After(to)):
			continue
		}
		at := c.Answered
		if at.IsZero() {
			at = c.Arrived
		}
		out = append(out, schema.Event{Type: schema.TypeHook, Time: at, Hook: &c})
	}
	return out
}

// attemptOf reports whether attempt id is <runID>-<n>, the form the runner
// gives every attempt.
func attemptOf(id, runID string) bool {
	n, ok := strings.CutPrefix(id, runID+"-")
	if !ok || n == "" {
		return false
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
