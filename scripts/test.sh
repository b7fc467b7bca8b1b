#!/usr/bin/env bash
# The project's test command: what CI runs (.ci/run) and what README names.
# Formatting, vet, then every test with the race detector, end-to-end tests
# with real ffmpeg included.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

scripts/deps.sh --test

# The SRS tests (conformance, API comparison) run against the SRS binary
# that RTMPLOAD_SRS names, and skip, saying so, when it is unset. CI's
# checkout has SRS 7.0.18 beside it, in ../shared/srs: use it, and fail
# rather than skip when it does not run.
if [ -z "${RTMPLOAD_SRS:-}" ] && [ -e ../shared/srs/install.sh ]; then
	RTMPLOAD_SRS=$(bash ../shared/srs/install.sh)
	export RTMPLOAD_SRS
	echo "test: SRS tests use $RTMPLOAD_SRS" >&2
fi

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt: these files need 'gofmt -w': $unformatted" >&2
	exit 1
fi
echo "test: vet at ${SECONDS}s" >&2
go vet ./...
echo "test: building the tests at ${SECONDS}s" >&2
# Build every test binary first, on every core (-exec true runs none of
# them): the run below, one package at a time, would otherwise also compile
# one package at a time, minutes on a fresh machine's empty build cache.
go test -race -count=1 -exec true ./... >/dev/null
echo "test: running the tests at ${SECONDS}s" >&2
# One package at a time: the end-to-end tests of cmd/ and runner/ each start
# dozens of real ffmpeg processes, and two such packages at once on a 2-core
# machine starve them.
go test -race -count=1 -p 1 -timeout 30m ./...
echo "test: fuzzing at ${SECONDS}s" >&2
# Fuzz the parsers that read outside input, briefly (seed corpus plus 10 s
# each): the scenario parser, the results reader, the hook's request parsing.
# The three at once, a worker each: their instrumented builds then share
# the cores too (one after another they cost a minute on a cold cache).
fuzzlogs=$(mktemp -d)
pids=()
for target in 'FuzzParse ./scenarios' 'FuzzRead ./report' 'FuzzReadRequest ./hook'; do
	set -- $target
	go test -run '^$' -fuzz "^$1\$" -fuzztime 10s -parallel 1 "$2" >"$fuzzlogs/$1" 2>&1 &
	pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
cat "$fuzzlogs"/*
rm -rf "$fuzzlogs"
if [ "$failed" != 0 ]; then
	echo "fuzz: a target failed (its output is above)" >&2
	exit 1
fi
echo "test: done in ${SECONDS}s" >&2
