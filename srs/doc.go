// Package srs holds SRS's wire types: the body of its HTTP callbacks and the
// answer that allows a publish, and the shapes of its HTTP API (streams,
// clients, versions). The embedded server serves them, the hook server and
// diagnose send or read them, and the API client decodes them: one definition
// for both ends. It imports nothing from the project, so any package may use
// it, and it is meant to be stable for programs outside rtmpload too (a
// callback service's tests, say). What SRS does with them is described in
// docs/srs-behaviour.md.
package srs
