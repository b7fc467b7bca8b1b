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
	var p srsConfigParser
	for _, t := range toks {
		if err := p.token(t); err != nil {
			return nil, err
		}
	}
	if len(p.stack) > 0 {
		return nil, fmt.Errorf("srs config: block %q is not closed (missing '}')", p.stack[len(p.stack)-1].name)
	}
	if len(p.words) > 0 {
		return nil, fmt.Errorf("srs config line %d: directive %q is missing its ';'", p.words[0].line, p.words[0].text)
	}
	return p.out, nil
}

// srsConfigParser gathers the words of a directive or a block's head until
// a ';', '{' or '}' ends them, and keeps the http_hooks blocks it closes.
type srsConfigParser struct {
	stack []srsBlock // the blocks open, outermost first
	words []token
	out   []SRSHooks
}

type srsBlock struct {
	name, arg string
	hooks     *SRSHooks // only in an http_hooks block
}

func (p *srsConfigParser) token(t token) error {
	if !t.quoted { // a quoted ';', '{' or '}' is a word like any other
		switch t.text {
		case "{":
			return p.open(t)
		case "}":
			return p.close(t)
		case ";":
			p.directive()
			return nil
		}
	}
	p.words = append(p.words, t)
	return nil
}

// open starts the block the words so far name.
func (p *srsConfigParser) open(t token) error {
	if len(p.words) == 0 {
		return fmt.Errorf("srs config line %d: a block without a name", t.line)
	}
	b := srsBlock{name: p.words[0].text}
	if len(p.words) > 1 {
		b.arg = p.words[1].text
	}
	if b.name == "http_hooks" {
		b.hooks = &SRSHooks{Vhost: p.vhost(), Line: p.words[0].line}
	}
	p.stack = append(p.stack, b)
	p.words = nil
	return nil
}

// close ends the innermost block, keeping it if it is an http_hooks block.
func (p *srsConfigParser) close(t token) error {
	if len(p.words) > 0 {
		return fmt.Errorf("srs config line %d: directive %q is missing its ';'", p.words[0].line, p.words[0].text)
	}
	if len(p.stack) == 0 {
		return fmt.Errorf("srs config line %d: '}' without a block to close", t.line)
	}
	if h := p.stack[len(p.stack)-1].hooks; h != nil {
		p.out = append(p.out, *h)
	}
	p.stack = p.stack[:len(p.stack)-1]
	return nil
}

// directive ends a directive; only those of an http_hooks block matter.
func (p *srsConfigParser) directive() {
	words := p.words
	p.words = nil
	if len(words) == 0 || len(p.stack) == 0 {
		return
	}
	h := p.stack[len(p.stack)-1].hooks
	if h == nil {
		return
	}
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

// vhost is the vhost the open blocks are in ("" outside any).
func (p *srsConfigParser) vhost() string {
	for i := len(p.stack) - 1; i >= 0; i-- {
		if p.stack[i].name == "vhost" {
			return p.stack[i].arg
		}
	}
	return ""
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
