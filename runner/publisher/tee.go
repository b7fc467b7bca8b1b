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

// TeeArgs is the command line (without the program name) of one ffmpeg that publishes the clip to
// every URL at once through ffmpeg's tee muxer: the clip is read and demuxed once, and each URL is
// ffmpeg's own RTMP connection (its own handshake, publish and media), as a separate ffmpeg's
// would be. Outputs are opened one after another, in order; media flows once all are open or
// have failed (docs/benchmarks.md, "Fan-out").
//
// The log level is verbose with level tags: tee says which output each of its lines is about
// only at that level (an output that opened shows as "filename:'URL'"), and TeeParser needs that
// to keep one message and one stderr tail per output.
func TeeArgs(clip string, urls []string) []string {
	return ffmpeg.Input(clip, ffmpeg.KwArgs{"re": "", "stream_loop": "-1"}).
		Output(TeeSpec(urls), ffmpeg.KwArgs{"map": "0", "c": "copy", "f": "tee"}).
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
var (
	logPrefix     = regexp.MustCompile(`^\[([A-Za-z0-9_]+) @ (0x[0-9a-f]+)\] (?:\[([a-z]+)\] )?`)
	levelOnly     = regexp.MustCompile(`^\[([a-z]+)\] `)
	teeOpened     = regexp.MustCompile(`^filename:'(.*)' format:`)
	teeSlaveErr   = regexp.MustCompile(`^Slave '(.*)': (.*)$`)
	teeMuxerFail  = regexp.MustCompile(`^Slave muxer #(\d+) failed: (.*?)(?:, continuing with \d+/\d+ slaves\.)?$`)
	outputContext = map[string]bool{"tcp": true, "rtmp": true, "rtmps": true, "rtmpt": true, "rtmpe": true, "tls": true, "flv": true}
)

// TeeParser reads a tee process's stderr line by line and tells each line's output apart.
// ffmpeg opens the outputs in order, so until every output has opened or failed, the lines of
// the network layers ([tcp @ ...], [rtmp @ ...]) are about the output being opened; later, a
// line of a context seen while an output was opened is about that output. Lines it cannot
// place stay in the process's own tail only.
type TeeParser struct {
	outs    []Output
	nlines  int
	cur     int            // the output being opened; len(outs) once all are resolved
	started bool           // a network layer has spoken: the outputs' opening has begun
	ctxOut  map[string]int // "rtmp@0x..." -> output, learnt while outputs were opened
	// OnChange, if set, is called when an output opens or fails, with a copy of it.
	OnChange func(Output)
}

// NewTeeParser follows the outputs urls (in the order given to TeeArgs), keeping up to nlines
// lines per output.
func NewTeeParser(urls []string, nlines int) *TeeParser {
	p := &TeeParser{outs: make([]Output, len(urls)), nlines: nlines, ctxOut: make(map[string]int)}
	for i, u := range urls {
		p.outs[i] = Output{Index: i, URL: u}
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

func (p *TeeParser) teeLine(at time.Time, line, msg string) {
	if m := teeOpened.FindStringSubmatch(msg); m != nil {
		i := p.find(m[1])
		if i < 0 {
			return
		}
		p.add(i, line)
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
