// Command duprace measures when a real SRS accepts two publishers of one
// stream name (docs/srs-behaviour.md, "Duplicate names"; bench/srs-duplicate.sh
// runs it).
//
//	duprace -srs PATH [-delays 0,10ms,...] [-hooks 0,1s,...] [-trials 8] [-parallel 2]
//
// It starts SRS (managed) with an on_publish hook served here that
// answers {"code":0} after a latency taken from the stream's name, then, per
// cell (hook latency, rival delay) and trial, publishes a fresh name twice,
// the rival the delay after the owner, with a bare RTMP client (no ffmpeg, so
// that the delay is exact to a millisecond). A publisher counts as accepted
// when it got NetStream.Publish.Start. Each trial starts at a random point of
// SRS's 3 s source-cleanup period, so that the period's phase is spread evenly.
//
// Output: one row per cell (both accepted / trials, the API's view, how many
// the cleanup rule predicts, how many rivals looked up while the owner's hook
// ran), then whether the rule (a cleanup tick between the owner's source
// lookup and min(its acceptance, the rival's lookup), read from SRS's log)
// explains every trial, and each trial where both were accepted.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/bluenviron/gortmplib"

	"github.com/rtmpload/rtmpload/managed"
)

// cleanupPeriod is SRS's source-manager tick (SrsLiveSourceManager's timer,
// 3 s in 7.0.18): each tick drops sources that are not being published.
const cleanupPeriod = 3 * time.Second

func main() {
	srs := flag.String("srs", os.Getenv("RTMPLOAD_SRS"), "SRS binary (default $RTMPLOAD_SRS)")
	delays := flag.String("delays", "0,10ms,50ms,200ms,500ms,1s,1500ms,3s", "rival delays after the owner")
	hooks := flag.String("hooks", "0,1s,2s,4s", "on_publish hook latencies")
	trials := flag.Int("trials", 8, "trials per cell")
	parallel := flag.Int("parallel", 2, "trials at once")
	hold := flag.Duration("hold", 300*time.Millisecond, "how long both publishers stay after the later verdict")
	dir := flag.String("dir", "", "SRS's directory (default a temporary one, removed)")
	flag.Parse()
	if err := run(*srs, *delays, *hooks, *trials, *parallel, *hold, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "duprace:", err)
		os.Exit(1)
	}
}

