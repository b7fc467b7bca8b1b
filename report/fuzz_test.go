package report_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/schema"
)

// FuzzRead feeds arbitrary results streams to the reader, the summary and
// the merge: none may panic.
//
// The seeds are small on purpose: a header and one event of each kind the
// recorded runs hold, their long strings and lists cut (seedLine). Go's
// fuzzer minimizes every input that finds new coverage before it counts any
// execution, and its minimizer tries removing every byte range, quadratic in
// the input's length: seeds of a dozen whole lines (2-3 KB) kept both
// workers minimizing for their full minute, and a 10 s run made ~10
// executions.
func FuzzRead(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.jsonl")
	more, _ := filepath.Glob("testdata/classify/*.jsonl")
	for _, p := range append(paths, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		header := seedLine(f, lines[0])
		seen := make(map[string]bool)
		for _, l := range lines[1:] {
			var kind struct {
				Type    string
				Attempt struct{ Phase string }
				Server  struct{ Kind string }
			}
			if err := json.Unmarshal([]byte(l), &kind); err != nil {
				f.Fatalf("%s: %v", p, err)
			}
			k := kind.Type + "/" + kind.Attempt.Phase + "/" + kind.Server.Kind
			if !seen[k] {
				seen[k] = true
				f.Add([]byte(header + seedLine(f, l)))
			}
		}
	}
	f.Add([]byte(lifecycleSeed))
	f.Add([]byte(`{"type":"run","t":"2026-01-01T00:00:00Z","run":{"schema":1,"id":"x","shards":1000000000}}` + "\n"))
	f.Add([]byte(`{"type":"run","t":"2026-01-01T00:00:00Z","run":{"schema":1,"id":"x","shard":-1,"shards":2}}` + "\n"))
	f.Add([]byte(`{"type":"attempt","t":"2026-01-01T00:00:00Z","attempt":{"id":"a","phase":"exit"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = report.Summarize(bytes.NewReader(data))
		_, _ = report.Merge([]report.Source{{Name: "a", R: bytes.NewReader(data)}}, nil)
	})
}

// lifecycleSeed is one attempt from spawn to exit with its hook call: the
// one-event seeds reach no latency figures.
const lifecycleSeed = `{"type":"run","t":"2026-01-01T00:00:00Z","run":{"schema":1,"id":"x"}}
{"type":"attempt","t":"2026-01-01T00:00:01Z","attempt":{"id":"a","phase":"spawn","group":"g","stream":"s"}}
{"type":"hook","t":"2026-01-01T00:00:02Z","hook":{"seq":1,"action":"on_publish","attempt":"a","stream":"s","arrived":"2026-01-01T00:00:01.5Z","answered":"2026-01-01T00:00:02Z","status":200,"verdict":"allow"}}
{"type":"attempt","t":"2026-01-01T00:00:02Z","attempt":{"id":"a","phase":"publishing","group":"g","stream":"s"}}
{"type":"attempt","t":"2026-01-01T00:00:03Z","attempt":{"id":"a","phase":"exit","group":"g","stream":"s","class":"failed"}}
`

func TestLifecycleSeedHasLatencies(t *testing.T) {
	s, err := report.Summarize(strings.NewReader(lifecycleSeed))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range s.Latency {
		got = append(got, fmt.Sprintf("%s=%g", r.Metric, r.Max))
	}
	if want := []string{"hook_latency=500.223", "publish_start=1000.447"}; !slices.Equal(got, want) {
		t.Errorf("latency rows %v, want %v", got, want)
	}
}

// seedLine returns a results line with its strings cut to 40 bytes, its
// lists to 3 entries (an attempt's stderr tail, a connection's wire marks)
// and the header's free text left out: the same kinds of fields in a
// fraction of the bytes.
func seedLine(f *testing.F, line string) string {
	var v any
	if err := json.Unmarshal([]byte(line), &v); err != nil {
		f.Fatal(err)
	}
	var cut func(v any) any
	cut = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				switch k {
				case "versions", "publisher_args", "target": // free text the report only prints
					delete(x, k)
				case "options": // only fanout_open is read
					o, _ := e.(map[string]any)
					x[k] = map[string]any{}
					if v, ok := o["fanout_open"]; ok {
						x[k] = map[string]any{"fanout_open": v}
					}
				default:
					x[k] = cut(e)
				}
			}
		case []any:
			x = x[:min(len(x), 3)]
			for i, e := range x {
				x[i] = cut(e)
			}
			return x
		case string:
			return x[:min(len(x), 40)]
		}
		return v
	}
	b, err := json.Marshal(cut(v))
	if err != nil {
		f.Fatal(err)
	}
	return string(b) + "\n"
}

// A line longer than any event rtmpload writes is refused, not held whole.
func TestReadRefusesLongLines(t *testing.T) {
	data := `{"type":"run","t":"2026-01-01T00:00:00Z","run":{"schema":1,"id":"x"}}` + "\n" + `{"type":"state","x":"` + strings.Repeat("a", 5<<20) + "\"}\n"
	err := schema.Read(strings.NewReader(data), func(schema.Event) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "line 2 is longer than") {
		t.Errorf("a 5 MiB line: %v", err)
	}
}
