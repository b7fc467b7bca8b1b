package option

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestRename(t *testing.T) {
	inner := New("Options.Target", func(name string) string { return name + ` "x": want rtmp://` })
	inner.Err = fs.ErrNotExist
	err := fmt.Errorf("start: %w", inner)
	if got, want := err.Error(), `start: Options.Target "x": want rtmp://`; got != want {
		t.Fatalf("library text %q, want %q", got, want)
	}
	r := Rename(err, map[string]string{"Options.Target": "--target"})
	if got, want := r.Error(), `start: --target "x": want rtmp://`; got != want {
		t.Errorf("renamed %q, want %q", got, want)
	}
	if !errors.Is(r, fs.ErrNotExist) {
		t.Error("the renamed error no longer wraps the underlying one")
	}

	pair := &Error{Fields: []string{"Config.Publish", "Config.RTMP"}, Text: func(n ...string) string { return n[0] + " needs " + n[1] }}
	if got, want := Rename(pair, map[string]string{"Config.Publish": "--publish"}).Error(), "--publish needs Config.RTMP"; got != want {
		t.Errorf("partly renamed %q, want %q", got, want)
	}
	plain := errors.New("no option")
	if Rename(plain, map[string]string{"Options.Target": "--target"}) != plain {
		t.Error("an error without an option was rewritten")
	}
}
