package scenarios

import (
	"fmt"

	"github.com/goccy/go-yaml/ast"
)

// word decodes one of package schema's typed words (a hook mode, a clip)
// from a scenario file. The word checks itself (its Set); word adds the
// value's line and column, which goccy/go-yaml does not add to an
// unmarshaler's error.
type word[T any, P interface {
	*T
	Set(string) error
}] struct {
	v T
}

func (w *word[T, P]) UnmarshalYAML(node ast.Node) error {
	switch n := node.(type) {
	case *ast.NullNode:
		return nil // left out: the default
	case *ast.StringNode:
		if err := P(&w.v).Set(n.Value); err != nil {
			return &nodeError{tok: node.GetToken(), msg: err.Error()}
		}
		return nil
	}
	return &nodeError{tok: node.GetToken(), msg: fmt.Sprintf("want a name, got %s", node.Type().YAMLName())}
}
