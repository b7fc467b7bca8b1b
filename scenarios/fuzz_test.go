package scenarios

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary YAML to the scenario parser: it must not panic,
// an error must be a ParseError with a position inside the file, and a
// scenario it accepts must pass Validate, keep within the limits of the
// file as a whole, and have a schedule.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata", "builtin"} {
		paths, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte("duration: 5s\npublishers:\n  - {group: g, count: 1.5, name: n}\n"))
	f.Add([]byte("duration: 5s\npublishers:\n  - {group: g, count: 2, name: \"n-{i%3:020}\", param: \"t={i}\"}\n"))
	// The limits of the file as a whole (limits.go): its size, the depth of
	// [ ] and { }, aliases, the publishers of all groups together.
	f.Add(append([]byte("name: x\n"), bytes.Repeat([]byte("#"), MaxFileBytes)...))
	f.Add([]byte("name: x\nduration: 6s\ndescription: " + strings.Repeat("[", MaxFlowDepth+1) + "\n"))
	f.Add([]byte("name: x\nduration: 6s\nhook: " + strings.Repeat("{a: ", MaxFlowDepth) + "1" + strings.Repeat("}", MaxFlowDepth) + "\n"))
	f.Add([]byte("name: &n x\nduration: 6s\nexpect: [" + strings.Repeat("*n, ", MaxAliases+1) + "]\n"))
	f.Add([]byte("duration: 5s\npublishers:\n  - {group: a, count: 100000, name: \"a{i}\"}\n  - {group: b, count: 1, name: \"b{i}\"}\n"))
	f.Add([]byte("duration: 5s\npublishers:\n  - &g {group: a, count: 60000, name: \"a{i}\"}\n  - *g\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("f.yaml", data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a ParseError", err)
			}
			if len(pe.Error()) > 64<<10 || len(pe.Excerpt) > 64<<10 {
				t.Fatalf("error of %d bytes, excerpt of %d", len(pe.Error()), len(pe.Excerpt))
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate refuses: %v", err)
		}
		if len(data) > MaxFileBytes {
			t.Fatalf("Parse accepted %d bytes", len(data))
		}
		total := 0
		for _, g := range s.Publishers {
			total += g.Count
		}
		if total > MaxPublishers {
			t.Fatalf("Parse accepted %d publishers in all", total)
		}
		if total <= 10000 {
			if n := len(s.Schedule()); n < total {
				t.Fatalf("schedule of %d slots for %d publishers", n, total)
			}
		}
	})
}
