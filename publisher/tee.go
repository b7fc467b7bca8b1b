package publisher

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"time"

	ffmpeg "github.com/u2takey/ffmpeg-go"
)

// teeSlaveOptions are every tee output's options: FLV over RTMP, and a failed output is dropped
// while the others go on (the default would end the whole process with it).
const teeSlaveOptions = "[f=flv:onfail=ignore]"

// fifoOptions are each parallel output's fifo muxer's: a full queue (60 packets, about 1.4 s of the
// clip) drops that output's packets instead of blocking the process, and a failed output is not
// reopened (its publisher reconnects as its own process, as its group allows).
const fifoOptions = "drop_pkts_on_overflow=1"

// TeeArgs is the command line (without the program name) of one ffmpeg that publishes the clip to
// every URL at once through ffmpeg's tee muxer: the clip is read and demuxed once, and each URL is
// ffmpeg's own RTMP connection (its own handshake, publish and media), as a separate ffmpeg's
// would be.
//
// With parallel, each output sits behind its own fifo muxer (tee's use_fifo): a thread per output
// opens it (all at once) and writes its media from a queue, which drops packets for that output
// alone when it falls behind, so one slow or stalled output does not hold up the others. ffmpeg
// then never says that an output opened (tee's "filename:" line comes at once for all): the
// caller learns it from the wire. Without parallel, tee opens its outputs one after another, in
// order, says when each opened, and sends media to none until all are open or have failed: the
// first one waits for the last (docs/benchmarks-history.md, "fan-out").
//
// The log level is verbose with level tags: tee says which output each of its lines is about
// only at that level (an output that opened shows as "filename:'URL'"), and TeeParser needs that
// to keep one message and one stderr tail per output.
func TeeArgs(clip string, urls []string, parallel bool) []string {
	out := ffmpeg.KwArgs{"map": "0", "c": "copy", "f": "tee"}
	if parallel {
		out["use_fifo"], out["fifo_options"] = "1", fifoOptions
	}
	return ffmpeg.Input(clip, ffmpeg.KwArgs{"re": "", "stream_loop": "-1"}).
		Output(TeeSpec(urls), out).
		GlobalArgs("-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+verbose",
			"-progress", "pipe:1", "-stats_period", ProgressPeriod).
		GetArgs()
}

// TeeSpec is the tee muxer's output string for urls: "[f=flv:onfail=ignore]URL1|[...]URL2|...".
func TeeSpec(urls []string) string {
	var b strings.Builder
	for i, u := range urls {
		if i > 0 {
			b.WriteByte('|')
		}
		b.WriteString(teeSlaveOptions)
		b.WriteString(teeEscape(u))
	}
	return b.String()
}

