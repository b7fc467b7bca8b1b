package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	SetRedactPolicy(RedactPolicy{})
	for _, c := range []struct{ in, want string }{
		{"rtmp://h:1935/live/cam?token=SECRET&rtmpload=r-1", "rtmp://h:1935/live/cam?token=***&rtmpload=r-1"},
		{"http://admin:APIPASS@127.0.0.1:1985/api", "http://admin:***@127.0.0.1:1985/api"},
		{"http://u:p@ss@h/x", "http://u:***@h/x"},
		{"rtmp//u:pw@h/x", "rtmp//u:***@h/x"},
		{"rtmp://u:pw@h/app?txSecret=abc&txTime=5F", "rtmp://u:***@h/app?txSecret=***&txTime=5F"},
		{"?wsSecret=a&wsABSTime=1&auth_key=1-0-0-abc&sign=x&rtmpload=id", "?wsSecret=***&wsABSTime=1&auth_key=***&sign=***&rtmpload=id"},
		{"?X-Amz-Signature=s&X-Amz-Credential=c&Expires=1", "?X-Amz-Signature=***&X-Amz-Credential=***&Expires=1"},
		{"?md5=abc&expires=1&access_token=t&api_key=k&apikey=k&PASSWORD=p&pwd=p&jwt=j&sessionid=s",
			"?md5=***&expires=1&access_token=***&api_key=***&apikey=***&PASSWORD=***&pwd=***&jwt=***&sessionid=***"},
		// ffmpeg's own line: the URL inside free text.
		{"[out#0/flv] rtmp://127.0.0.1:4/live/c?token=t1&rtmpload=x: Input/output error",
			"[out#0/flv] rtmp://127.0.0.1:4/live/c?token=***&rtmpload=x: Input/output error"},
		// Error messages quote URLs.
		{`--target "rtmp://u:pw@h/app?key=K": want rtmp://host:port[/app]`, `--target "rtmp://u:***@h/app?key=***": want rtmp://host:port[/app]`},
		// A JSON line on a terminal: "\u0026" ends a value as '&' does.
		{`{"param":"?token=S\u0026rtmpload=r-1"}`, `{"param":"?token=***\u0026rtmpload=r-1"}`},
		{`{"u":"rtmp://h/a?x=1\u0026md5=S\u0026e=2"}`, `{"u":"rtmp://h/a?x=1\u0026md5=***\u0026e=2"}`},
		// The tee muxer's outputs, escaped.
		{`[f=flv]rtmp://h/live/a?token=it\'s\|x&rtmpload=1|[f=flv]rtmp://h/live/b?token=T2`, `[f=flv]rtmp://h/live/a?token=***&rtmpload=1|[f=flv]rtmp://h/live/b?token=***`},
		{`{"body":"{\"u\":\"x?sign=S\"}"}`, `{"body":"{\"u\":\"x?sign=***\"}"}`},
		// A percent-encoded name is the name the server decodes.
		{"rtmp://h/live/c?to%6Ben=SECRET&rtmpload=1", "rtmp://h/live/c?to%6Ben=***&rtmpload=1"},
		{"?%74oken=S&si%67n=S2&to%256Ben=S3", "?%74oken=***&si%67n=***&to%256Ben=***"},
		// CDN signatures.
		{"rtmp://h/live/c?t=1700000000-abcdef&hash=0f1e2d&e=9", "rtmp://h/live/c?t=***&hash=***&e=9"},
		// A flag's usage and an error's wording are no query.
		{"--show-secrets[=true|false]", "--show-secrets[=true|false]"},
		{`--fault "x": "x" is not name=value`, `--fault "x": "x" is not name=value`},
		{"?token[0]=S&access_token[]=S2", "?token[0]=***&access_token[]=***"},
		// Nothing secret: unchanged.
		{"rtmp://127.0.0.1:1935/live/cam-001?rtmpload=r-1", "rtmp://127.0.0.1:1935/live/cam-001?rtmpload=r-1"},
		{"frame=10 fps=25 keyint=50 signal=2 bypass=", "frame=10 fps=25 keyint=50 signal=2 bypass="},
		{"mailto:someone@example.com user@host", "mailto:someone@example.com user@host"},
		{"http://user@host/", "http://user@host/"},
		{"http://host:8080/a@b", "http://host:8080/a@b"},
	} {
		if got := Redact(c.in); got != c.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

func TestRedactPolicy(t *testing.T) {
	defer SetRedactPolicy(RedactPolicy{})
	in := "rtmp://u:pw@h/live/c?token=T&tenant=acme&rtmpload=1"
	SetRedactPolicy(RedactPolicy{Names: []string{"Tenant"}})
	if got, want := Redact(in), "rtmp://u:***@h/live/c?token=***&tenant=***&rtmpload=1"; got != want {
		t.Errorf("with --redact tenant: %q, want %q", got, want)
	}
	if got := URL(in).String(); got != "rtmp://u:***@h/live/c?token=***&tenant=***&rtmpload=1" {
		t.Errorf("URL.String: %q", got)
	}
	if got := fmt.Sprint(URL(in)); strings.Contains(got, "pw") || strings.Contains(got, "=T&") {
		t.Errorf("fmt prints %q", got)
	}
	if b, _ := json.Marshal(struct{ U URL }{URL(in)}); bytes.Contains(b, []byte("pw@")) {
		t.Errorf("json: %s", b)
	}
	if URL(in).Raw() != in {
		t.Error("Raw changed the URL")
	}
	// --redact takes a name as typed, encoded or not, and hides it in
	// either spelling.
	for _, name := range []string{"tenant", "te%6Eant", "TE%6EANT"} {
		SetRedactPolicy(RedactPolicy{Names: []string{name}})
		for _, q := range []string{"?tenant=acme", "?te%6eant=acme", "?%74enant=acme"} {
			if got := Redact(q); strings.Contains(got, "acme") {
				t.Errorf("--redact %s: %q shows %q", name, q, got)
			}
		}
	}
	SetRedactPolicy(RedactPolicy{Show: true})
	if got := Redact(in); got != in {
		t.Errorf("--show-secrets: %q", got)
	}
}

func TestRedactJSON(t *testing.T) {
	SetRedactPolicy(RedactPolicy{})
	v := map[string]any{
		"url":     "rtmp://u:pw@h/live/c?token=SECRET&rtmpload=r-1",
		"param":   "?token=SECRET&rtmpload=r-1",
		"args":    []string{"-i", "clip.flv", "rtmp://h/live/NAME?sign=SECRET&rtmpload=ID"},
		"options": map[string]string{"api": "http://admin:SECRET@127.0.0.1:1985"},
		"n":       3,
		"plain":   "a=b",
	}
	doc, _ := json.Marshal(v)
	out := RedactJSON(doc)
	if bytes.Contains(out, []byte("SECRET")) || bytes.Contains(out, []byte("pw@")) {
		t.Fatalf("secret left: %s", out)
	}
	var back map[string]any
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("not JSON any more: %v: %s", err, out)
	}
	if back["param"] != "?token=***&rtmpload=r-1" || back["plain"] != "a=b" {
		t.Errorf("param %q plain %q", back["param"], back["plain"])
	}
	clean := []byte(`{"type":"attempt","id":"r-1","n":1}`)
	if got := RedactJSON(clean); &got[0] != &clean[0] {
		t.Error("a line with nothing to redact was copied")
	}
}

