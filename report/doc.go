// Package report turns a run's results stream (package schema's events) into
// a bounded summary and renders that summary: report.json, the terminal
// table, Markdown, HTML and JUnit, beside thresholds and a baseline run. It
// also merges the streams of a sharded run into one summary. It imports no
// process, socket or terminal code, and of the project only schema and srs:
// a run's own report and `rtmpload report` are the same code on the same
// stream.
package report