// teeEscape escapes a URL for the tee muxer. tee splits its output string into outputs with
// libavutil's av_get_token: a backslash takes the next character literally, a single quote
// starts a quoted run, '|' ends the output, and leading or trailing white space is dropped. The
// options block is already closed when the URL starts, so '[', ']', ':' and '=' in the URL
// (an IPv6 host, a token in the query) need nothing.
func teeEscape(u string) string {
	if !strings.ContainsAny(u, "\\'| \t\r\n") {
		return u
	}
	var b strings.Builder
	for _, r := range u {
		switch r {
		case '\\', '\'', '|', ' ', '\t', '\r', '\n':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Output is what one output of a tee process (one RTMP connection) did, as ffmpeg told it.
type Output struct {
	Index int
	URL   string
	// Opened is when ffmpeg reported the output open: for RTMP, the server has answered the
	// publish command with Publish.Start. Zero if it never opened.
	Opened time.Time
	// Failed is when tee gave up on the output (it could not open, or a write failed); zero if it
	// lasted as long as the process.
	Failed time.Time
	// Message is ffmpeg's own line about the output's failure ("" if none), e.g.
	// "Slave '[f=flv:onfail=ignore]rtmp://.../live/a?rtmpload=r-3': error opening: Input/output error".
	Message string
	// StderrTail holds the last lines ffmpeg printed about this output.
	StderrTail []string
}

// Lines of ffmpeg 5.1's tee muxer and of the libraries under it (libavformat/tee.c):
//
//	[tee @ 0x..] [verbose] filename:'rtmp://...' format:flv                (an output opened)
//	[tee @ 0x..] [error] Slave '[f=flv:onfail=ignore]rtmp://...': error opening: Connection refused
//	[tee @ 0x..] [error] Slave muxer #1 failed: Broken pipe, continuing with 2/3 slaves.
//	[tcp @ 0x..] [error] Connection to tcp://127.0.0.1:19999?tcp_nodelay=0 failed: Connection refused
//	[fifo @ 0x..] [error] Error opening rtmp://...: Input/output error      (parallel: use_fifo)
var (
	logPrefix     = regexp.MustCompile(`^\[([A-Za-z0-9_]+) @ (0x[0-9a-f]+)\] (?:\[([a-z]+)\] )?`)
	levelOnly     = regexp.MustCompile(`^\[([a-z]+)\] `)
	teeOpened     = regexp.MustCompile(`^filename:'(.*)' format:`)
	teeSlaveErr   = regexp.MustCompile(`^Slave '(.*)': (.*)$`)
	teeMuxerFail  = regexp.MustCompile(`^Slave muxer #(\d+) failed: (.*?)(?:, continuing with \d+/\d+ slaves\.)?$`)
	fifoOpenErr   = "Error opening "
	outputContext = map[string]bool{"tcp": true, "rtmp": true, "rtmps": true, "rtmpt": true, "rtmpe": true, "tls": true, "flv": true}
)

// TeeParser reads a tee process's stderr line by line and tells each line's output apart.
// ffmpeg opens the outputs in order, so until every output has opened or failed, the lines of
// the network layers ([tcp @ ...], [rtmp @ ...]) are about the output being opened; later, a
// line of a context seen while an output was opened is about that output. Lines it cannot
// place stay in the process's own tail only.
//
// Parallel outputs (TeeArgs with parallel) open at once, each in a thread of its own: no line
// says that one opened, and the network layers' lines cannot be placed. An output's failure is
// still its own: its fifo's "Error opening URL: ..." and tee's "Slave muxer #i failed".
type TeeParser struct {
	outs     []Output
	nlines   int
	parallel bool
	cur      int            // the output being opened; len(outs) once all are resolved
	started  bool           // a network layer has spoken: the outputs' opening has begun
	ctxOut   map[string]int // "rtmp@0x..." -> output, learnt while outputs were opened
	// OnChange, if set, is called when an output opens or fails, with a copy of it.
	OnChange func(Output)
}

// NewTeeParser follows the outputs urls (in the order given to TeeArgs, with the same parallel),
// keeping up to nlines lines per output.
func NewTeeParser(urls []string, nlines int, parallel bool) *TeeParser {
	p := &TeeParser{outs: make([]Output, len(urls)), nlines: nlines, parallel: parallel, ctxOut: make(map[string]int)}
	for i, u := range urls {
		p.outs[i] = Output{Index: i, URL: u}
	}
	if parallel {
		p.cur = len(urls) // no output is opened in turn
	}
	return p
}

// Outputs returns a copy of every output's state.
func (p *TeeParser) Outputs() []Output {
	out := make([]Output, len(p.outs))
	for i, o := range p.outs {
		o.StderrTail = append([]string(nil), o.StderrTail...)
		out[i] = o
	}
	return out
}

// Line takes one line of stderr, read at the given time.
func (p *TeeParser) Line(at time.Time, line []byte) {
	s := string(line)
	m := logPrefix.FindStringSubmatch(s)
	if m == nil {
		if strings.HasPrefix(strings.TrimPrefix(s, levelOnlyPrefix(s)), "Output #0, tee") {
			p.resolveAll()
		}
		return
	}
	ctx, ptr, msg := m[1], m[2], s[len(m[0]):]
	if ctx == "tee" {
		p.teeLine(at, s, msg)
		return
	}
	if ctx == "fifo" {
		p.fifoLine(at, s, ctx+"@"+ptr, msg)
		return
	}
	if !outputContext[ctx] {
		return
	}
	key := ctx + "@" + ptr
	if p.cur < len(p.outs) && (p.started || ctx != "flv") {
		// The outputs are being opened (the input's own flv demuxer speaks before that).
		p.started = true
		p.ctxOut[key] = p.cur
		p.add(p.cur, s)
		return
	}
	if i, ok := p.ctxOut[key]; ok {
		p.add(i, s)
	}
}

func levelOnlyPrefix(s string) string {
	if m := levelOnly.FindString(s); m != "" {
		return m
	}
	return ""
}

// fifoLine places a line of a parallel output's fifo muxer: the first that names the output's
// URL ties the fifo to it.
func (p *TeeParser) fifoLine(at time.Time, line, key, msg string) {
	if rest, ok := strings.CutPrefix(msg, fifoOpenErr); ok {
		for i, o := range p.outs {
			if strings.HasPrefix(rest, o.URL+": ") {
				p.ctxOut[key] = i
				p.add(i, line)
				p.fail(i, at, msg)
				return
			}
		}
	}
	if i, ok := p.ctxOut[key]; ok {
		p.add(i, line)
	}
}

func (p *TeeParser) teeLine(at time.Time, line, msg string) {
	if m := teeOpened.FindStringSubmatch(msg); m != nil {
		i := p.find(m[1])
		if i < 0 {
			return
		}
		p.add(i, line)
		if p.parallel {
			return // the output is set up, not open: its fifo opens it
		}
		if p.outs[i].Opened.IsZero() && p.outs[i].Failed.IsZero() {
			p.outs[i].Opened = at
			p.changed(i)
		}
		p.resolved(i)
		return
	}
	if m := teeSlaveErr.FindStringSubmatch(msg); m != nil {
		spec := m[1]
		if _, url, ok := strings.Cut(spec, "]"); ok && strings.HasPrefix(spec, "[") {
			spec = url
		}
		i := p.find(spec)
		if i < 0 {
			return
		}
		p.add(i, line)
		p.fail(i, at, msg)
		p.resolved(i)
		return
	}
	if m := teeMuxerFail.FindStringSubmatch(msg); m != nil {
		i, err := strconv.Atoi(m[1])
		if err != nil || i < 0 || i >= len(p.outs) {
			return
		}
		p.add(i, line)
		p.fail(i, at, msg)
		p.resolved(i)
	}
}

// find is the output whose URL is url: the one being opened if it matches (outputs are opened
// in order), else any.
func (p *TeeParser) find(url string) int {
	if p.cur < len(p.outs) && p.outs[p.cur].URL == url {
		return p.cur
	}
	for i, o := range p.outs {
		if o.URL == url {
			return i
		}
	}
	return -1
}

// resolved notes that output i has opened or failed: the next one is being opened.
func (p *TeeParser) resolved(i int) {
	if i == p.cur {
		p.cur++
	}
}

// resolveAll ends the opening of the outputs: tee has announced its output.
func (p *TeeParser) resolveAll() { p.cur = len(p.outs) }

func (p *TeeParser) fail(i int, at time.Time, msg string) {
	o := &p.outs[i]
	if !o.Failed.IsZero() {
		return // "Slave muxer #i failed" follows "Slave '...': error opening": the first says more
	}
	o.Failed, o.Message = at, msg
	p.changed(i)
}

func (p *TeeParser) changed(i int) {
	if p.OnChange != nil {
		o := p.outs[i]
		o.StderrTail = append([]string(nil), o.StderrTail...)
		p.OnChange(o)
	}
}

func (p *TeeParser) add(i int, line string) {
	t := tail{lines: p.outs[i].StderrTail, n: p.nlines}
	t.add([]byte(line))
	p.outs[i].StderrTail = t.lines
}

// unopened is the outputs of a process that never ran.
func unopened(urls []string) []Output {
	if len(urls) == 0 {
		return nil
	}
	out := make([]Output, len(urls))
	for i, u := range urls {
		out[i] = Output{Index: i, URL: u}
	}
	return out
}

// isVerbose tells a line ffmpeg prints only at -loglevel verbose (by the level flag's tag).
func isVerbose(line []byte) bool {
	return bytes.HasPrefix(line, []byte("[verbose] ")) || bytes.Contains(line, []byte("] [verbose] "))
}
