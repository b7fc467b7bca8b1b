package publisher

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxLine bounds every line kept from ffmpeg's output: a megabyte-long line costs no more memory
// than a short one.
const maxLine = 512

// Progress is one -progress block of ffmpeg.
type Progress struct {
	At        time.Time // when the block's last line was read
	Frame     int64
	TotalSize int64 // bytes written to the output
	OutTimeUS int64
	Speed     float64 // 1.0 = real time; 0 when ffmpeg says N/A
	End       bool    // progress=end: ffmpeg is finishing
}

// eachLine calls fn with every line of r, without its line ending and cut at max bytes. The
// bufio.Reader's buffer is the only memory used, however long a line is.
func eachLine(r io.Reader, max int, fn func(line []byte)) error {
	br := bufio.NewReader(r)
	line := make([]byte, 0, max)
	for {
		chunk, err := br.ReadSlice('\n')
		if n := min(len(chunk), max-len(line)); n > 0 {
			line = append(line, chunk[:n]...)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == nil:
			fn(bytes.TrimRight(line, "\r\n"))
			line = line[:0]
		default:
			if len(line) > 0 {
				fn(bytes.TrimRight(line, "\r\n"))
			}
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// tail keeps the last n lines given to it.
type tail struct {
	lines []string
	n     int
}

func (t *tail) add(line []byte) {
	if len(t.lines) == t.n {
		t.lines = append(t.lines[:0], t.lines[1:]...)
	}
	t.lines = append(t.lines, string(line))
}

// progressParser assembles key=value lines into Progress blocks.
type progressParser struct {
	cur   Progress
	now   func() time.Time
	block func(Progress)
}

func (p *progressParser) line(line []byte) {
	key, value, ok := strings.Cut(string(line), "=")
	if !ok {
		return
	}
	value = strings.TrimSpace(value)
	// ffmpeg writes N/A for values it does not know yet; those stay 0.
	num := func() int64 {
		n, _ := strconv.ParseInt(value, 10, 64)
		return n
	}
	switch key {
	case "frame":
		p.cur.Frame = num()
	case "total_size":
		p.cur.TotalSize = num()
	case "out_time_us":
		p.cur.OutTimeUS = num()
	case "speed":
		p.cur.Speed, _ = strconv.ParseFloat(strings.TrimSuffix(value, "x"), 64)
	case "progress":
		p.cur.End = value == "end"
		p.cur.At = p.now()
		p.block(p.cur)
		p.cur = Progress{}
	}
}

// specificErrors are the errors ffmpeg reports for a failed publish
// (docs/srs-behaviour.md, "What a refused publisher sees" and "nginx-rtmp"); any
// other line with "error" in it is a weaker candidate.
var specificErrors = []string{"Input/output error", "Connection refused", "Operation not permitted"}

// bestMessage picks ffmpeg's own error line from the tail. A line naming the URL
// ("rtmp://...: Input/output error") says most; among equals the latest wins, because ffmpeg
// prints the cause of its exit last (after e.g. "[tcp @ ...] Connection to tcp://... failed").
func bestMessage(lines []string) string {
	best, bestScore := "", 0
	for _, l := range lines {
		score := 0
		switch {
		case slices.ContainsFunc(specificErrors, func(m string) bool { return strings.Contains(l, m) }):
			score = 4
		case strings.Contains(l, "Error"), strings.Contains(l, "error"):
			score = 2
		default:
			continue
		}
		if strings.Contains(l, "://") {
			score++
		}
		if score >= bestScore {
			best, bestScore = l, score
		}
	}
	return strings.TrimSpace(best)
}
