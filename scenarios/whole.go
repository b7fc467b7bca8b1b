package scenarios

import (
	"fmt"
	"math"

	"github.com/goccy/go-yaml/ast"
)

// whole is a count in a scenario file: a whole number written as one. The
// YAML decoder alone turns 1.5 into 1 without a word.
type whole int

// UnmarshalYAML takes the node so that its error keeps the value's line and
// column.
func (w *whole) UnmarshalYAML(node ast.Node) error {
	n, ok := node.(*ast.IntegerNode)
	if !ok {
		return &nodeError{tok: node.GetToken(), msg: fmt.Sprintf("%q is not a whole number", node.GetToken().Value)}
	}
	switch v := n.Value.(type) {
	case int64:
		*w = whole(v)
		return nil
	case uint64:
		if v <= math.MaxInt32 {
			*w = whole(v)
			return nil
		}
	}
	return &nodeError{tok: node.GetToken(), msg: fmt.Sprintf("%q is too large", node.GetToken().Value)}
}

// fanoutWhole is a group's fanout: a whole number, and 0 is refused where
// it is written (left out, fanout is 1; 0 would read as left out without a
// word).
type fanoutWhole whole

func (f *fanoutWhole) UnmarshalYAML(node ast.Node) error {
	if err := (*whole)(f).UnmarshalYAML(node); err != nil {
		return err
	}
	if *f == 0 {
		return &nodeError{tok: node.GetToken(), msg: fmt.Sprintf("fanout 0: want 1 to %d publishers per ffmpeg process (leave fanout out for 1)", MaxFanout)}
	}
	return nil
}
