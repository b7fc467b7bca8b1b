package main

import (
	"fmt"
	"io"

	"github.com/rtmpload/rtmpload/scenarios"
)

func scenariosCmd(args []string, stdout io.Writer) error {
	fs := newFlags("scenarios", stdout)
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, s := range scenarios.Builtins() {
		if _, err := fmt.Fprintf(stdout, "%-20s %s\n", s.Name, s.Description); err != nil {
			return err
		}
	}
	return nil
}
