package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/schema"
)

// FuzzRead feeds arbitrary results streams to the reader, the summary and
// the merge: none may panic.
func FuzzRead(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.jsonl")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		// The header and a handful of events: enough to reach every type,
		// small enough for many executions a second.
		lines := strings.SplitAfter(string(b), "\n")
		f.Add([]byte(strings.Join(lines[:min(len(lines), 12)], "")))
	}
	f.Add([]byte(`{"type":"run","t":"2026-01-01T00:00:00Z","run":{"schema":1,"id":"x","shards":1000000000}}` + "\n"))
	f.Add([]byte(`{"type":"run","t":"2026-01-01T00:00:00Z","run":{"schema":1,"id":"x","shard":-1,"shards":2}}` + "\n"))
	f.Add([]byte(`{"type":"attempt","t":"2026-01-01T00:00:00Z","attempt":{"id":"a","phase":"exit"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = report.Summarize(bytes.NewReader(data))
		_, _ = report.Merge([]report.Source{{Name: "a", R: bytes.NewReader(data)}}, nil)
	})
}

// A line longer than any event rtmpload writes is refused, not held whole.
func TestReadRefusesLongLines(t *testing.T) {
	data := `{"type":"run","t":"2026-01-01T00:00:00Z","run":{"schema":1,"id":"x"}}` + "\n" + `{"type":"state","x":"` + strings.Repeat("a", 5<<20) + "\"}\n"
	err := schema.Read(strings.NewReader(data), func(schema.Event) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "line 2 is longer than") {
		t.Errorf("a 5 MiB line: %v", err)
	}
}
