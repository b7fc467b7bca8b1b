package scenarios

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Bounds that keep a typo from producing absurd names; real patterns are far below them.
const (
	maxPadWidth = 20
)

// namePattern is a compiled stream name pattern: literal text and {i...} placeholders.
type namePattern []namePart

type namePart struct {
	literal     string // used when placeholder is false
	placeholder bool
	mod         int // 0: no modulo
	width       int // 0: no zero padding
}

// ExpandName expands a stream name pattern for publisher i of a group. A pattern is literal text
// (letters, digits, '-', '_', '.') plus placeholders {i}, {i:03} (zero padded to width 3),
// {i%k} and {i%k:03} (i modulo k, so that several publishers share a name on purpose).
func ExpandName(pattern string, i int) (string, error) {
	p, err := compilePattern(pattern)
	if err != nil {
		return "", err
	}
	if i < 0 {
		return "", fmt.Errorf("name pattern %q: index %d is negative", pattern, i)
	}
	return p.expand(i), nil
}

func compilePattern(pattern string) (namePattern, error) {
	if pattern == "" {
		return nil, errors.New("name pattern is empty")
	}
	return compileWith(pattern, checkLiteral)
}

// compileWith compiles a pattern whose literal text check accepts.
func compileWith(pattern string, check func(pattern, lit string) error) (namePattern, error) {
	var p namePattern
	rest := pattern
	for rest != "" {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			open = len(rest)
		}
		if lit := rest[:open]; lit != "" {
			if err := check(pattern, lit); err != nil {
				return nil, err
			}
			p = append(p, namePart{literal: lit})
		}
		rest = rest[open:]
		if rest == "" {
			break
		}
		if rest[0] == '}' {
			return nil, fmt.Errorf("name pattern %q: unmatched }", pattern)
		}
		inner, after, ok := strings.Cut(rest[1:], "}")
		if !ok || strings.Contains(inner, "{") {
			return nil, fmt.Errorf("name pattern %q: unclosed {", pattern)
		}
		part, err := parsePlaceholder(inner)
		if err != nil {
			return nil, fmt.Errorf("name pattern %q: placeholder {%s}: %w", pattern, inner, err)
		}
		p = append(p, part)
		rest = after
	}
	return p, nil
}

// checkLiteral keeps names to characters that survive an RTMP URL path, an SRS hook's JSON and
// nginx-rtmp's form fields unchanged, so the name the server reports is the name we scheduled.
func checkLiteral(pattern, lit string) error {
	for _, r := range lit {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return fmt.Errorf("name pattern %q: character %q is not allowed in a stream name (use letters, digits, '-', '_', '.')", pattern, r)
		}
	}
	return nil
}

func parsePlaceholder(inner string) (namePart, error) {
	const usage = "use {i}, {i:03}, {i%k} or {i%k:03}"
	expr, pad, hasPad := strings.Cut(inner, ":")
	if expr != "i" && !strings.HasPrefix(expr, "i%") {
		return namePart{}, fmt.Errorf("unknown placeholder (%s)", usage)
	}
	part := namePart{placeholder: true}
	if k, ok := strings.CutPrefix(expr, "i%"); ok {
		n, ok := decimal(k)
		if !ok || n < 1 {
			return namePart{}, fmt.Errorf("modulus %q must be a whole number >= 1 (%s)", k, usage)
		}
		part.mod = n
	}
	if hasPad {
		w, ok := decimal(pad)
		if !ok || len(pad) < 2 || pad[0] != '0' || w < 1 || w > maxPadWidth {
			return namePart{}, fmt.Errorf("padding %q must be 0 followed by a width of 1 to %d, as in :03 (%s)", pad, maxPadWidth, usage)
		}
		part.width = w
	}
	return part, nil
}

// decimal accepts only ASCII digits: strconv.Atoi alone would also take "+3" and "-3".
func decimal(s string) (int, bool) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

func (p namePattern) expand(i int) string {
	var b strings.Builder
	for _, part := range p {
		if !part.placeholder {
			b.WriteString(part.literal)
			continue
		}
		v := i
		if part.mod > 0 {
			v = i % part.mod
		}
		fmt.Fprintf(&b, "%0*d", part.width, v)
	}
	return b.String()
}
