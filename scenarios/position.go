package scenarios

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/printer"
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

// positioned turns a goccy/go-yaml error (or our own nodeError) into a ParseError.
func positioned(source string, err error) error {
	var ne *nodeError
	if errors.As(err, &ne) && ne.tok != nil {
		return &ParseError{Source: source, Line: ne.tok.Position.Line, Column: ne.tok.Position.Column, Message: ne.msg, Excerpt: excerpt(ne.tok)}
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
		return &ParseError{Source: source, Line: tok.Position.Line, Column: tok.Position.Column, Message: msg, Excerpt: excerpt(tok)}
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

func excerpt(tok *token.Token) string {
	if tok == nil {
		return ""
	}
	var p printer.Printer
	// A line of megabytes (a pasted blob, a generated name) is cut: the
	// excerpt shows where, not all of it.
	lines := strings.Split(p.PrintErrorToken(tok, false), "\n")
	for i, l := range lines {
		if len(l) > maxExcerptLine {
			lines[i] = l[:maxExcerptLine] + "..."
		}
	}
	return strings.Join(lines, "\n")
}

const maxExcerptLine = 200
