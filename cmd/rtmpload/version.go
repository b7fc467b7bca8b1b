package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/rtmpload/rtmpload/runner"
)

func versionCmd(args []string, stdout io.Writer) error {
	fs := newFlags("version", stdout)
	if err := fs.Parse(args); err != nil {
		return err
	}
	v := runner.Version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v = "dev-" + s.Value[:12]
			}
		}
	}
	_, err := fmt.Fprintf(stdout, "rtmpload %s %s %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
