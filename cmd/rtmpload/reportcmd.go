package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/report/threshold"
	"github.com/spf13/pflag"
)

var renderers = map[string]func(io.Writer, *report.Summary, report.Extras) error{
	"table":    report.TableWith,
	"json":     report.JSONWith,
	"markdown": report.Markdown,
	"html":     report.HTML,
	"junit":    report.JUnit,
}

// reportCmd renders results streams. Streams of one run id (its shards) are
// merged into one report; different runs are rendered in turn. The exit code
// is 3 when any threshold fails on any of them.
// The first interrupt (ctx cancelled) stops it with exit 2 and leaves --out
// as it was; the file is only ever replaced whole (a rename).
func reportCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, a := reportFlags(stderr)
	secrets := secretFlags(fs)
	if err := fs.Parse(args); err != nil {
		return fail(stderr, err)
	}
	if err := secrets(); err != nil {
		return fail(stderr, err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitSetup
	}
	render, ok := renderers[a.format]
	if !ok {
		return fail(stderr, fmt.Errorf("unknown --format %q: want table, json, markdown, html or junit", a.format))
	}
	ts, err := a.thresholds()
	if err != nil {
		var pe *threshold.ParseError
		if errors.As(err, &pe) {
			fmt.Fprintf(stderr, "rtmpload: --%s\n%s\n", err, pe.Caret())
			return exitSetup
		}
		return fail(stderr, err)
	}
	if err := a.checkOut(fs.Args()); err != nil {
		return fail(stderr, err)
	}
	r, ok := renderUnlessInterrupted(ctx, func() rendered {
		buf, failed, err := renderReports(fs.Args(), stdin, render, ts, a.hookLog, a.baseline)
		return rendered{buf, failed, err}
	})
	if !ok {
		msg := "rtmpload: report interrupted: nothing written"
		if a.out != "" {
			msg += "; " + a.out + " left as it was"
		}
		fmt.Fprintln(stderr, msg)
		return exitAborted
	}
	if r.err != nil {
		return fail(stderr, r.err)
	}
	if err := writeReport(a.out, r.buf, stdout); err != nil {
		return fail(stderr, err)
	}
	if r.failed > 0 {
		fmt.Fprintf(stderr, "rtmpload: %d threshold(s) failed\n", r.failed)
		return exitThreshold
	}
	return exitOK
}

// reportArgs is the command line of `rtmpload report`, as its flags parse it.
type reportArgs struct {
	format, out       string
	expect            []string
	baseline, hookLog string
}

// reportFlags defines the flags of `rtmpload report`, in the order its usage lists them.
func reportFlags(stderr io.Writer) (*pflag.FlagSet, *reportArgs) {
	fs := newFlags("report", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: rtmpload report RESULTS... [flags]\n\nRESULTS is a results.jsonl file, a results directory, a directory of shards' results,\nor - for stdin. The shards of one run (same run id) are merged into one report.\n\nFlags:\n%s", fs.FlagUsages())
	}
	a := &reportArgs{}
	fs.StringVar(&a.format, "format", "table", "table, json, markdown, html or junit")
	fs.StringVar(&a.out, "out", "", "write the report to this file (default stdout)")
	fs.StringArrayVar(&a.expect, "expect", nil, `threshold, e.g. "rate(ok) >= 0.99" or "p95(publish_start) < 300ms" (repeatable)`)
	fs.StringVar(&a.baseline, "baseline", "", "an earlier run to compare against (and for baseline*F thresholds): a results file or directory")
	fs.StringVar(&a.hookLog, "hook-log", "", "the JSON lines of 'rtmpload hook --json' that served runs with --hook external: joined to their attempts")
	return fs, a
}

// thresholds parses --expect; a threshold relative to a baseline needs --baseline.
func (a *reportArgs) thresholds() ([]threshold.Threshold, error) {
	ts, err := threshold.ParseAll(a.expect)
	if err != nil {
		return nil, err
	}
	if a.baseline == "" {
		if err := threshold.NeedBaseline(ts); err != nil {
			return nil, fmt.Errorf("%w: pass --baseline EARLIER-RESULTS", err)
		}
	}
	return ts, nil
}

// checkOut refuses an --out that would replace what the command reads or
// any results stream (the report is written over --out whole): a results
// file is the run's only full record, a report can be written again.
func (a *reportArgs) checkOut(args []string) error {
	if a.out == "" {
		return nil
	}
	fi, err := os.Stat(a.out)
	if err != nil {
		return nil // a new file (a bad directory fails on write, with its name)
	}
	if fi.IsDir() {
		return fmt.Errorf("--out %s is a directory: name the report file, e.g. %s", a.out, filepath.Join(a.out, "report"+map[string]string{"table": ".txt", "json": ".json", "markdown": ".md", "html": ".html", "junit": ".xml"}[a.format]))
	}
	inputs := append([]string(nil), args...)
	inputs = append(inputs, a.baseline, a.hookLog)
	for _, arg := range inputs {
		if arg == "" || arg == "-" {
			continue
		}
		paths, err := resultsPaths(arg)
		if err != nil {
			continue // reported when read
		}
		for _, p := range paths {
			if pi, err := os.Stat(p); err == nil && os.SameFile(fi, pi) {
				return fmt.Errorf("--out %s is one of the files this report reads: write the report to a new file", a.out)
			}
		}
	}
	if isResultsStream(a.out) {
		return fmt.Errorf("--out %s holds a results stream, which the report would replace: write the report to a new file", a.out)
	}
	return nil
}

