package scenarios

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Names, params and counts that would fail only once ffmpeg runs (or never
// say so) are refused at load, with file:line:col and a short message.
func TestParseBoundsWhatReachesTheURL(t *testing.T) {
	group := func(lines string) []byte {
		return []byte("name: x\nduration: 6s\npublishers:\n  - group: g\n" + lines)
	}
	huge := strings.Repeat("a", MaxFileBytes-200) // a file just within MaxFileBytes
	cases := []struct {
		name, yaml, want string
		line             int
	}{
		{"1 MB name", "    count: 2\n    name: " + huge + "\n", "expands to 1048376 bytes: at most 255", 6},
		{"256-byte name", "    count: 2\n    name: " + strings.Repeat("n", 256) + "\n", "at most 255", 6},
		{"padding past 255", "    count: 2\n    name: \"" + strings.Repeat("n", 240) + "{i:020}\"\n", "expands to 260 bytes", 6},
		{"long param", "    count: 2\n    name: cam-{i}\n    param: token=" + strings.Repeat("t", 900) + "\n", "ffmpeg's RTMP client cuts it at 1023", 7},
		{"count 1.5", "    count: 1.5\n    name: cam-{i}\n", `"1.5" is not a whole number`, 5},
		{"count as text", "    count: two\n    name: cam-{i}\n", "not a whole number", 5},
		{"reconnect max 0.5", "    count: 1\n    name: cam\n    reconnect: {delay: 1s, max: 0.5}\n", "not a whole number", 7},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("s.yaml", group(c.yaml))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %.200v, want a ParseError", err)
			}
			if !strings.Contains(pe.Message, c.want) || pe.Line != c.line {
				t.Errorf("error %.300q at line %d, want %q at line %d", pe.Error(), pe.Line, c.want, c.line)
			}
			if len(pe.Error()) > 400 || len(pe.Excerpt) > 2000 {
				t.Errorf("error of %d bytes, excerpt of %d: a bad value must not be echoed whole", len(pe.Error()), len(pe.Excerpt))
			}
		})
	}
	if _, err := Parse("s.yaml", group("    count: 1000\n    name: \""+strings.Repeat("n", 251)+"{i}\"\n")); err != nil {
		t.Errorf("a name of exactly 255 bytes at its widest: %v", err)
	}
}

func TestMaxLen(t *testing.T) {
	for _, c := range []struct {
		pattern string
		count   int
		want    int
	}{
		{"cam-{i}", 1, 5}, {"cam-{i}", 1000, 7}, {"cam-{i:05}", 10, 9}, {"cam-{i%3}", 100000, 5}, {"{i%1000:02}", 50, 2},
	} {
		p, err := compilePattern(c.pattern)
		if err != nil {
			t.Fatal(err)
		}
		widest := 0
		for i := range c.count {
			widest = max(widest, len(p.expand(i)))
		}
		if got := p.maxLen(c.count); got != c.want || got != widest {
			t.Errorf("%s over %d: maxLen %d, widest expansion %d, want %d", c.pattern, c.count, got, widest, c.want)
		}
	}
}

