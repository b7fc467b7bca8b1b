package schema

import (
	"bytes"
	"testing"
)

func TestTermSafe(t *testing.T) {
	for in, want := range map[string]string{
		"cam-01":             "cam-01",
		"tab\tand\nnewline":  "tab\tand\nnewline",
		"\x1b]0;owned\x07":   `\x1b]0;owned\x07`,
		"\x1b[2J\x1b[31mred": `\x1b[2J\x1b[31mred`,
		"csi\u009b31m":       `csi\u009b31m`,
		"cr\rback\bdel\x7f":  `cr\x0dback\x08del\x7f`,
		"bad\xffutf8":        `bad\xffutf8`,
		"ünïcode ✓ 流":        "ünïcode ✓ 流",
	} {
		if got := TermSafe(in); got != want {
			t.Errorf("TermSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTermWriterKeepsSplitRunes(t *testing.T) {
	var out bytes.Buffer
	w := NewTermWriter(&out)
	s := []byte("a✓b\x1bc")
	for i := range s {
		if _, err := w.Write(s[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if got := out.String(); got != `a✓b\x1bc` {
		t.Errorf("byte-by-byte writes gave %q", got)
	}
}
