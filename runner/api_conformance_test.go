package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/internal/testkit"
	"github.com/rtmpload/rtmpload/managed"
	"github.com/rtmpload/rtmpload/media"
	"github.com/rtmpload/rtmpload/server"
	"github.com/rtmpload/rtmpload/srs"
)

// apiPublishers is more than SRS's default page of 10, so paging shows.
const apiPublishers = 12

// TestAPIConformance publishes the same streams, the way rtmpload does
// (the clip with -c copy, ?rtmpload=<id> on the URL), to the embedded server
// and to SRS, and compares their HTTP APIs: every field rtmpload reads
// (package srs's Stream, Client and Versions) has the same name and JSON
// type on both, and the same value where both servers know it. The values
// that differ by nature (ids, byte counts, rates and times) are listed in
// docs/servers.md, "The HTTP API: embedded server and SRS".
func TestAPIConformance(t *testing.T) {
	ff := testkit.FFmpeg(t)
	bin := testkit.SRS(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	clip, err := media.Ensure(ctx, ff, testCache(t), media.Params{Clip: "testsrc-360p", BitrateBps: 300_000}, nil)
	if err != nil {
		t.Fatal(err)
	}

	emb, err := server.Start(ctx, server.Config{Version: "7.0.18"})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	real, err := managed.StartSRS(ctx, managed.SRSConfig{Dir: t.TempDir(), Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	defer real.Stop(context.Background())

	apis := map[string]string{"embedded": "http://" + emb.APIAddr(), "srs": real.APIURL()}
	for name, addr := range map[string]string{"embedded": emb.RTMPAddr(), "srs": real.RTMPAddr()} {
		for i := range apiPublishers {
			publishClip(t, ctx, ff, clip, fmt.Sprintf("rtmp://%s/live/api-%02d?rtmpload=T-%d", addr, i, i+1))
		}
		// Both know every stream's codecs once its sequence headers came.
		deadline := time.Now().Add(30 * time.Second)
		for {
			var l struct{ Streams []srs.Stream }
			getAPI(t, apis[name]+"/api/v1/streams/?start=0&count=100", &l)
			ready := len(l.Streams) == apiPublishers
			for _, s := range l.Streams {
				ready = ready && s.Video != nil && s.Audio != nil && s.Video.Width > 0
			}
			if ready {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d streams after 30 s, not all with video and audio: %+v", name, len(l.Streams), l.Streams)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}

	raw := func(server, path string) map[string]any {
		var m map[string]any
		getAPI(t, apis[server]+path, &m)
		return m
	}
	for _, path := range []string{"/api/v1/versions", "/api/v1/streams/", "/api/v1/streams/?start=0&count=100",
		"/api/v1/streams/?count=1", "/api/v1/streams/?start=5&count=3", "/api/v1/clients/", "/api/v1/clients/?start=0&count=100"} {
		t.Run(path, func(t *testing.T) {
			e, s := raw("embedded", path), raw("srs", path)
			if ek, sk := keys(e), keys(s); !reflect.DeepEqual(ek, sk) {
				t.Errorf("top-level fields: embedded %v, SRS %v", ek, sk)
			}
			for _, k := range []string{"code", "server", "service", "pid"} {
				if jsonType(e[k]) != jsonType(s[k]) {
					t.Errorf("%s: embedded %s, SRS %s", k, jsonType(e[k]), jsonType(s[k]))
				}
			}
			for _, list := range []string{"streams", "clients"} {
				el, _ := e[list].([]any)
				sl, _ := s[list].([]any)
				if len(el) != len(sl) {
					t.Errorf("%s: embedded lists %d, SRS %d", list, len(el), len(sl))
				}
			}
			if d, ok := s["data"]; ok {
				compareShape(t, "data", reflect.TypeFor[srs.Versions](), e["data"], d)
				if !reflect.DeepEqual(e["data"], d) {
					t.Errorf("versions: embedded %v, SRS %v", e["data"], d)
				}
			}
		})
	}

	// Entry by entry, matched by stream name.
	type view struct {
		streams map[string]map[string]any // by name
		clients map[string]map[string]any // by name
		rawIDs  map[string]string         // stream id -> name
	}
	read := func(server string) view {
		v := view{streams: map[string]map[string]any{}, clients: map[string]map[string]any{}, rawIDs: map[string]string{}}
		for _, e := range raw(server, "/api/v1/streams/?start=0&count=100")["streams"].([]any) {
			m := e.(map[string]any)
			v.streams[m["name"].(string)] = m
			v.rawIDs[m["id"].(string)] = m["name"].(string)
		}
		for _, e := range raw(server, "/api/v1/clients/?start=0&count=100")["clients"].([]any) {
			m := e.(map[string]any)
			v.clients[m["name"].(string)] = m
		}
		return v
	}
	ev, sv := read("embedded"), read("srs")
	for i := range apiPublishers {
		name := fmt.Sprintf("api-%02d", i)
		es, ss := ev.streams[name], sv.streams[name]
		ec, sc := ev.clients[name], sv.clients[name]
		if es == nil || ss == nil || ec == nil || sc == nil {
			t.Errorf("%s: stream or client missing (embedded %v %v, SRS %v %v)", name, es != nil, ec != nil, ss != nil, sc != nil)
			continue
		}
		compareShape(t, name+" stream", reflect.TypeFor[srs.Stream](), es, ss)
		compareShape(t, name+" client", reflect.TypeFor[srs.Client](), ec, sc)
		for _, f := range []string{"name", "app", "url", "clients", "publish.active", "video", "audio"} {
			if a, b := at(es, f), at(ss, f); !reflect.DeepEqual(a, b) {
				t.Errorf("%s stream %s: embedded %v, SRS %v", name, f, a, b)
			}
		}
		for _, f := range []string{"name", "url", "ip", "type", "publish", "pageUrl", "swfUrl"} {
			if a, b := at(ec, f), at(sc, f); !reflect.DeepEqual(a, b) {
				t.Errorf("%s client %s: embedded %v, SRS %v", name, f, a, b)
			}
		}
		// The links between the lists, and the URLs up to the port.
		for server, v := range map[string]struct{ s, c map[string]any }{"embedded": {es, ec}, "SRS": {ss, sc}} {
			if at(v.s, "publish.cid") != v.c["id"] || v.c["stream"] != v.s["id"] || v.c["vhost"] != v.s["vhost"] {
				t.Errorf("%s %s: stream publish.cid %v id %v vhost %v; client id %v stream %v vhost %v",
					server, name, at(v.s, "publish.cid"), v.s["id"], v.s["vhost"], v.c["id"], v.c["stream"], v.c["vhost"])
			}
			if tc := fmt.Sprint(v.s["tcUrl"]); !strings.HasPrefix(tc, "rtmp://127.0.0.1:") || !strings.HasSuffix(tc, "/live") || v.c["tcUrl"] != v.s["tcUrl"] {
				t.Errorf("%s %s: tcUrl %v (client %v)", server, name, v.s["tcUrl"], v.c["tcUrl"])
			}
		}
	}
}

// publishClip starts an ffmpeg that publishes clip to url until the test
// ends, in a process group of its own that the test kills.
func publishClip(t *testing.T, ctx context.Context, ff, clip, url string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, ff, "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-stream_loop", "-1",
		"-i", clip, "-c", "copy", "-f", "flv", url)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
}

func getAPI(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v\n%s", url, err, b)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// at returns the value at a dotted path ("publish.cid").
func at(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// compareShape checks, for every field of typ (a struct of package srs, by
// its json tags, nested structs included), that both answers have it with
// the same JSON type, and that it has the type typ gives it.
func compareShape(t *testing.T, where string, typ reflect.Type, emb, real any) {
	t.Helper()
	em, _ := emb.(map[string]any)
	sm, _ := real.(map[string]any)
	if em == nil || sm == nil {
		t.Errorf("%s: embedded %s, SRS %s, want objects", where, jsonType(emb), jsonType(real))
		return
	}
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		ev, eok := em[name]
		sv, sok := sm[name]
		if !eok || !sok {
			t.Errorf("%s.%s: in the embedded server's answer %v, in SRS's %v", where, name, eok, sok)
			continue
		}
		if jsonType(ev) != jsonType(sv) {
			t.Errorf("%s.%s: embedded %s, SRS %s", where, name, jsonType(ev), jsonType(sv))
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		want := map[reflect.Kind]string{reflect.String: "string", reflect.Bool: "bool", reflect.Struct: "object",
			reflect.Int: "number", reflect.Int64: "number", reflect.Uint64: "number", reflect.Float64: "number"}[ft.Kind()]
		if got := jsonType(sv); got != want && !(got == "null" && f.Type.Kind() == reflect.Pointer) {
			t.Errorf("%s.%s: SRS sends %s, rtmpload reads %s", where, name, got, want)
		}
		if ft.Kind() == reflect.Struct && jsonType(sv) == "object" {
			compareShape(t, where+"."+name, ft, ev, sv)
		}
	}
}