// Crafted files that cost the YAML parser gigabytes, or the run a schedule
// of millions, end in one error with a position: the size of the file, the
// depth of [ ] and { }, the aliases, the tokens, the publishers of all
// groups together.
func TestParseBoundsTheFile(t *testing.T) {
	var groups strings.Builder
	groups.WriteString("name: x\nduration: 6s\npublishers:\n")
	for i := range 2000 {
		fmt.Fprintf(&groups, "  - {group: g%d, count: 100000, name: \"s%d-{i}\"}\n", i, i)
	}
	var aliases strings.Builder
	aliases.WriteString("name: &n x\nduration: 6s\nexpect: [")
	for range MaxAliases + 1 {
		aliases.WriteString("*n, ")
	}
	aliases.WriteString("]\n")
	cases := []struct {
		name, yaml, want string
		line             int
	}{
		{"over 1 MiB", "name: x\n" + strings.Repeat("#", MaxFileBytes), "at most 1048576 (1 MiB)", 1},
		{"100,000 nested [", "name: x\nduration: 6s\ndescription: " + strings.Repeat("[", 100000) + "\n", "nest more than 64 deep here", 3},
		{"65 nested {", "name: x\nduration: 6s\nhook: " + strings.Repeat("{a: ", 65) + "\n", "nest more than 64 deep", 3},
		{"2,000 groups of 100,000", groups.String(), `group "g1": count 100000 brings the publishers of all groups to 200000: at most 100000 in all`, 5},
		{"aliases", aliases.String(), "more than 1000 aliases", 3},
		{"tokens", "name: x\nexpect:\n" + strings.Repeat("- a\n", MaxTokens), "more than 100000 YAML tokens", MaxTokens / 2},
		// goccy/go-yaml's own excerpt of this line would take minutes.
		{"a line of 40,000 items", "name: x\nexpect: [" + strings.Repeat("a, ", 40000) + "a]\n", "duration is required", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("s.yaml", []byte(c.yaml))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %.200v, want a ParseError", err)
			}
			if !strings.Contains(pe.Message, c.want) || pe.Line != c.line {
				t.Errorf("error %.300q at line %d, want %q at line %d", pe.Error(), pe.Line, c.want, c.line)
			}
			if strings.Contains(pe.Error(), "\n") || len(pe.Error()) > 400 || len(pe.Excerpt) > 2000 {
				t.Errorf("error of %d bytes, excerpt of %d: want one short line", len(pe.Error()), len(pe.Excerpt))
			}
		})
	}
	within := "name: x\nduration: 6s\npublishers:\n  - {group: a, count: 60000, name: \"a{i}\"}\n  - {group: b, count: 40000, name: \"b{i}\"}\n"
	if _, err := Parse("s.yaml", []byte(within)); err != nil {
		t.Errorf("100,000 publishers in all: %v", err)
	}
	if _, err := Parse("s.yaml", []byte("name: x\nduration: 6s\ndescription: "+strings.Repeat("[", 64)+strings.Repeat("]", 64)+"\n")); err == nil || strings.Contains(err.Error(), "deep") {
		t.Errorf("64 nested [: %v, want an error other than the depth's (a list is not a description)", err)
	}
}

// The excerpt of a problem shows the lines around it, numbered, with a
// caret under the column; a long line is cut around the column.
func TestExcerpt(t *testing.T) {
	_, err := Parse("s.yaml", []byte("name: x\nduration: 6s\npublishers:\n  - group: g\n    count: 0\n    name: n\n    param: p\n    start: 1s\n"))
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err %v", err)
	}
	want := "   2 | duration: 6s\n   3 | publishers:\n   4 |   - group: g\n>  5 |     count: 0\n           ^\n   6 |     name: n\n   7 |     param: p"
	if pe.Excerpt != want {
		t.Errorf("excerpt\n%s\nwant\n%s", pe.Excerpt, want)
	}
	long := "name: x\nduration: 6s\npublishers: [{group: g, count: 1, name: n}]\nexpect: [" + strings.Repeat("rate(ok) >= 0.5, ", 100) + "rate(ok) >= x]\n"
	_, err = Parse("s.yaml", []byte(long))
	if !errors.As(err, &pe) {
		t.Fatalf("err %v", err)
	}
	lines := strings.Split(pe.Excerpt, "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[3], ">  4 | ...") ||
		len(lines[3]) > maxExcerptLine+20 || !strings.Contains(lines[3][strings.Index(lines[4], "^"):], "rate(ok) >= x]") {
		t.Errorf("excerpt of a long line:\n%s", pe.Excerpt)
	}
}

// Load reads at most MaxFileBytes (/dev/zero ends at once, with an error
// that names the limit) and gives up when ctx ends, be the file a FIFO no
// one writes to or one whose writer never ends.
func TestLoadBoundsTheRead(t *testing.T) {
	for _, dev := range []string{"/dev/zero", "/dev/urandom"} {
		if _, err := Load(t.Context(), dev); err == nil || !strings.Contains(err.Error(), "larger than 1048576 bytes (1 MiB)") {
			t.Errorf("Load(%s) = %v, want the size limit", dev, err)
		}
	}
	for _, writer := range []bool{false, true} {
		fifo := filepath.Join(t.TempDir(), "fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		if writer {
			// A writer that never writes nor closes: the read waits.
			w, err := os.OpenFile(fifo, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			_, err := Load(ctx, fifo)
			done <- err
		}()
		time.Sleep(50 * time.Millisecond) // let it wait in the open or the read
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("writer %v: Load = %v, want context.Canceled", writer, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("writer %v: Load did not return within 10 s of the cancel", writer)
		}
		if !writer {
			// The open still waits: a writer lets it end.
			if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
				w.Close()
			}
		}
	}
}
