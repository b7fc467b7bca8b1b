// Package schema is the vocabulary rtmpload's packages share: the events of
// a run's results stream (results.jsonl) and the typed words they use
// (outcome, exit class, callback state, hook mode, hook action, clip), and
// the redaction every output applies to secrets (Redact, URL, RedactJSON,
// RedactWriter: publish tokens, passwords in userinfo). It
// imports nothing from the project, so that every package (and a program
// outside rtmpload that reads or writes results) can use it without a cycle.
// Its JSON is the results format: changing a field's meaning bumps Schema
// (docs/design.md, "Results and reports").
package schema
