package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/schema"
)

// child is a supervised rtmpload process: its own process group, killed
// with us (Pdeathsig), SIGINT to the group on cancel, SIGKILL after a grace.
type child struct {
	cmd    *exec.Cmd
	stderr syncBuffer
	done   chan error
}

func startChild(t *testing.T, ctx context.Context, stdout io.Writer, bin string, args ...string) *child {
	t.Helper()
	c := &child{done: make(chan error, 1)}
	c.cmd = exec.CommandContext(ctx, bin, args...)
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	c.cmd.Cancel = func() error { return syscall.Kill(-c.cmd.Process.Pid, syscall.SIGINT) }
	c.cmd.WaitDelay = 10 * time.Second
	c.cmd.Stdout, c.cmd.Stderr = stdout, &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() { c.stop() })
	return c
}

// stop ends the process group (SIGINT, then SIGKILL) and reaps it.
func (c *child) stop() error {
	pid := c.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGINT)
	select {
	case err := <-c.done:
		c.done <- err // stop may be called again (t.Cleanup)
		return err
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		err := <-c.done
		c.done <- err
		return err
	}
}

// wait waits for the process to exit by itself and returns its exit code
// (-1 when it did not exit normally). It may be called from any goroutine.
func (c *child) wait() int {
	err := <-c.done
	c.done <- err
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// reportJSON runs `rtmpload report --format json` in-process.
func reportJSON(t *testing.T, args ...string) *report.Summary {
	t.Helper()
	code, out, errOut := runInProcess(t, time.Minute, append([]string{"report", "--format", "json"}, args...)...)
	if code != exitOK {
		t.Fatalf("report %q: exit %d\n%s", args, code, errOut)
	}
	var s report.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("report %q: %v\n%s", args, err, out)
	}
	return &s
}

// contestShape is what must not depend on sharding: per name, how many won
// and the sorted outcomes of the others.
func contestShape(cs []report.Contest) map[string]string {
	out := make(map[string]string)
	for _, c := range cs {
		var losers []string
		for _, a := range c.Attempts {
			if !slices.Contains(c.Winners, a.ID) {
				losers = append(losers, string(a.Outcome))
			}
		}
		slices.Sort(losers)
		out[c.Stream] = fmt.Sprintf("%d winner(s), %d attempts, losers %v, two_live %v", len(c.Winners), len(c.Attempts), losers, c.TwoLive)
	}
	return out
}

