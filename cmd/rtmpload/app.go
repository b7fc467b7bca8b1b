package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/spf13/pflag"

	"github.com/rtmpload/rtmpload/internal/option"
	"github.com/rtmpload/rtmpload/scenarios"
	"github.com/rtmpload/rtmpload/schema"
)

// Exit codes (docs/design.md, "Exit codes"), decided here and nowhere else.
const (
	exitOK        = 0
	exitSetup     = 1 // usage or setup error
	exitAborted   = 2 // run aborted: partial results written
	exitThreshold = 3 // thresholds failed
	exitProblem   = 4 // diagnose found a problem
)

const usage = `rtmpload: load- and soak-test RTMP ingest with real ffmpeg publishers

Usage:
  rtmpload run SCENARIO [flags]   run a scenario (a file, or a built-in name)
  rtmpload report RESULTS...      render results as table|json|markdown|html|junit
  rtmpload diagnose [flags]       check RTMP port, API, callbacks, ffmpeg; name the cause
  rtmpload hook [flags]           the callback server alone: allow|deny|conflict, faults, --proxy URL
  rtmpload serve [flags]          the embedded SRS-like server alone (RTMP, API, hooks)
  rtmpload scenarios              list the built-in scenarios
  rtmpload version                print the version

Run 'rtmpload run --help' for the flags of run.
`

// run is the whole command, with its environment passed in so tests can
// drive it in-process. It returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitSetup
	}
	// Several goroutines (the server's close on cancel, progress lines, the
	// hook's call log) write to stderr at once; a file takes that, a buffer
	// (a test's, a caller's) does not.
	stdout, stderr = syncWriter(stdout), syncWriter(stderr)
	if isTerminal(stdout) {
		// Reports quote what servers and callbacks said (ffmpeg's stderr
		// carries an RTMP server's own words, the hook a caller's fields):
		// a terminal must show escape sequences in them, not obey them.
		stdout = schema.NewTermWriter(stdout)
	}
	// Every line a command prints passes the redaction (tokens in URLs,
	// passwords in userinfo), whoever wrote it: the commands' own lines, slog
	// records, the hook's call log, error messages quoting a flag. The
	// policy starts as "redact" and --show-secrets/--redact change it.
	schema.SetRedactPolicy(schema.RedactPolicy{})
	stdout, stderr = schema.RedactWriter(stdout), schema.RedactWriter(stderr)
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "run":
		return runCmd(ctx, rest, stdout, stderr)
	case "hook":
		return hookCmd(ctx, rest, stdout, stderr)
	case "serve":
		return serveCmd(ctx, rest, stdout, stderr)
	case "diagnose":
		return diagnoseCmd(ctx, rest, stdout, stderr)
	case "report":
		return reportCmd(ctx, rest, stdin, stdout, stderr)
	case "scenarios":
		err = scenariosCmd(rest, stdout)
	case "version", "--version":
		err = versionCmd(rest, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "rtmpload: unknown command %q: run 'rtmpload help' for the list\n", cmd)
		return exitSetup
	}
	if err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

// fail prints err as rtmpload's one-line message (multi-line messages, such
// as a scenario error with its source caret, keep their lines) and returns
// the setup exit code.
func fail(stderr io.Writer, err error) int {
	if errors.Is(err, pflag.ErrHelp) {
		return exitOK
	}
	err = option.Rename(err, flagNames)
	fmt.Fprintf(stderr, "rtmpload: %s\n", strings.TrimRight(err.Error(), "\n"))
	// A scenario error also shows where: the source lines with a caret.
	var pe *scenarios.ParseError
	if errors.As(err, &pe) && pe.Excerpt != "" {
		fmt.Fprintln(stderr, strings.TrimRight(pe.Excerpt, "\n"))
	}
	return exitSetup
}

// flagNames are the flags that set the options the libraries' errors name
// by field (package option): the message the user sees names the flag.
var flagNames = map[string]string{
	"FFmpeg":                 "--ffmpeg",
	"Options.Target":         "--target",
	"Options.API":            "--api",
	"Options.RunID":          "--run-id",
	"Options.FLV":            "--flv",
	"Options.ResultsDir":     "--out directory",
	"Options.FanoutParallel": "--fanout-parallel",
	"Options.NoTap":          "--tap=false",
	"Options.Grace":          "--grace",
	"Config.RTMP":            "--rtmp",
	"Config.API":             "--api",
	"Config.Publish":         "--publish",
	"Config.Timeout":         "--timeout",
	"Config.PublishFor":      "--publish-for",
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, out io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(out)
	fs.SortFlags = false
	return fs
}

// lockedWriter serialises writes to a writer that is not safe for
// concurrent use.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// syncWriter returns w itself when it is a file (the kernel orders its
// writes, and the terminal check needs the *os.File), else w behind a lock.
func syncWriter(w io.Writer) io.Writer {
	switch w.(type) {
	case nil, *os.File, *lockedWriter:
		return w
	}
	return &lockedWriter{w: w}
}
