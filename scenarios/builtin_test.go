package scenarios

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rtmpload/rtmpload/schema"
)

func TestBuiltinsListAndLoad(t *testing.T) {
	infos := Builtins()
	var names []string
	for _, info := range infos {
		names = append(names, info.Name)
		if info.Description == "" || strings.HasPrefix(info.Description, "invalid") {
			t.Errorf("built-in %s: description %q", info.Name, info.Description)
		}
		s, err := Builtin(info.Name)
		if err != nil {
			t.Errorf("built-in %s: %v", info.Name, err)
			continue
		}
		if s.Name != info.Name || s.Source != "builtin:"+info.Name {
			t.Errorf("built-in %s: Name %q Source %q", info.Name, s.Name, s.Source)
		}
	}
	if !slices.IsSorted(names) || !slices.Contains(names, "smoke") || !slices.Contains(names, "duplicate-contest") {
		t.Errorf("Builtins() names = %v", names)
	}
	if _, err := Builtin("nope"); err == nil || !strings.Contains(err.Error(), "smoke") {
		t.Errorf("Builtin(nope) = %v; want an error listing the built-ins", err)
	}
	if _, err := Builtin("../builtin/smoke"); err == nil {
		t.Error("Builtin accepted a path")
	}
}

func TestBuiltinSmoke(t *testing.T) {
	s, err := Builtin("smoke")
	if err != nil {
		t.Fatal(err)
	}
	slots := s.Schedule()
	if len(slots) != 5 || s.Duration != 15*time.Second || s.Hook.Mode != schema.HookAllow {
		t.Fatalf("smoke: %d slots, duration %v, hook %q", len(slots), s.Duration, s.Hook.Mode)
	}
	seen := map[string]bool{}
	for _, slot := range slots {
		if seen[slot.Stream] || slot.Start >= 2*time.Second || slot.Stop != s.Duration {
			t.Errorf("smoke slot %+v: names must be distinct, starts within 2s, live to the end", slot)
		}
		seen[slot.Stream] = true
	}
	if !seen["smoke-00"] || !seen["smoke-04"] {
		t.Errorf("smoke names = %v", seen)
	}
}

func TestBuiltinDuplicateContest(t *testing.T) {
	s, err := Builtin("duplicate-contest")
	if err != nil {
		t.Fatal(err)
	}
	if s.Hook.Mode != schema.HookAllow || s.Duration < 15*time.Second || s.Duration > 30*time.Second {
		t.Errorf("hook %q, duration %v", s.Hook.Mode, s.Duration)
	}
	byName := map[string][]Slot{}
	for _, slot := range s.Schedule() { // in start order
		byName[slot.Stream] = append(byName[slot.Stream], slot)
	}
	if len(byName) != 10 {
		t.Fatalf("%d distinct names, want 10: %v", len(byName), byName)
	}
	for name, slots := range byName {
		if len(slots) < 2 || len(slots) > 3 {
			t.Errorf("%s: %d publishers, want 2..3", name, len(slots))
			continue
		}
		first := slots[0]
		for _, rival := range slots[1:] {
			// The owner is clearly first and still live when each rival arrives.
			if rival.Start-first.Start < 2*time.Second || first.Stop <= rival.Start {
				t.Errorf("%s: first %+v, rival %+v", name, first, rival)
			}
			if rival.Stop > s.Duration {
				t.Errorf("%s: rival %+v stops after the run", name, rival)
			}
		}
	}
}
