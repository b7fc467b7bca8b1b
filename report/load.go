package report

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rtmpload/rtmpload/schema"
)

// Summarize reads a results stream and returns its summary.
func Summarize(r io.Reader) (*Summary, error) {
	b := NewBuilder()
	if err := schema.Read(r, b.Add); err != nil {
		return nil, err
	}
	return b.Summary(), nil
}

// Load reads a results file and returns its summary.
func Load(path string) (*Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := Summarize(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// WriteFile writes a rendering of the summary atomically (report.json,
// report.html): a reader never sees half a report.
func WriteFile(path string, s *Summary, x Extras, render func(io.Writer, *Summary, Extras) error) error {
	return WriteAtomic(path, func(w io.Writer) error { return render(w, s, x) })
}

// WriteAtomic writes a file through a temporary file in the same directory,
// synced and then renamed over path: an interrupt or a failed write at any
// moment leaves either the old file whole or the new one, never a truncated
// one. The file is readable by all (0644), as os.WriteFile would make it.
func WriteAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
