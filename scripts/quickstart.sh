#!/usr/bin/env bash
# Installs ffmpeg when it is missing and runs a real scenario (default: smoke)
# on the embedded SRS-like server, printing its report.
# Usage: scripts/quickstart.sh [SCENARIO] [run flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
scripts/deps.sh
go build -o bin/rtmpload ./cmd/rtmpload
exec bin/rtmpload run "${1:-smoke}" "${@:2}"