func parseDurations(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		if f == "0" {
			out = append(out, 0)
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// hookServer answers on_publish {"code":0} after the latency named in the
// stream ("h<ms>-d<ms>-t<n>").
type hookServer struct{}

func (hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Action string `json:"action"`
		Stream string `json:"stream"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	if req.Action == "on_publish" {
		var hms int
		fmt.Sscanf(req.Stream, "h%d-", &hms)
		time.Sleep(time.Duration(hms) * time.Millisecond)
	}
	fmt.Fprint(w, `{"code":0}`)
}

// verdict is one publisher's result.
type verdict struct {
	accepted bool
	at       time.Time
	err      string
}

// trial is one owner/rival pair.
type trial struct {
	hook, delay  time.Duration
	name         string
	owner, rival verdict
	apiPubs      int // publishing clients of the name in the API after both verdicts
}

func run(bin, delayList, hookList string, trials, parallel int, hold time.Duration, dir string) error {
	if bin == "" {
		return errors.New("no SRS binary: pass -srs PATH or set RTMPLOAD_SRS")
	}
	delays, err := parseDurations(delayList)
	if err != nil {
		return err
	}
	hooks, err := parseDurations(hookList)
	if err != nil {
		return err
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "duprace-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go http.Serve(ln, hookServer{})
	defer ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := managed.StartSRS(ctx, managed.SRSConfig{
		Dir: dir, Binary: bin, OnPublish: "http://" + ln.Addr().String() + "/on_publish",
	})
	if err != nil {
		return err
	}
	api := "http://" + srv.Config().APIListen
	var all []*trial
	for _, h := range hooks {
		for _, d := range delays {
			for i := range trials {
				all = append(all, &trial{hook: h, delay: d, name: fmt.Sprintf("h%d-d%d-t%d", h.Milliseconds(), d.Milliseconds(), i)})
			}
		}
	}
	// A few trials at a time: a loaded SRS stretches every phase of a
	// publish, and with it the window being measured. Each trial starts at
	// a random point of the cleanup period so that its phase is even.
	order := slices.Clone(all)
	rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, t := range order {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			t.run(srv.RTMPAddr(), api, time.Now().Add(rand.N(cleanupPeriod)), hold)
		}()
		if (i+1)%50 == 0 {
			fmt.Fprintf(os.Stderr, "duprace: %d of %d trials started\n", i+1, len(order))
		}
	}
	wg.Wait()
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer stopCancel()
	srv.Stop(stopCtx)
	lv, err := readLog(filepath.Join(dir, "srs.log"))
	if err != nil {
		return err
	}
	report(all, lv, hooks, delays, trials)
	return nil
}

// run publishes the owner at start and the rival delay later, and keeps
// whoever was accepted until both have a verdict and hold has passed.
func (t *trial) run(addr, api string, start time.Time, hold time.Duration) {
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); t.owner = publish(addr, t.name, start, release) }()
	go func() { defer wg.Done(); t.rival = publish(addr, t.name, start.Add(t.delay), release) }()
	decided := make(chan struct{})
	go func() { wg.Wait(); close(decided) }()
	// A verdict is in when Initialize returns; publish signals it by
	// returning only once it has one (the connection then waits on release).
	<-decided
	t.apiPubs = apiPublishers(api, t.name)
	time.Sleep(hold)
	close(release)
}

// publish connects at `at` and returns the verdict; an accepted publisher's
// connection stays open until release is closed.
func publish(addr, name string, at time.Time, release <-chan struct{}) verdict {
	time.Sleep(time.Until(at))
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	c := &gortmplib.Client{URL: &url.URL{Scheme: "rtmp", Host: addr, Path: "/live/" + name}, Publish: true}
	err := c.Initialize(ctx)
	v := verdict{accepted: err == nil, at: time.Now()}
	if err != nil {
		v.err = err.Error()
		return v
	}
	go func() { <-release; c.Close() }()
	return v
}

// apiPublishers counts the publishing clients of name in /api/v1/clients/.
func apiPublishers(api, name string) int {
	resp, err := http.Get(api + "/api/v1/clients/?count=1000")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var body struct {
		Clients []struct {
			Name    string `json:"name"`
			URL     string `json:"url"`
			Type    string `json:"type"`
			Publish bool   `json:"publish"`
		} `json:"clients"`
	}
	if json.NewDecoder(resp.Body).Decode(&body) != nil {
		return -1
	}
	n := 0
	for _, c := range body.Clients {
		if (c.Name == name || strings.HasSuffix(c.URL, "/"+name)) && (c.Publish || strings.HasSuffix(c.Type, "-publish")) {
			n++
		}
	}
	return n
}

// logView is what SRS's log says, per stream and in time order.
type logView struct {
	ticks   []time.Time           // "Live: cleanup die source" (one per tick)
	fetches map[string][]logFetch // stream -> its connections' source lookups
}

// logFetch is one connection's source lookup ("source url=...") and, when
// it was accepted, its "start publish" line.
type logFetch struct {
	cid         string
	at, started time.Time
	newSource   bool // preceded by "new live source": it made a new one
}

// readLog parses SRS's log: "[2026-12-02 04:34:46.930][INFO][pid][cid] ...".
func readLog(path string) (*logView, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	v := &logView{fetches: make(map[string][]logFetch)}
	type ref struct {
		stream string
		i      int
	}
	byCID := make(map[string]ref)
	pendingNew := make(map[string]bool)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 26 || line[0] != '[' {
			continue
		}
		at, err := time.ParseInLocation("2006-01-02 15:04:05.000", line[1:24], time.Local)
		if err != nil {
			continue
		}
		f := strings.SplitN(line, "]", 5)
		if len(f) < 5 {
			continue
		}
		cid, msg := strings.TrimPrefix(f[3], "["), strings.TrimSpace(f[4])
		switch {
		case strings.HasPrefix(msg, "Live: cleanup die source"):
			if k := len(v.ticks) - 1; k < 0 || at.Sub(v.ticks[k]) > 500*time.Millisecond {
				v.ticks = append(v.ticks, at)
			}
		case strings.HasPrefix(msg, "new live source, stream_url="):
			pendingNew[cid] = true
		case strings.HasPrefix(msg, "source url="):
			u, _, _ := strings.Cut(strings.TrimPrefix(msg, "source url="), ",")
			name := u[strings.LastIndex(u, "/")+1:]
			byCID[cid] = ref{name, len(v.fetches[name])}
			v.fetches[name] = append(v.fetches[name], logFetch{cid: cid, at: at, newSource: pendingNew[cid]})
			delete(pendingNew, cid)
		case strings.HasPrefix(msg, "start publish"):
			if r, ok := byCID[cid]; ok {
				v.fetches[r.stream][r.i].started = at
			}
		}
	}
	return v, sc.Err()
}

// tickIn reports whether a logged cleanup tick fell in (from, to).
func (v *logView) tickIn(from, to time.Time) bool {
	for _, t := range v.ticks {
		if t.After(from) && t.Before(to) {
			return true
		}
	}
	return false
}

func report(all []*trial, lv *logView, hooks, delays []time.Duration, trials int) {
	type cell struct{ both, ownerOnly, rivalOnly, none, apiTwo, predicted, inHook int }
	cells := make(map[[2]time.Duration]*cell)
	right := 0
	var twos []string
	for _, t := range all {
		k := [2]time.Duration{t.hook, t.delay}
		c := cells[k]
		if c == nil {
			c = &cell{}
			cells[k] = c
		}
		both := t.owner.accepted && t.rival.accepted
		switch {
		case both:
			c.both++
		case t.owner.accepted:
			c.ownerOnly++
		case t.rival.accepted:
			c.rivalOnly++
		default:
			c.none++
		}
		if t.apiPubs >= 2 {
			c.apiTwo++
		}
		// The explanation: a cleanup tick dropped the first connection's
		// source between its lookup and its acceptance (it was not yet
		// publishing, so the source looked dead), and the second looked
		// its source up after that tick, so it got a new one.
		fs := lv.fetches[t.name]
		if len(fs) < 2 {
			continue
		}
		first, second := fs[0], fs[1]
		end := second.at
		if !first.started.IsZero() && first.started.Before(end) {
			end = first.started
		}
		pred := lv.tickIn(first.at, end)
		if pred {
			c.predicted++
		}
		if pred == both {
			right++
		}
		if first.started.IsZero() || second.at.Before(first.started) {
			c.inHook++ // the second looked up while the first's hook ran
		}
		if both {
			twos = append(twos, fmt.Sprintf("%s: lookups +0 and +%v, first accepted +%v, second made a new source: %v, tick in window: %v",
				t.name, second.at.Sub(first.at).Round(time.Millisecond),
				first.started.Sub(first.at).Round(time.Millisecond), second.newSource, pred))
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "hook\trival delay\tboth accepted\towner only\trival only\tneither\tAPI two after verdicts\ttick predicts two\trival during owner's hook")
	for _, h := range hooks {
		for _, d := range delays {
			c := cells[[2]time.Duration{h, d}]
			fmt.Fprintf(tw, "%v\t%v\t%d/%d\t%d\t%d\t%d\t%d\t%d\t%d\n", h, d, c.both, trials, c.ownerOnly, c.rivalOnly, c.none, c.apiTwo, c.predicted, c.inHook)
		}
	}
	tw.Flush()
	fmt.Printf("\ncleanup ticks logged: %d; the tick rule (a tick between the first lookup and min(first accepted, second lookup)) predicts %d of %d trials right\n",
		len(lv.ticks), right, len(all))
	slices.Sort(twos)
	for _, s := range twos {
		fmt.Println("  two accepted:", s)
	}
}