// The acceptance test: one scenario as 4 shard processes sharing one
// server and one hook, merged, against the same scenario in one process.
func TestDistributedShardsMergeLikeOneProcess(t *testing.T) {
	testkit.FFmpeg(t)
	t.Parallel()
	oneBurst(t)
	tmp := t.TempDir()
	bin := rtmploadBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	hookPath := filepath.Join(tmp, "hook.jsonl")
	hookFile, err := os.Create(hookPath)
	if err != nil {
		t.Fatal(err)
	}
	defer hookFile.Close()
	hk := startChild(t, ctx, hookFile, bin, "hook", "--listen", "127.0.0.1:0", "--mode", "allow", "--json")
	hookURL := waitOutput(t, &hk.stderr, `\(on_publish (http://\S+)\)`)[1]
	unpubURL := strings.Replace(hookURL, "on_publish", "on_unpublish", 1)

	var serveOut syncBuffer
	srv := startChild(t, ctx, &serveOut, bin, "serve", "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
		"--on-publish", hookURL, "--on-unpublish", unpubURL)
	rtmpURL := waitOutput(t, &serveOut, `rtmp (rtmp://\S+)\n`)[1]
	apiURL := waitOutput(t, &serveOut, `api (http://\S+)\n`)[1]

	runArgs := func(id, out string) []string {
		return []string{"run", "duplicate-contest", "--target", rtmpURL, "--api", apiURL, "--hook", "external",
			"--run-id", id, "--out", out, "--cache-dir", cacheDir(t), "--progress", "none"}
	}
	shardDir := filepath.Join(tmp, "shards")
	var wg sync.WaitGroup
	shards := make([]*child, 4)
	for i := range shards {
		shards[i] = startChild(t, ctx, io.Discard, bin, append(runArgs("R", filepath.Join(shardDir, fmt.Sprint(i))), "--shard", fmt.Sprintf("%d/4", i))...)
	}
	for i, c := range shards {
		wg.Go(func() {
			if code := c.wait(); code != exitOK {
				t.Errorf("shard %d: exit %d\n%s", i, code, c.stderr.String())
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	oneDir := filepath.Join(tmp, "one")
	one := startChild(t, ctx, io.Discard, bin, runArgs("R2", oneDir)...)
	if code := one.wait(); code != exitOK {
		t.Fatalf("one process: exit %d\n%s", code, one.stderr.String())
	}
	// Accepted publishers get on_unpublish a few ms after they end: stop
	// the server before the hook, so the log is complete.
	if err := srv.stop(); err != nil {
		t.Errorf("serve: %v\n%s", err, srv.stderr.String())
	}
	if err := hk.stop(); err != nil {
		t.Errorf("hook: %v\n%s", err, hk.stderr.String())
	}

	merged := reportJSON(t, "--hook-log", hookPath, shardDir)
	whole := reportJSON(t, "--hook-log", hookPath, oneDir)

	if want := (&report.ShardInfo{Count: 4, Present: []int{0, 1, 2, 3}}); !reflect.DeepEqual(merged.Shards, want) {
		t.Errorf("merged shards %+v, want %+v", merged.Shards, want)
	}
	if merged.Run.ID != "R" || whole.Run.ID != "R2" || whole.Shards != nil {
		t.Errorf("run ids %q %q, one-process shards %+v", merged.Run.ID, whole.Run.ID, whole.Shards)
	}
	if merged.EndReason != schema.EndNormal || whole.EndReason != schema.EndNormal {
		t.Errorf("end reasons %q (%s), %q (%s)", merged.EndReason, merged.EndError, whole.EndReason, whole.EndError)
	}
	for _, s := range []*report.Summary{merged, whole} {
		// Each report holds its own run's calls only, every one tied to an
		// attempt: without the join the rivals would be rejected_unknown.
		if s.Attempts != 25 || s.Hook.Orphans != 0 || s.Hook.Verdicts["allow"] != 25 {
			t.Errorf("run %s: %d attempts, hook %+v", s.Run.ID, s.Attempts, s.Hook)
		}
	}
	if !reflect.DeepEqual(merged.Groups, whole.Groups) || !reflect.DeepEqual(merged.Outcomes, whole.Outcomes) {
		t.Errorf("outcomes differ:\nmerged %v %+v\n   one %v %+v", merged.Outcomes, merged.Groups, whole.Outcomes, whole.Groups)
	}
	if merged.Outcomes[schema.OutcomeOK] != 10 || merged.Outcomes[schema.OutcomeStreamBusy] != 15 {
		t.Errorf("merged outcomes %v: want 10 ok owners and 15 stream_busy rivals", merged.Outcomes)
	}
	if m, w := contestShape(merged.Contests), contestShape(whole.Contests); len(m) != 10 || !reflect.DeepEqual(m, w) {
		t.Errorf("contests differ:\nmerged %v\n   one %v", m, w)
	}
	if len(merged.Anomalies) != 0 || len(whole.Anomalies) != 0 {
		t.Errorf("anomalies: merged %q, one %q", merged.Anomalies, whole.Anomalies)
	}

	// Every ffmpeg of every process is gone.
	var pids []int
	for i := range 4 {
		pids = append(pids, spawnPIDs(testkit.Events(t, filepath.Join(shardDir, fmt.Sprint(i), "results.jsonl")))...)
	}
	pids = append(pids, spawnPIDs(testkit.Events(t, filepath.Join(oneDir, "results.jsonl")))...)
	if len(pids) != 50 {
		t.Errorf("%d ffmpeg spawned, want 50", len(pids))
	}
	assertGone(t, pids)
}
