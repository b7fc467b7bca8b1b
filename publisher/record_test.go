package publisher

import (
	"errors"
	"testing"

	"github.com/rtmpload/rtmpload/schema"
)

func TestRecordExit(t *testing.T) {
	var ae schema.AttemptEvent
	Result{Class: schema.ClassFailed, ExitCode: 1, Message: "rtmp://x/live/a: Input/output error", StderrTail: []string{"x"},
		LastProgress: Progress{Frame: 25, TotalSize: 1000}}.RecordExit(&ae)
	if ae.Class != schema.ClassFailed || ae.ExitCode != 1 || ae.Message == "" || ae.Frames != 25 || ae.Bytes != 1000 || len(ae.StderrTail) != 1 {
		t.Errorf("exit event %+v", ae)
	}
	var spawn schema.AttemptEvent
	Result{Class: schema.ClassSpawnError, ExitCode: -1, Err: errors.New("exec: no such file")}.RecordExit(&spawn)
	if spawn.Class != schema.ClassSpawnError || spawn.Message != "exec: no such file" {
		t.Errorf("spawn error event %+v", spawn)
	}
}
