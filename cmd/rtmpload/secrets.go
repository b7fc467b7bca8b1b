package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/rtmpload/rtmpload/schema"
)

// secretFlags adds --redact and --show-secrets to a command's flags. The
// returned func, called once the flags are parsed, sets the process's
// redaction policy: every output of the command (terminal, results, reports,
// logs, error messages) follows it; what goes to the server and to ffmpeg
// never changes.
func secretFlags(fs *pflag.FlagSet) func() error {
	names := fs.StringArray("redact", nil, "also hide the value of query parameters of this name in every output, e.g. --redact tenant (repeatable; token, sign, txSecret, auth_key, passwords and the like are hidden already)")
	show := fs.Bool("show-secrets", false, "show publish tokens and passwords in every output, for a private debugging run (the results then hold secrets)")
	return func() error {
		for _, n := range *names {
			if n == "" || strings.ContainsAny(n, "=&?# \t\n") {
				return fmt.Errorf("--redact %q: want the name of a query parameter, such as tenant", n)
			}
			if strings.EqualFold(n, "rtmpload") {
				return fmt.Errorf("--redact rtmpload: rtmpload=<id> is each attempt's id, which reports join on; it is not a secret")
			}
		}
		schema.SetRedactPolicy(schema.RedactPolicy{Show: *show, Names: *names})
		return nil
	}
}
