package scenarios

import (
	"strings"
	"testing"
)

func TestExpandName(t *testing.T) {
	tests := []struct {
		pattern string
		i       int
		want    string
	}{
		{"fixed", 9, "fixed"},
		{"{i}", 12, "12"},
		{"cam-{i:03}", 7, "cam-007"},
		{"cam-{i:02}", 123, "cam-123"}, // padding is a minimum width, never a truncation
		{"x{i%5}", 12, "x2"},
		{"dup-{i%5:02}", 7, "dup-02"},
		{"a{i}b{i:02}.c_d", 3, "a3b03.c_d"},
		{"{i%1}", 41, "0"},
	}
	for _, tt := range tests {
		got, err := ExpandName(tt.pattern, tt.i)
		if err != nil || got != tt.want {
			t.Errorf("ExpandName(%q, %d) = %q, %v; want %q", tt.pattern, tt.i, got, err, tt.want)
		}
	}
}

func TestExpandNameErrors(t *testing.T) {
	tests := []struct {
		pattern string
		i       int
		want    string // substring of the error
	}{
		{"", 0, "empty"},
		{"cam-{j}", 0, "unknown placeholder"},
		{"cam-{}", 0, "unknown placeholder"},
		{"cam-{I}", 0, "unknown placeholder"},
		{"cam-{i%0}", 0, "modulus"},
		{"cam-{i%}", 0, "modulus"},
		{"cam-{i%-2}", 0, "modulus"},
		{"cam-{i%+2}", 0, "modulus"},
		{"cam-{i:x}", 0, "padding"},
		{"cam-{i:3}", 0, "padding"},
		{"cam-{i:00}", 0, "padding"},
		{"cam-{i:}", 0, "padding"},
		{"cam-{i:099}", 0, "padding"},
		{"cam-{i", 0, "unclosed {"},
		{"cam-{{i}}", 0, "unclosed {"},
		{"cam-}{i}", 0, "unmatched }"},
		{"cam-{i}}", 0, "unmatched }"},
		{"cam {i}", 0, "not allowed"},
		{"live/{i}", 0, "not allowed"},
		{"cam-{i}?x=1", 0, "not allowed"},
		{"cam-{i}", -1, "negative"},
	}
	for _, tt := range tests {
		got, err := ExpandName(tt.pattern, tt.i)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ExpandName(%q, %d) = %q, %v; want an error containing %q", tt.pattern, tt.i, got, err, tt.want)
		}
	}
}
