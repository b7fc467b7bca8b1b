package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/rtmpload/rtmpload/hook"
	"github.com/rtmpload/rtmpload/scenarios"
	"github.com/rtmpload/rtmpload/schema"
)

// defaultHookListen is the seed's callback port (docs/srs-behaviour.md, "The
// seed's configuration"), so an existing SRS config points at rtmpload hook
// unchanged.
const defaultHookListen = "127.0.0.1:48080"

func hookCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("hook", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: rtmpload hook [flags]\n\nA standalone on_publish callback server for SRS and nginx-rtmp. Ctrl-C stops it and prints a summary.\n\nFlags:\n%s", fs.FlagUsages())
	}
	listen := fs.String("listen", defaultHookListen, "listen address")
	mode := schema.HookAllow
	fs.Var(&mode, "mode", "allow, deny or conflict (deny a name that is already live)")
	latency := fs.Duration("latency", 0, "answer every call after this long")
	faultSpecs := fs.StringArray("fault", nil, `fault window over the time since start, e.g. "at=20s,for=10s,kind=down" (repeatable; kind: down, deny, garbage, status:N, delay:D, flap:P; action=publish or action=play limits it to one side)`)
	scenario := fs.String("scenario", "", "take hook.mode, hook.latency and hook.faults from a scenario (file or built-in name); flags given override them")
	proxy := fs.String("proxy", "", "forward every call to this callback service URL and relay its answers (mode is ignored)")
	printConfig := fs.String("print-config", "", "print the srs or nginx config snippet pointing at this hook and exit")
	jsonOnly := fs.Bool("json", false, "log JSON lines even on a terminal")
	secrets := secretFlags(fs)
	if err := fs.Parse(args); err != nil {
		return fail(stderr, err)
	}
	if err := secrets(); err != nil {
		return fail(stderr, err)
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitSetup
	}
	if *printConfig != "" {
		snippet, err := hookConfig(*printConfig, *listen)
		if err != nil {
			return fail(stderr, err)
		}
		fmt.Fprint(stdout, snippet)
		return exitOK
	}

	var faults []hook.Fault
	if *scenario != "" {
		sc, err := scenarios.Resolve(ctx, *scenario)
		if err != nil && ctx.Err() != nil {
			fmt.Fprintf(stderr, "rtmpload: %v: the hook was not started\n", err)
			return exitAborted
		}
		if err != nil {
			return fail(stderr, err)
		}
		if !fs.Changed("mode") {
			mode = sc.Hook.Mode
		}
		if !fs.Changed("latency") {
			*latency = sc.Hook.Latency
		}
		faults = append(faults, sc.Hook.Faults...)
	}
	for _, spec := range *faultSpecs {
		f, err := parseFaultFlag(spec)
		if err != nil {
			return fail(stderr, err)
		}
		faults = append(faults, f)
	}

	lg := &hookLog{out: stdout, readable: !*jsonOnly && isTerminal(stdout), sum: newHookSummary()}
	s, err := hook.Start(hook.Config{
		Listen: *listen, Mode: mode, Latency: *latency, Faults: faults, Upstream: *proxy,
		OnCall: lg.call, OnState: lg.state,
	})
	if err != nil {
		return fail(stderr, err)
	}
	what := "mode " + string(mode)
	if *proxy != "" {
		what = "proxy to " + *proxy
	}
	fmt.Fprintf(stderr, "rtmpload hook: %s on %s (on_publish %s), %d fault window(s); Ctrl-C stops\n", what, s.Addr(), s.OnPublishURL(), len(faults))
	s.Arm(time.Now())

	<-ctx.Done()
	closeErr := s.Close()
	lg.sum.write(stderr, s.Live())
	if closeErr != nil {
		fmt.Fprintf(stderr, "rtmpload: %v\n", closeErr)
	}
	return exitOK
}

// parseFaultFlag reads "at=20s,for=10s,kind=down".
func parseFaultFlag(spec string) (hook.Fault, error) {
	bad := func(why string) (hook.Fault, error) {
		return hook.Fault{}, fmt.Errorf("--fault %q: %s (want at=20s,for=10s,kind=down)", spec, why)
	}
	var at, dur, kind, action string
	for part := range strings.SplitSeq(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return bad(fmt.Sprintf("%q is not name=value", part))
		}
		switch k {
		case "at":
			at = v
		case "for":
			dur = v
		case "kind":
			kind = v
		case "action":
			action = v
		default:
			return bad(fmt.Sprintf("unknown key %q", k))
		}
	}
	if kind == "" || dur == "" {
		return bad("kind and for are required")
	}
	f, err := hook.ParseFault(kind)
	if err != nil {
		return bad(err.Error())
	}
	if f.Action, err = hook.ParseFaultAction(action); err != nil {
		return bad(err.Error())
	}
	if at != "" {
		d, err := scenarios.ParseDuration(at)
		if err != nil {
			return bad(err.Error())
		}
		f.At = time.Duration(d)
	}
	d, err := scenarios.ParseDuration(dur)
	if err != nil || d == 0 {
		return bad("for must be a duration greater than 0")
	}
	f.For = time.Duration(d)
	return f, nil
}

