#!/usr/bin/env bash
# Outbox throughput: the outbox sender (SQLite store, claims, attempt log, SMTP) sending COUNT
# replies of about SIZE bytes to Postfix's smtp-sink over 1 and 4 connections, next to Postfix's
# smtp-source sending the same number and size of messages to the same sink, in the same run.
# Usage: benchmarks/outbox/run.sh [COUNT] [SIZE]   (run as root; installs postfix if missing)
# MAILROOM_BENCH_SCRATCH: the release build's scratch path (default .build-release in the tree).
set -euo pipefail
count="${1:-10000}"
size="${2:-5000}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

if ! command -v smtp-source >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -qq && apt-get install -y -qq --no-install-recommends postfix >/dev/null
fi

scratch="${MAILROOM_BENCH_SCRATCH:-.build-release}"
swift build -c release --scratch-path "$scratch" --product mailroom-bench-outbox >&2
bench="$(swift build -c release --scratch-path "$scratch" --show-bin-path)/mailroom-bench-outbox"

state=$(mktemp -d /tmp/mailroom-bench-outbox.XXXXXX)
chmod 755 "$state"
trap 'scripts/services/smtp-sink stop "$state" >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
eval "$(scripts/services/smtp-sink start "$state" | sed 's/^/export /')"
port="$MAILROOM_TEST_SMTP_SINK_PORT"

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "messages: $count, body about $size bytes, to smtp-sink on 127.0.0.1:$port"
for connections in 1 4; do
    "$bench" 127.0.0.1 "$port" "$count" "$size" "$connections"
    start=$(date +%s.%N)
    smtp-source -d -s "$connections" -m "$count" -l "$size" -f desk@bench.example -t customer@example.com "127.0.0.1:$port"
    end=$(date +%s.%N)
    python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print('smtp-source connections=%s sent=%s seconds=%.2f msg/s=%.0f' % (sys.argv[3], sys.argv[4], s, int(sys.argv[4])/s))" "$start" "$end" "$connections" "$count"
done
