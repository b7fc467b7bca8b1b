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
// would leave the machine idle for minutes. Two at once (a conformance
// case is two runs, so up to three scenario runs at once): each ffmpeg
// costs about 0.25-0.4 s of CPU to start, and with four at once CI on two
// cores saw ffmpeg's start delayed 2-3 s, past the scenarios' holds. An
// explicit -parallel wins.
func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", "2")
	}
	os.Exit(m.Run())
}
