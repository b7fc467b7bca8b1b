package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// ParseError is a problem in a scenario file. Error() is the one line
// "FILE:LINE:COL: message"; Excerpt holds the surrounding source with a caret, for a terminal.
type ParseError struct {
	Source  string
	Line    int // 1-based; 0 when the position is unknown
	Column  int
	Message string
	Excerpt string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.Source, e.Line, e.Column, e.Message)
}

// nodeError is returned from our own YAML unmarshalers: goccy/go-yaml passes it through
// unchanged, so it must carry the position itself.
type nodeError struct {
	tok *token.Token
	msg string
}

func (e *nodeError) Error() string { return e.msg }

// token finds where a problem is in the source: the key if present, else the mapping that should
// hold it, else the document start.
func (p *problem) token(file *ast.File) *token.Token {
	fallback := file.Docs[0].Body.GetToken()
	path, err := yaml.PathString(p.path)
	if err != nil {
		return fallback
	}
	node, err := path.FilterFile(file)
	if err != nil || node == nil {
		return fallback
	}
	if m, ok := node.(ast.MapNode); ok && p.key != "" {
		for it := m.MapRange(); it.Next(); {
			if it.Key().GetToken().Value == p.key {
				return it.Key().GetToken()
			}
		}
	}
	if m, ok := node.(ast.MapNode); ok {
		// A mapping's own token is its first ':'; its first key is where a reader looks.
		if it := m.MapRange(); it.Next() {
			return it.Key().GetToken()
		}
	}
	if tok := node.GetToken(); tok != nil {
		return tok
	}
	return fallback
}

// positioned turns a goccy/go-yaml error (or our own nodeError) about data
// into a ParseError.
func positioned(source string, data []byte, err error) error {
	var ne *nodeError
	if errors.As(err, &ne) && ne.tok != nil {
		return &ParseError{Source: source, Line: ne.tok.Position.Line, Column: ne.tok.Position.Column, Message: ne.msg, Excerpt: excerpt(data, ne.tok)}
	}
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		tok := ye.GetToken()
		msg := ye.GetMessage()
		var te *yaml.TypeError
		if errors.As(err, &te) {
			// goccy's text names our private Go structs; say it in the file's terms instead.
			msg = fmt.Sprintf("%q is not %s", tok.Value, kindName(te.DstType.Kind().String()))
		}
		return &ParseError{Source: source, Line: tok.Position.Line, Column: tok.Position.Column, Message: msg, Excerpt: excerpt(data, tok)}
	}
	return &ParseError{Source: source, Message: err.Error()}
}

func kindName(kind string) string {
	switch kind {
	case "int":
		return "a whole number"
	case "string":
		return "a string"
	case "slice":
		return "a list"
	case "struct":
		return "a mapping"
	}
	return "a " + kind
}

// excerpt shows where tok is in data: up to three lines before its line,
// the line marked with '>' and a caret under tok's column, and up to two
// lines after, each numbered. It is made from the source, not by
// goccy/go-yaml's printer, whose time grows with the square of the tokens
// on the lines it prints (a line of 20,000 list items took a second). A
// line of megabytes (a pasted blob, a generated name) is cut around the
// column: the excerpt shows where, not all of it.
func excerpt(data []byte, tok *token.Token) string {
	if tok == nil || tok.Position == nil || tok.Position.Line < 1 {
		return ""
	}
	line, col := tok.Position.Line, max(tok.Position.Column, 1)
	first, last := max(line-3, 1), line+2
	var b strings.Builder
	n := 1
	for rest := data; n <= last && (len(rest) > 0 || n == line); n++ {
		text, next, _ := bytes.Cut(rest, []byte("\n"))
		rest = next
		if n < first {
			continue
		}
		mark := " "
		if n == line {
			mark = ">"
		}
		prefix := fmt.Sprintf("%s%3d | ", mark, n)
		shown, caret := cutLine(string(bytes.TrimRight(text, "\r")), col)
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(prefix + shown)
		if n == line {
			b.WriteString("\n" + strings.Repeat(" ", len(prefix)+caret) + "^")
		}
	}
	return b.String()
}

// cutLine cuts a line to at most maxExcerptLine bytes around col (1-based),
// with "..." where it was cut, and returns where col's byte is in what it
// shows (0-based).
func cutLine(l string, col int) (shown string, caret int) {
	caret = min(col-1, len(l))
	if len(l) <= maxExcerptLine {
		return l, caret
	}
	start := 0
	if caret > maxExcerptLine/2 {
		start = min(caret-maxExcerptLine/2, len(l)-maxExcerptLine)
	}
	shown = l[start : start+maxExcerptLine]
	caret -= start
	if start > 0 {
		shown, caret = "..."+shown, caret+3
	}
	if start+maxExcerptLine < len(l) {
		shown += "..."
	}
	return shown, caret
}

const maxExcerptLine = 200
