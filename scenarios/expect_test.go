package scenarios

import (
	"errors"
	"strings"
	"testing"
)

func TestExpectEntriesAreValidated(t *testing.T) {
	src := "name: f\nduration: 60s\npublishers:\n  - {group: a, count: 1, name: a}\nexpect:\n  - \"rate(ok) >= 0.99\"\n  - \"rate(ok) >= x\"\n"
	_, err := Parse("f.yaml", []byte(src))
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want a ParseError", err)
	}
	if pe.Line != 7 || pe.Column != 5 || !strings.Contains(pe.Message, "expect[1]: rate(ok) >= x: want a number or baseline*F at column 13") {
		t.Errorf("got line %d column %d %q", pe.Line, pe.Column, pe.Message)
	}
}
