package scenarios

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

const builtinPrefix = "builtin:"

// Builtin parses the built-in scenario with the given name (with or without "builtin:").
func Builtin(name string) (*Scenario, error) {
	name = strings.TrimPrefix(name, builtinPrefix)
	data, err := builtinFS.ReadFile(path.Join("builtin", name+".yaml"))
	if err != nil || strings.ContainsAny(name, "/\\") {
		return nil, fmt.Errorf("unknown built-in scenario %q (built-ins: %s)", name, strings.Join(builtinNames(), ", "))
	}
	return Parse(builtinPrefix+name, data)
}

// Info describes a built-in scenario.
type Info struct {
	Name, Description string
}

// Builtins lists the built-in scenarios sorted by name.
func Builtins() []Info {
	var infos []Info
	for _, name := range builtinNames() {
		info := Info{Name: name}
		if s, err := Builtin(name); err != nil {
			// Tests keep this from happening; listing it beats hiding a scenario.
			info.Description = "invalid: " + err.Error()
		} else {
			info.Description = s.Description
		}
		infos = append(infos, info)
	}
	return infos
}

func builtinNames() []string {
	files, _ := fs.Glob(builtinFS, "builtin/*.yaml")
	names := make([]string, 0, len(files))
	for _, f := range files {
		names = append(names, strings.TrimSuffix(path.Base(f), ".yaml"))
	}
	slices.Sort(names)
	return names
}

// Resolve finds a scenario by command-line argument: an existing file, else a built-in name
// (also accepted as "builtin:<name>", the form recorded in Scenario.Source). Ending ctx ends
// the reading of a file (Load).
func Resolve(ctx context.Context, arg string) (*Scenario, error) {
	if _, err := os.Stat(arg); err == nil {
		return Load(ctx, arg)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	name := strings.TrimPrefix(arg, builtinPrefix)
	if slices.Contains(builtinNames(), name) {
		return Builtin(name)
	}
	return nil, fmt.Errorf("scenario %q: no such file and no such built-in (built-ins: %s)", arg, strings.Join(builtinNames(), ", "))
}