func TestRedactWriter(t *testing.T) {
	SetRedactPolicy(RedactPolicy{})
	var b bytes.Buffer
	w := RedactWriter(&b)
	p := []byte("level=INFO msg=x url=rtmp://h/live/c?token=SECRET\n")
	n, err := w.Write(p)
	if err != nil || n != len(p) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if strings.Contains(b.String(), "SECRET") {
		t.Errorf("%q", b.String())
	}
	if w.(interface{ Unwrap() io.Writer }).Unwrap() != &b {
		t.Error("Unwrap")
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("rtmp://u:pw@h/live/c?token=SECRET&rtmpload=r-1")
	f.Add(`{"a":"?sign=x\u0026b=c"}`)
	f.Fuzz(func(t *testing.T, s string) {
		SetRedactPolicy(RedactPolicy{})
		r := Redact(s)
		if Redact(r) != r {
			t.Errorf("not idempotent: %q -> %q -> %q", s, r, Redact(r))
		}
		if json.Valid([]byte(s)) && !json.Valid(RedactJSON([]byte(s))) {
			t.Errorf("RedactJSON broke %q", s)
		}
	})
}

func TestRedactFile(t *testing.T) {
	SetRedactPolicy(RedactPolicy{})
	dir := t.TempDir()
	path := filepath.Join(dir, "srs.log")
	log := "[info] client identified, stream=c, param=?token=SECRET&rtmpload=r-1\nno newline at the end: http://u:PW@h/"
	if err := os.WriteFile(path, []byte(log), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := RedactFile(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if want := "[info] client identified, stream=c, param=?token=***&rtmpload=r-1\nno newline at the end: http://u:***@h/"; string(b) != want {
		t.Errorf("got %q\nwant %q", b, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

// A results line with a publish URL (the spawn event) and one without
// anything to redact: the cost the results writer and reader pay per event.
func BenchmarkRedactJSON(b *testing.B) {
	SetRedactPolicy(RedactPolicy{})
	spawn := []byte(`{"type":"attempt","time":"2026-12-02T05:00:00.000000001Z","attempt":{"id":"20261202T050000-abcd-17","phase":"spawn","group":"cams","stream":"cam-016","slot":16,"url":"rtmp://127.0.0.1:41234/live/cam-016?token=t16\u0026sign=x\u0026rtmpload=20261202T050000-abcd-17","pid":12345}}`)
	plain := []byte(`{"type":"attempt","time":"2026-12-02T05:00:01.000000001Z","attempt":{"id":"20261202T050000-abcd-17","phase":"publishing","group":"cams","stream":"cam-016","slot":16}}`)
	b.Run("spawn", func(b *testing.B) {
		for b.Loop() {
			RedactJSON(spawn)
		}
	})
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			RedactJSON(plain)
		}
	})
}