// isResultsStream tells whether the file at path begins as a results
// stream does (its run header).
func isResultsStream(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 64)
	n, _ := io.ReadFull(f, head)
	return bytes.HasPrefix(bytes.TrimLeft(head[:n], " \t\r\n"), []byte(`{"type":"run"`))
}

// rendered is every report of one command, rendered but not yet written.
type rendered struct {
	buf    []byte
	failed int // thresholds failed
	err    error
}

// renderUnlessInterrupted renders in a goroutine of its own, so that an
// interrupt (ctx done) ends the command at once; ok is false then.
func renderUnlessInterrupted(ctx context.Context, render func() rendered) (r rendered, ok bool) {
	done := make(chan rendered, 1)
	go func() { done <- render() }()
	select {
	case r = <-done:
	case <-ctx.Done():
		// Reading stdin or a huge file cannot be interrupted from here; the
		// process ends with this code and the reader goroutine with it.
	}
	return r, ctx.Err() == nil
}

// writeReport writes buf to stdout, or replaces the file out whole.
func writeReport(out string, buf []byte, stdout io.Writer) error {
	if out == "" {
		_, err := stdout.Write(buf)
		return err
	}
	return report.WriteAtomic(out, func(w io.Writer) error { _, err := w.Write(buf); return err })
}

// renderReports reads and merges the results streams and renders every run
// into one buffer: everything is rendered before anything is written, since
// a half-written --out file is worse than none.
func renderReports(args []string, stdin io.Reader, render func(io.Writer, *report.Summary, report.Extras) error, ts []threshold.Threshold, hookLog, baseline string) (out []byte, failed int, err error) {
	var hooks *report.HookLog
	if hookLog != "" {
		f, err := os.Open(hookLog)
		if err != nil {
			return nil, 0, fmt.Errorf("--hook-log: %w", err)
		}
		hooks, err = report.ReadHookLog(f)
		f.Close()
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", hookLog, err)
		}
	}
	var base *report.Summary
	if baseline != "" {
		runs, err := mergeArgs([]string{baseline}, stdin, hooks)
		if err != nil {
			return nil, 0, fmt.Errorf("baseline: %w", err)
		}
		if len(runs) != 1 {
			return nil, 0, fmt.Errorf("baseline %s holds %d runs: give one", baseline, len(runs))
		}
		base = runs[0].Summary
	}
	runs, err := mergeArgs(args, stdin, hooks)
	if err != nil {
		return nil, 0, err
	}

	var buf bytes.Buffer
	for _, r := range runs {
		s := r.Summary
		// The run's own thresholds (scenario and command line) come first.
		own, err := threshold.ParseAll(s.Run.Expect)
		if err != nil {
			return nil, 0, fmt.Errorf("run %s: thresholds in the run header: %w", r.ID, err)
		}
		x := report.Extras{Thresholds: threshold.EvaluateAll(append(own, ts...), s, base), Timeline: r.Timeline}
		if base != nil {
			x.Baseline = report.Compare(s, base)
		}
		failed += report.Failed(x.Thresholds)
		if err := render(&buf, s, x); err != nil {
			return nil, 0, err
		}
	}
	return buf.Bytes(), failed, nil
}

// mergeArgs reads every results stream the arguments name and merges them
// by run id: the shards of one run become one summary, different runs stay
// apart.
func mergeArgs(args []string, stdin io.Reader, hooks *report.HookLog) ([]report.MergedRun, error) {
	var srcs []report.Source
	for _, arg := range args {
		if arg == "-" {
			srcs = append(srcs, report.Source{Name: "stdin", R: stdin})
			continue
		}
		paths, err := resultsPaths(arg)
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			f, err := os.Open(p)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			srcs = append(srcs, report.Source{Name: p, R: f})
		}
	}
	return report.Merge(srcs, hooks)
}

// resultsPaths is the results files an argument names: a file, a results
// directory (its results.jsonl), or a directory of shards' results
// (DIR/*/results.jsonl, as on a shared volume, and DIR/*.jsonl, as
// collected from pod logs).
func resultsPaths(p string) ([]string, error) {
	fi, err := os.Stat(p)
	if err != nil || !fi.IsDir() {
		return []string{p}, nil // a missing file fails on open, with its name
	}
	one := filepath.Join(p, "results.jsonl")
	if _, err := os.Stat(one); err == nil {
		return []string{one}, nil
	}
	nested, err := filepath.Glob(filepath.Join(p, "*", "results.jsonl"))
	if err != nil {
		return nil, err
	}
	flat, err := filepath.Glob(filepath.Join(p, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	if len(nested)+len(flat) == 0 {
		return nil, fmt.Errorf("%s: no results.jsonl, */results.jsonl or *.jsonl in this directory", p)
	}
	return append(nested, flat...), nil
}
