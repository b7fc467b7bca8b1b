package limits

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

type fakeSystem struct {
	l        Limits
	raiseErr error
	raised   []uint64
}

func (f *fakeSystem) limits() (Limits, error) { return f.l, nil }
func (f *fakeSystem) raiseFiles(to uint64) error {
	f.raised = append(f.raised, to)
	return f.raiseErr
}

func TestCheck(t *testing.T) {
	roomy := Limits{FilesSoft: 20000, FilesHard: 20000, TasksSoft: 4000, UserTasks: 100}
	tests := []struct {
		name       string
		publishers int
		l          Limits
		raiseErr   error
		wantRaise  []uint64
		wantErr    string // exact, "" for none
	}{
		{name: "enough", publishers: 300, l: roomy},
		{name: "soft short, hard enough: raised", publishers: 300,
			l:         Limits{FilesSoft: 1024, FilesHard: 524288, TasksSoft: 4000, UserTasks: 100},
			wantRaise: []uint64{524288}},
		{name: "raising fails", publishers: 300,
			l:         Limits{FilesSoft: 1024, FilesHard: 524288, TasksSoft: 4000},
			raiseErr:  errors.New("operation not permitted"),
			wantRaise: []uint64{524288},
			wantErr:   "300 publishers need about 1864 open files but the limit is 1024 and raising it to 524288 failed (operation not permitted): raise it with `ulimit -n 4096`"},
		{name: "hard short", publishers: 300,
			l:       Limits{FilesSoft: 1024, FilesHard: 1024, TasksSoft: 4000},
			wantErr: "300 publishers need about 1864 open files but the limit is 1024: raise it with `ulimit -n 4096` (or LimitNOFILE= in a systemd unit)"},
		{name: "exactly enough files", publishers: 160, l: Limits{FilesSoft: 1024, FilesHard: 1024, TasksSoft: 4000}},
		{name: "processes short", publishers: 300,
			l:       Limits{FilesSoft: 20000, FilesHard: 20000, TasksSoft: 500, UserTasks: 250},
			wantErr: "300 publishers need about 566 processes of this user (250 running now) but the limit is 500: raise it with `ulimit -u 1024` (or LimitNPROC= in a systemd unit)"},
		{name: "root is not bound by NPROC", publishers: 300,
			l: Limits{FilesSoft: 20000, FilesHard: 20000, TasksSoft: 500, UserTasks: 250, Root: true}},
		{name: "unlimited processes", publishers: 3000,
			l: Limits{FilesSoft: unix.RLIM_INFINITY, FilesHard: unix.RLIM_INFINITY, TasksSoft: unix.RLIM_INFINITY, UserTasks: 250}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSystem{l: tt.l, raiseErr: tt.raiseErr}
			err := check(tt.publishers, f)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("error:\n got %q\nwant %q", got, tt.wantErr)
			}
			if len(f.raised) != len(tt.wantRaise) || (len(f.raised) > 0 && f.raised[0] != tt.wantRaise[0]) {
				t.Errorf("raised %v, want %v", f.raised, tt.wantRaise)
			}
		})
	}
}

func TestEstimate(t *testing.T) {
	if got, want := Estimate(300, 40), (Need{Files: 1864, Tasks: 356}); got != want {
		t.Errorf("Estimate(300, 40) = %+v, want %+v", got, want)
	}
}

// The real system: this process's own threads are tasks of its user, and a small run fits
// whatever the machine's limits (Go raised the soft open-files limit at startup).
func TestThisMachine(t *testing.T) {
	if n := userTasks(os.Getuid()); n < 1 {
		t.Errorf("userTasks = %d: this very process is not counted", n)
	}
	l, err := osSystem{}.limits()
	if err != nil {
		t.Fatal(err)
	}
	if l.FilesSoft+1 < l.FilesHard {
		t.Errorf("soft open-files limit %d, hard %d: Go should have raised the soft one at startup", l.FilesSoft, l.FilesHard)
	}
	if err := Check(1); err != nil {
		t.Errorf("Check(1): %v", err)
	}
}
