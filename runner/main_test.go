package runner

import (
	"flag"
	"os"
	"testing"
)

// TestMain lets more end-to-end tests run at once than there are cores
// (go test's default -parallel is GOMAXPROCS): a scenario run waits on the
// wall clock (ffmpeg publishes in real time, the hook's fault windows are
// timed) and uses a few percent of a core, so on two cores two at a time
// would leave the machine idle for minutes. Six at once (a conformance case
// is two runs) keep two cores busy without starving ffmpeg's start. An
// explicit -parallel wins.
func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", "6")
	}
	os.Exit(m.Run())
}
