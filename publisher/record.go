package publisher

import "github.com/rtmpload/rtmpload/schema"

// RecordExit fills an attempt's exit event (schema.PhaseExit) with how the
// process ended: the supervisor emits the results' words itself, so no
// caller copies a Result field by field.
func (r Result) RecordExit(ae *schema.AttemptEvent) {
	ae.Class, ae.ExitCode, ae.Stopped, ae.Killed = r.Class, r.ExitCode, r.Stopped, r.Killed
	ae.Message, ae.StderrTail = r.Message, r.StderrTail
	ae.Frames, ae.Bytes = r.LastProgress.Frame, r.LastProgress.TotalSize
	if r.Err != nil && ae.Message == "" {
		ae.Message = r.Err.Error()
	}
}
