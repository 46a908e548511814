#!/usr/bin/env bash
# Routing: decisions per second for TICKETS tickets over 50 queues and 1,000 agents (the pure
# state machine, then RoutingService with the SQLite store), and the latency from an ingested
# ticket's commit to its offer event on the live event stream.
# Usage: benchmarks/routing/run.sh [TICKETS] [WORKERS] [LATENCY_SAMPLES]
set -euo pipefail
tickets="${1:-100000}"
workers="${2:-4}"
samples="${3:-1000}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
scratch="${MAILROOM_BENCH_SCRATCH:-.build-release}"

swift build -c release --scratch-path "$scratch" --product mailroom-bench-routing >&2
bench="$(swift build -c release --scratch-path "$scratch" --show-bin-path)/mailroom-bench-routing"

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit: $(git rev-parse --short HEAD)"
# Line-buffered, so the figures already printed survive a failure later in the run.
stdbuf -oL "$bench" --tickets "$tickets" --workers "$workers" --latency-samples "$samples"
