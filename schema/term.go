package schema

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"
)

// TermSafe makes text that came from outside (a request's fields, a
// server's answer) safe to print on a terminal: C0 and C1 control
// characters (ESC, CSI, BEL, backspace, carriage return ...), DEL and bytes
// that are not UTF-8 are shown escaped (\x1b, \u009b) instead of reaching
// the terminal, which would obey them. Newline and tab are kept.
func TermSafe(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		escapeRune(&b, r, n, s[i])
		i += n
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if isControl(r) || (r == utf8.RuneError && n == 1) {
			return true
		}
		i += n
	}
	return false
}

func isControl(r rune) bool {
	return (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r <= 0x9f)
}

func escapeRune(b *strings.Builder, r rune, n int, first byte) {
	switch {
	case r == utf8.RuneError && n == 1:
		fmt.Fprintf(b, `\x%02x`, first)
	case r < 0x80 && isControl(r):
		fmt.Fprintf(b, `\x%02x`, r)
	case isControl(r):
		fmt.Fprintf(b, `\u%04x`, r)
	default:
		b.WriteRune(r)
	}
}

// TermWriter passes writes through TermSafe, for a terminal that shows
// text which may hold such characters. A rune split across two writes is
// held back until it is whole.
type TermWriter struct {
	mu      sync.Mutex
	w       io.Writer
	pending []byte
}

// NewTermWriter returns a TermWriter writing to w.
func NewTermWriter(w io.Writer) *TermWriter { return &TermWriter{w: w} }

// Unwrap returns the writer underneath, for a caller that asks whether it
// is a terminal.
func (t *TermWriter) Unwrap() io.Writer { return t.w }

// Write escapes p and writes it; it reports len(p) when the write went
// through (the escaped text is longer).
func (t *TermWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	buf := append(t.pending, p...)
	t.pending = nil
	// Hold back an incomplete rune at the end (at most 3 bytes).
	cut := len(buf)
	for k := 1; k <= 3 && k <= len(buf); k++ {
		c := buf[len(buf)-k]
		if c < 0x80 {
			break
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(buf[len(buf)-k:]) {
				cut = len(buf) - k
			}
			break
		}
	}
	t.pending = append([]byte(nil), buf[cut:]...)
	if _, err := io.WriteString(t.w, TermSafe(string(buf[:cut]))); err != nil {
		return 0, err
	}
	return len(p), nil
}
