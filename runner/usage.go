package runner

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rtmpload/rtmpload/schema"

	"github.com/rtmpload/rtmpload/publisher"
)

// kidsUsage adds up the usage of the ffmpegs a run spawned, from each one's
// own wait status as it is reaped. getrusage(RUSAGE_CHILDREN) would also
// count whatever the shell that exec'd rtmpload had waited for (apt, go
// build): "its ffmpegs: cpu 173.3s (1132.3% of one core)" on two cores.
type kidsUsage struct {
	mu     sync.Mutex
	cpu    time.Duration
	maxRSS int64 // the largest single ffmpeg
}

// counting wraps a Spawner so that every result's usage is added.
func (k *kidsUsage) counting(spawn Spawner) Spawner {
	return func(ctx context.Context, spec SpawnSpec) publisher.Result {
		res := spawn(ctx, spec)
		k.mu.Lock()
		k.cpu += res.CPU
		k.maxRSS = max(k.maxRSS, res.MaxRSS)
		k.mu.Unlock()
		return res
	}
}

// usage is rtmpload's own rusage and its ffmpegs' sum. Every ffmpeg has
// been reaped by the time the run ends, so the sum is complete.
func (k *kidsUsage) usage() *schema.Usage {
	var self syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &self) != nil {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return &schema.Usage{
		SelfCPU: time.Duration(self.Utime.Nano() + self.Stime.Nano()), SelfMaxRSS: self.Maxrss << 10, // Linux reports KiB
		ChildCPU: k.cpu, ChildMaxRSS: k.maxRSS,
	}
}

// serverUsage is a server process's CPU (with its reaped children) and peak
// RSS so far, from /proc; zero if pid is 0 or gone.
func serverUsage(pid int) (cpu time.Duration, maxRSS int64) {
	if pid <= 0 {
		return 0, 0
	}
	if st, ok := procStat(pid); ok {
		cpu = st.cpu + st.kidsCPU
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return cpu, 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return cpu, kb << 10
		}
	}
	return cpu, 0
}
