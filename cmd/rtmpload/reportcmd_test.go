package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const dupResults = "../../report/testdata/dup.jsonl"

func runReport(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), append([]string{"report"}, args...), strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestReportExitCodes(t *testing.T) {
	code, out, errOut := runReport(t, "", dupResults, "--expect", "count(ok) == 10", "--expect", "count(duplicate_accepted) == 0")
	if code != exitOK || !strings.Contains(out, "Thresholds: 0 of 2 failed") {
		t.Errorf("passing thresholds: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runReport(t, "", dupResults, "--expect", "count(duplicate_accepted) == 0", "--expect", "rate(ok) >= 0.99", "--format", "markdown")
	if code != exitThreshold || !strings.Contains(errOut, "1 threshold(s) failed") {
		t.Errorf("failing threshold: exit %d\n%s", code, errOut)
	}
	if i, j := strings.Index(out, "rate(ok) >= 0.99"), strings.Index(out, "count(duplicate_accepted) == 0"); i < 0 || j < i {
		t.Errorf("markdown does not list the failed threshold first:\n%s", out)
	}
	code, _, errOut = runReport(t, "", dupResults, "--expect", "rate(ok) >= x")
	if code != exitSetup || !strings.Contains(errOut, "expect[0]: rate(ok) >= x: want a number") || !strings.Contains(errOut, "\n            ^") {
		t.Errorf("bad threshold: exit %d\n%s", code, errOut)
	}
	if code, _, errOut = runReport(t, "", dupResults, "--format", "pdf"); code != exitSetup {
		t.Errorf("bad format: exit %d\n%s", code, errOut)
	}
	if code, _, errOut = runReport(t, "", filepath.Join(t.TempDir(), "missing.jsonl")); code != exitSetup {
		t.Errorf("missing file: exit %d\n%s", code, errOut)
	}
}

func TestReportStdinDirectoryAndOut(t *testing.T) {
	data, err := os.ReadFile(dupResults)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "results.jsonl"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "junit.xml")
	code, stdout, errOut := runReport(t, "", dir, "--format", "junit", "--out", out)
	if code != exitOK || stdout != "" {
		t.Fatalf("directory: exit %d stdout %q\n%s", code, stdout, errOut)
	}
	b, err := os.ReadFile(out)
	if err != nil || !bytes.Contains(b, []byte(`<testcase name="group rivals"`)) {
		t.Fatalf("junit file: %v\n%s", err, b)
	}

	code, stdout, errOut = runReport(t, string(data), "-", "--format", "html", "--baseline", "../../report/testdata/smoke.jsonl",
		"--expect", "max(hook_latency) < baseline*1.2")
	if code != exitThreshold || !strings.Contains(stdout, "<svg") || !strings.Contains(stdout, "Against baseline") {
		t.Errorf("stdin html with baseline: exit %d\n%s", code, errOut)
	}
}

// The first interrupt stops report with exit 2, and --out keeps what it held.
func TestReportHonoursInterrupt(t *testing.T) {
	out := filepath.Join(t.TempDir(), "report.md")
	if err := os.WriteFile(out, []byte("the previous report\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"report", dupResults, "--format", "markdown", "--out", out}, strings.NewReader(""), &stdout, &stderr)
	if code != exitAborted || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("interrupted report: exit %d\n%s", code, stderr.String())
	}
	if b, _ := os.ReadFile(out); string(b) != "the previous report\n" {
		t.Errorf("--out after an interrupt: %q", b)
	}
	// stdin that never ends: the interrupt still ends report.
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel = context.WithCancel(t.Context())
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"report", "-"}, pr, &stdout, &stderr) }()
	cancel()
	if code := <-done; code != exitAborted {
		t.Errorf("interrupted while reading stdin: exit %d", code)
	}
}

// --out is replaced by a rename, never truncated in place: an interrupt in
// the middle of the write cannot leave half a report, nor lose the old one.
func TestReportOutIsReplacedWhole(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "report.md")
	if err := os.WriteFile(out, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runReport(t, "", dupResults, "--format", "markdown", "--out", out); code != exitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	after, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(before, after) {
		t.Error("--out was rewritten in place (same inode), not renamed over")
	}
	if after.Mode().Perm() != 0o644 {
		t.Errorf("--out mode %v, want 0644", after.Mode().Perm())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left beside --out: %v", ents)
	}
}

// --out never replaces a results stream, whether the report reads it or
// not, nor names a directory: the command is refused with one line and the
// file stays as it was.
func TestReportOutKeepsResults(t *testing.T) {
	data, err := os.ReadFile(dupResults)
	if err != nil {
		t.Fatal(err)
	}
	dir, other := t.TempDir(), t.TempDir()
	results := filepath.Join(dir, "results.jsonl")
	otherResults := filepath.Join(other, "old.jsonl")
	for _, p := range []string{results, otherResults} {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{dir, "--out", results, "--format", "json"}, "one of the files this report reads"},
		{[]string{results, "--out", dir + "/./results.jsonl"}, "one of the files this report reads"},
		{[]string{dupResults, "--baseline", dir, "--out", results}, "one of the files this report reads"},
		{[]string{dupResults, "--out", otherResults, "--format", "json"}, "holds a results stream"},
		{[]string{dupResults, "--out", other, "--format", "json"}, "is a directory"},
	} {
		code, _, errOut := runReport(t, "", c.args...)
		if code != exitSetup || !strings.Contains(errOut, c.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d\n%s", c.args, code, errOut)
		}
	}
	for _, p := range []string{results, otherResults} {
		if b, _ := os.ReadFile(p); !bytes.Equal(b, data) {
			t.Errorf("%s changed", p)
		}
	}
}
