package main

import "github.com/rtmpload/rtmpload/runner"

// Flag values with structure parse at the edge into the typed values runner
// takes. runner's errors describe the value; pflag adds the flag's name
// (`invalid argument "x" for "--server" flag: ...`).

// serverFlag is --server: embedded | nginx-rtmp | srs=PATH.
type serverFlag struct{ runner.ServerSpec }

func (f *serverFlag) Set(s string) (err error) {
	f.ServerSpec, err = runner.ParseServerSpec(s)
	return err
}

func (f *serverFlag) Type() string { return "KIND" }

// hookFlag is --hook: serve | proxy=URL | external.
type hookFlag struct{ runner.HookPlan }

func (f *hookFlag) Set(s string) (err error) {
	f.HookPlan, err = runner.ParseHookPlan(s)
	return err
}

func (f *hookFlag) Type() string { return "PLAN" }