// hookConfig is the server's config snippet that points at a hook on
// listen. An unspecified host is written as loopback, which is where the
// server reaches it when both run on one machine.
func hookConfig(kind, listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("--listen %q: want host:port: %w", listen, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p == 0 {
		return "", fmt.Errorf("--print-config needs a fixed port in --listen, not %q", listen)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	base := "http://" + net.JoinHostPort(host, port)
	pub, unpub := base+hook.OnPublishPath, base+hook.OnUnpublishPath
	switch kind {
	case "srs":
		return fmt.Sprintf(`# srs.conf: SRS calls rtmpload hook on every publish
vhost __defaultVhost__ {
    http_hooks {
        enabled      on;
        on_publish   %s;
        on_unpublish %s;
    }
}
`, pub, unpub), nil
	case "nginx":
		return fmt.Sprintf(`# nginx.conf, inside rtmp { server { ... } }: nginx-rtmp calls rtmpload hook on every publish
application live {
    live on;
    on_publish      %s;
    on_publish_done %s;
}
`, pub, unpub), nil
	}
	return "", fmt.Errorf("--print-config %q: want srs or nginx", kind)
}

// hookLog writes each call and state change as it happens. Calls arrive
// concurrently, so lines are written under a lock to stay whole.
type hookLog struct {
	mu       sync.Mutex
	out      io.Writer
	readable bool
	sum      *hookSummary
}

type callLine struct {
	Type      string  `json:"type"` // "call"
	LatencyMS float64 `json:"latency_ms"`
	hook.Call
}

type stateLine struct {
	Type string `json:"type"` // "state"
	hook.StateChange
}

func (l *hookLog) call(c hook.Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sum.add(c)
	lat := c.Answered.Sub(c.Arrived)
	if l.readable {
		verdict := c.Verdict
		if c.Canceled {
			verdict = "canceled"
		}
		line := fmt.Sprintf("%s %-12s %s/%s client=%s", c.Arrived.Format("15:04:05.000"), c.Action, c.App, c.Stream, c.ClientID)
		if c.Attempt != "" {
			line += " attempt=" + c.Attempt
		}
		line += fmt.Sprintf(" -> %s %d in %s", verdict, c.Status, lat.Round(time.Microsecond))
		if c.Fault != "" {
			line += " [fault " + c.Fault + "]"
		}
		if c.LiveOwner != "" {
			line += " (duplicate: live by client " + c.LiveOwner + ")"
		}
		if c.Reason != "" {
			line += ": " + c.Reason
		}
		// Stream, app, client id and param come from the request: a
		// terminal must not obey escape sequences in them.
		fmt.Fprintln(l.out, schema.TermSafe(line))
		return
	}
	l.json(callLine{Type: "call", LatencyMS: float64(lat.Microseconds()) / 1000, Call: c})
}

func (l *hookLog) state(c hook.StateChange) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.readable {
		side := "callback"
		if c.Action != "" {
			side = c.Action + " callback" // a window targets one side: each reports its own
		}
		line := fmt.Sprintf("%s %s %s", c.At.Format("15:04:05.000"), side, c.State)
		if c.Fault != "" {
			line += " [fault " + c.Fault + "]"
		}
		if c.Detail != "" {
			line += ": " + c.Detail
		}
		fmt.Fprintln(l.out, schema.TermSafe(line))
		return
	}
	l.json(stateLine{Type: "state", StateChange: c})
}

func (l *hookLog) json(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"type":"error","error":%q}`, err.Error()))
	}
	l.out.Write(append(b, '\n'))
}

// hookSummary is bounded whatever the number of calls: counters and a
// histogram, no list of calls.
type hookSummary struct {
	actions, verdicts map[string]int
	conflicts         int
	latency           *hdrhistogram.Histogram // microseconds
}

// maxSummaryActions bounds the distinct actions the summary counts apart.
const maxSummaryActions = 32

func newHookSummary() *hookSummary {
	return &hookSummary{
		actions: map[string]int{}, verdicts: map[string]int{},
		latency: hdrhistogram.New(1, int64(10*time.Minute/time.Microsecond), 3),
	}
}

func (h *hookSummary) add(c hook.Call) {
	action := string(c.Action)
	if action == "" {
		action = "(unreadable)"
	}
	if _, seen := h.actions[action]; !seen && len(h.actions) >= maxSummaryActions {
		// Actions are the caller's words: a bounded summary lumps the rest.
		action = "(other)"
	}
	h.actions[action]++
	verdict := c.Verdict
	if c.Canceled {
		verdict = "canceled"
	}
	h.verdicts[verdict]++
	if c.Action == schema.ActionPublish && c.LiveOwner != "" {
		h.conflicts++
	}
	// Values past the histogram's range are clamped to its top.
	us := min(c.Answered.Sub(c.Arrived).Microseconds(), h.latency.HighestTrackableValue())
	h.latency.RecordValue(max(us, 0))
}

func (h *hookSummary) write(w io.Writer, live []string) {
	total := 0
	for _, n := range h.actions {
		total += n
	}
	fmt.Fprintf(w, "rtmpload hook: %d calls\n", total)
	counts := func(title string, m map[string]int) {
		parts := []string{}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
		if len(parts) == 0 {
			parts = []string{"none"}
		}
		fmt.Fprintf(w, "  %-10s %s\n", title+":", schema.TermSafe(strings.Join(parts, ", ")))
	}
	counts("calls", h.actions)
	counts("answers", h.verdicts)
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	if total > 0 {
		fmt.Fprintf(w, "  %-10s p50 %s, p95 %s, max %s\n", "latency:",
			us(h.latency.ValueAtQuantile(50)), us(h.latency.ValueAtQuantile(95)), us(h.latency.Max()))
	}
	fmt.Fprintf(w, "  %-10s %d", "live:", len(live))
	if len(live) > 0 {
		fmt.Fprintf(w, " (%s)", schema.TermSafe(strings.Join(live, ", ")))
	}
	fmt.Fprintf(w, "\n  %-10s %d (an on_publish for a name already live)\n", "conflicts:", h.conflicts)
}
