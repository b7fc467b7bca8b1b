// Command rtmpload load- and soak-tests RTMP ingest with real ffmpeg
// publishers. See README.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rtmpload/rtmpload/internal/pgroup"
)

func main() {
	sigs := make(chan os.Signal, 3)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	os.Exit(runSignals(sigs, os.Exit, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// runSignals is run with the command's signals (Ctrl-C, SIGTERM) coming in
// on sigs, so that tests can send them:
//
//   - the first stops the command (ctx ends): a run sends each ffmpeg SIGINT,
//     SIGKILL to its group after --grace, and still writes every result, its
//     end line and its report;
//   - the second kills every child's process group at once (ffmpeg, the
//     -version check, a managed server, and whatever each started), and the
//     end line and report are still written;
//   - the third leaves at once through exit, with nothing more written:
//     in case writing itself hangs.
func runSignals(sigs <-chan os.Signal, exit func(int), args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	stderr = syncWriter(stderr) // this goroutine and the command's write to it
	killer := pgroup.NewKiller()
	ctx, cancel := context.WithCancel(pgroup.WithKiller(context.Background(), killer))
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	go func() {
		next := func() bool {
			select {
			case <-sigs:
				return true
			case <-done:
				return false
			}
		}
		if !next() {
			return
		}
		cancel()
		if !next() {
			return
		}
		fmt.Fprintln(stderr, "rtmpload: second signal: killing every child process now (a third leaves at once, writing nothing more)")
		killer.KillAll()
		if !next() {
			return
		}
		fmt.Fprintln(stderr, "rtmpload: third signal: leaving at once; the results may lack their end line and the report")
		exit(exitAborted)
	}()
	return run(ctx, args, stdin, stdout, stderr)
}
