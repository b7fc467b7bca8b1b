package runner

import "testing"

// The text forms round-trip, and the zero values are the defaults.
func TestParseServerSpecAndHookPlan(t *testing.T) {
	for _, s := range []string{"embedded", "serve", "nginx-rtmp", "srs=/opt/srs/objs/srs", "srs=a=b"} {
		spec, err := ParseServerSpec(s)
		if err != nil || spec.String() != s {
			t.Errorf("ParseServerSpec(%q) = %+v, %v", s, spec, err)
		}
	}
	if spec, err := ParseServerSpec(""); err != nil || !spec.Embedded() || (ServerSpec{}).String() != "embedded" {
		t.Errorf("empty server: %+v, %v", spec, err)
	}
	for _, s := range []string{"serve", "external", "proxy=http://127.0.0.1:8080/cb", "proxy=https://cb.example/on_publish?k=v"} {
		p, err := ParseHookPlan(s)
		if err != nil || p.String() != s {
			t.Errorf("ParseHookPlan(%q) = %+v, %v", s, p, err)
		}
	}
	if p, err := ParseHookPlan(""); err != nil || !p.Serve() || p.Proxy != "" || (HookPlan{}).String() != "serve" {
		t.Errorf("empty hook: %+v, %v", p, err)
	}
	for _, s := range []string{"srs", "srs=", "nginx", "embedded=x", "SRS=/x"} {
		if _, err := ParseServerSpec(s); err == nil {
			t.Errorf("ParseServerSpec(%q): no error", s)
		}
	}
	for _, s := range []string{"proxy", "proxy=", "proxy=127.0.0.1:80", "proxy=ftp://h/x", "serve=1", "none"} {
		if _, err := ParseHookPlan(s); err == nil {
			t.Errorf("ParseHookPlan(%q): no error", s)
		}
	}
}
