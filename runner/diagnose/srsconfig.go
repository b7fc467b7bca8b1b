package diagnose

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// SRSHooks is one http_hooks block of an SRS config file.
type SRSHooks struct {
	Vhost       string // the enclosing vhost's name; "" at top level
	Enabled     bool   // SRS's default is off: a block without "enabled on" calls nothing
	OnPublish   []string
	OnUnpublish []string
	Line        int // where the block starts
}

// ParseSRSConfig reads the http_hooks blocks of an SRS config file (SRS's
// nginx-like syntax: `name args...;` directives, `name args { ... }` blocks,
// # comments, quoted strings). A directive may list several URLs; SRS calls
// them in order and all must allow (docs/srs-behaviour.md, "What SRS accepts as allow").
func ParseSRSConfig(r io.Reader) ([]SRSHooks, error) {
	toks, err := srsTokens(r)
	if err != nil {
		return nil, err
	}
	type frame struct {
		name, arg string
		hooks     *SRSHooks
	}
	var stack []frame
	var out []SRSHooks
	var words []token
	vhostOf := func() string {
		for i := len(stack) - 1; i >= 0; i-- {
			if stack[i].name == "vhost" {
				return stack[i].arg
			}
		}
		return ""
	}
	for _, t := range toks {
		switch t.text {
		case "{":
			if t.quoted {
				break
			}
			if len(words) == 0 {
				return nil, fmt.Errorf("srs config line %d: a block without a name", t.line)
			}
			f := frame{name: words[0].text}
			if len(words) > 1 {
				f.arg = words[1].text
			}
			if f.name == "http_hooks" {
				f.hooks = &SRSHooks{Vhost: vhostOf(), Line: words[0].line}
			}
			stack = append(stack, f)
			words = nil
			continue
		case "}":
			if t.quoted {
				break
			}
			if len(words) > 0 {
				return nil, fmt.Errorf("srs config line %d: directive %q is missing its ';'", words[0].line, words[0].text)
			}
			if len(stack) == 0 {
				return nil, fmt.Errorf("srs config line %d: '}' without a block to close", t.line)
			}
			if h := stack[len(stack)-1].hooks; h != nil {
				out = append(out, *h)
			}
			stack = stack[:len(stack)-1]
			continue
		case ";":
			if t.quoted {
				break
			}
			if len(words) > 0 && len(stack) > 0 {
				if h := stack[len(stack)-1].hooks; h != nil {
					args := make([]string, 0, len(words)-1)
					for _, w := range words[1:] {
						args = append(args, w.text)
					}
					switch words[0].text {
					case "enabled":
						h.Enabled = len(args) > 0 && args[0] == "on"
					case "on_publish":
						h.OnPublish = append(h.OnPublish, args...)
					case "on_unpublish":
						h.OnUnpublish = append(h.OnUnpublish, args...)
					}
				}
			}
			words = nil
			continue
		}
		words = append(words, t)
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("srs config: block %q is not closed (missing '}')", stack[len(stack)-1].name)
	}
	if len(words) > 0 {
		return nil, fmt.Errorf("srs config line %d: directive %q is missing its ';'", words[0].line, words[0].text)
	}
	return out, nil
}

type token struct {
	text   string
	line   int
	quoted bool
}

// srsTokens splits an SRS config into words and the punctuation { } ;.
func srsTokens(r io.Reader) ([]token, error) {
	var toks []token
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		s := sc.Text()
		for i := 0; i < len(s); {
			switch ch := s[i]; {
			case ch == ' ' || ch == '\t' || ch == '\r':
				i++
			case ch == '#':
				i = len(s)
			case ch == '{' || ch == '}' || ch == ';':
				toks = append(toks, token{text: string(ch), line: line})
				i++
			case ch == '"' || ch == '\'':
				end := strings.IndexByte(s[i+1:], ch)
				if end < 0 {
					return nil, fmt.Errorf("srs config line %d: unterminated quote", line)
				}
				toks = append(toks, token{text: s[i+1 : i+1+end], line: line, quoted: true})
				i += end + 2
			default:
				j := i
				for j < len(s) && !strings.ContainsRune(" \t\r#{};\"'", rune(s[j])) {
					j++
				}
				toks = append(toks, token{text: s[i:j], line: line})
				i = j
			}
		}
	}
	return toks, sc.Err()
}
