package scenarios

import (
	"errors"
	"strings"
	"testing"
)

func TestParamExpandsPerPublisher(t *testing.T) {
	src := "duration: 5s\npublishers:\n  - {group: g, count: 3, name: \"cam-{i}\", param: \"token=t{i:02}&sign=x&tenant=a%20b\"}\n  - {group: h, count: 1, name: other}\n"
	s, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"cam-0": "token=t00&sign=x&tenant=a%20b", "cam-2": "token=t02&sign=x&tenant=a%20b", "other": ""}
	for _, slot := range s.Schedule() {
		if w, ok := want[slot.Stream]; ok && s.ParamOf(slot) != w {
			t.Errorf("%s: param %q, want %q", slot.Stream, s.ParamOf(slot), w)
		}
	}
}

func TestParamStrict(t *testing.T) {
	for _, c := range []struct{ param, want string }{
		{"?token=x", "leading '?'"},
		{"token", "not name=value"},
		{"token=x&&a=b", "not name=value"},
		{"=x", "not name=value"},
		{"token=a b", "cannot stand in a URL query"},
		{"token=x#frag", "cannot stand in a URL query"},
		{"token=%zz", "malformed %-escape"},
		{"rtmpload=x", "rtmpload is the name"},
		{"token={j}", "unknown placeholder"},
		{"token=t{i", "unclosed {"},
		{"token=" + strings.Repeat("x", MaxParamLen), "longer than"},
	} {
		src := "duration: 5s\npublishers:\n  - group: g\n    count: 1\n    name: n\n    param: \"" + c.param + "\"\n"
		_, err := Parse("p.yaml", []byte(src))
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("param %q: err %v, want it to say %q", c.param, err, c.want)
			continue
		}
		if pe.Line != 6 {
			t.Errorf("param %q: line %d, want 6 (the param's)", c.param, pe.Line)
		}
	}
}
