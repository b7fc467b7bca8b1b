package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/report/threshold"
)

var renderers = map[string]func(io.Writer, *report.Summary, report.Extras) error{
	"table":    report.TableWith,
	"json":     report.JSONWith,
	"markdown": report.Markdown,
	"html":     report.HTML,
	"junit":    report.JUnit,
}

// reportCmd renders results streams. With several streams each is rendered
// in turn (merging shards is a later step); the exit code is 3 when any
// threshold fails on any of them.
func reportCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("report", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: rtmpload report RESULTS... [flags]\n\nRESULTS is a results.jsonl file, a results directory, or - for stdin.\n\nFlags:\n%s", fs.FlagUsages())
	}
	format := fs.String("format", "table", "table, json, markdown, html or junit")
	out := fs.String("out", "", "write the report to this file (default stdout)")
	expect := fs.StringArray("expect", nil, `threshold, e.g. "rate(ok) >= 0.99" or "p95(publish_start) < 300ms" (repeatable)`)
	baseline := fs.String("baseline", "", "an earlier results.jsonl to compare against (and for baseline*F thresholds)")
	if err := fs.Parse(args); err != nil {
		return fail(stderr, err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitSetup
	}
	render, ok := renderers[*format]
	if !ok {
		return fail(stderr, fmt.Errorf("unknown --format %q: want table, json, markdown, html or junit", *format))
	}
	ts, err := threshold.ParseAll(*expect)
	if err != nil {
		var pe *threshold.ParseError
		if errors.As(err, &pe) {
			fmt.Fprintf(stderr, "rtmpload: --%s\n%s\n", err, pe.Caret())
			return exitSetup
		}
		return fail(stderr, err)
	}
	var base *report.Summary
	if *baseline != "" {
		if base, err = report.Load(resultsPath(*baseline)); err != nil {
			return fail(stderr, fmt.Errorf("baseline: %w", err))
		}
	}

	// Render everything before writing: a half-written --out file is worse
	// than none.
	var buf bytes.Buffer
	failed := 0
	for _, arg := range fs.Args() {
		s, tl, err := summarize(arg, stdin)
		if err != nil {
			return fail(stderr, err)
		}
		// The run's own thresholds (scenario and command line) come first.
		own, err := threshold.ParseAll(s.Run.Expect)
		if err != nil {
			return fail(stderr, fmt.Errorf("%s: thresholds in the run header: %w", arg, err))
		}
		x := report.Extras{Thresholds: threshold.EvaluateAll(append(own, ts...), s, base), Timeline: tl}
		if base != nil {
			x.Baseline = report.Compare(s, base)
		}
		failed += report.Failed(x.Thresholds)
		if err := render(&buf, s, x); err != nil {
			return fail(stderr, err)
		}
	}
	if *out == "" {
		_, err = stdout.Write(buf.Bytes())
	} else {
		err = os.WriteFile(*out, buf.Bytes(), 0o644)
	}
	if err != nil {
		return fail(stderr, err)
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "rtmpload: %d threshold(s) failed\n", failed)
		return exitThreshold
	}
	return exitOK
}

// resultsPath accepts a results directory for its results.jsonl.
func resultsPath(p string) string {
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		return filepath.Join(p, "results.jsonl")
	}
	return p
}

func summarize(arg string, stdin io.Reader) (*report.Summary, *report.Timeline, error) {
	if arg == "-" {
		s, tl, err := report.SummarizeTimeline(stdin)
		if err != nil {
			return nil, nil, fmt.Errorf("stdin: %w", err)
		}
		return s, tl, nil
	}
	path := resultsPath(arg)
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	s, tl, err := report.SummarizeTimeline(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, tl, nil
}
