package schema

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// The words a user types check themselves from a flag and from YAML; the
// words rtmpload writes read back from JSON unchecked.
func TestWordsCheckThemselves(t *testing.T) {
	var m HookMode
	if err := m.Set("conflict"); err != nil || m != HookConflict {
		t.Errorf("Set(conflict) = %q, %v", m, err)
	}
	if err := m.Set("maybe"); err == nil || err.Error() != `unknown hook mode "maybe" (want one of: allow, deny, conflict)` {
		t.Errorf("Set(maybe): %v", err)
	}
	var c Clip
	if err := c.Set("hd"); err == nil || !strings.Contains(err.Error(), "testsrc-720p, testsrc-360p") {
		t.Errorf("Set(hd): %v", err)
	}
	var doc struct {
		Mode HookMode `yaml:"mode"`
		Clip Clip     `yaml:"clip"`
	}
	if err := yaml.Unmarshal([]byte("mode: deny\nclip: testsrc-360p\n"), &doc); err != nil || doc.Mode != HookDeny || doc.Clip != Clip360p {
		t.Errorf("yaml: %+v, %v", doc, err)
	}
	if err := yaml.Unmarshal([]byte("mode: maybe\n"), &doc); err == nil || !strings.Contains(err.Error(), `unknown hook mode "maybe"`) {
		t.Errorf("yaml mode maybe: %v", err)
	}
	// JSON stays the plain string, and an unknown word (a newer file's) loads.
	var out struct {
		Outcome Outcome       `json:"outcome"`
		State   CallbackState `json:"state"`
	}
	if err := json.Unmarshal([]byte(`{"outcome":"some_new_outcome","state":"down"}`), &out); err != nil || out.Outcome != "some_new_outcome" || out.State != StateDown {
		t.Errorf("json: %+v, %v", out, err)
	}
	if b, _ := json.Marshal(struct{ A ExitClass }{ClassStopped}); string(b) != `{"A":"stopped"}` {
		t.Errorf("json: %s", b)
	}
}
