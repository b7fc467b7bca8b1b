// Command rtmpload load- and soak-tests RTMP ingest with real ffmpeg
// publishers. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel() // first Ctrl-C: stop the run, still write every result
		<-sigs
		// Second Ctrl-C: leave at once. Every ffmpeg has Pdeathsig set, so
		// none outlives us.
		os.Exit(exitAborted)
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
