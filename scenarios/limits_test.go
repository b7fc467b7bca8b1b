package scenarios

import (
	"errors"
	"strings"
	"testing"
)

// Names, params and counts that would fail only once ffmpeg runs (or never
// say so) are refused at load, with file:line:col and a short message.
func TestParseBoundsWhatReachesTheURL(t *testing.T) {
	group := func(lines string) []byte {
		return []byte("name: x\nduration: 6s\npublishers:\n  - group: g\n" + lines)
	}
	huge := strings.Repeat("a", 1<<20)
	cases := []struct {
		name, yaml, want string
		line             int
	}{
		{"1 MB name", "    count: 2\n    name: " + huge + "\n", "expands to 1048576 bytes: at most 255", 6},
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
