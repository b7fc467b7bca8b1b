package scenarios

import (
	"fmt"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// Duration is a scenario duration written with a unit ("60s", "1m30s", "250ms"). A bare number
// is rejected because "60" could mean seconds or nanoseconds depending on who reads it; "0" alone
// is accepted since it means the same in every unit, as in time.ParseDuration.
type Duration time.Duration

// ParseDuration parses s as a scenario duration: a time.ParseDuration string that has a unit
// (or is "0") and is not negative.
func ParseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: write a number with a unit, such as 60s, 1m30s or 250ms", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	return Duration(v), nil
}

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes the same form ParseDuration reads, so a scenario can be echoed into results.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText lets Duration be read from JSON or flags as well as YAML.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// UnmarshalYAML takes the node rather than bytes so that its errors keep the value's line and
// column (goccy/go-yaml passes unmarshaler errors through without adding a position).
func (d *Duration) UnmarshalYAML(node ast.Node) error {
	var text string
	switch n := node.(type) {
	case *ast.StringNode:
		text = n.Value
	case *ast.IntegerNode, *ast.FloatNode:
		text = n.GetToken().Value
	default:
		return &nodeError{tok: node.GetToken(), msg: fmt.Sprintf("want a duration such as 60s, got %s", node.Type().YAMLName())}
	}
	v, err := ParseDuration(text)
	if err != nil {
		return &nodeError{tok: node.GetToken(), msg: err.Error()}
	}
	*d = v
	return nil
}
