#!/usr/bin/env bash
# Exchange benchmark: Mailroom's Graph and EWS ingest of COUNT messages and its sending of SENDS
# replies over each, against the local servers (Tests/ExchangeServers), next to the reference
# clients in the same run: exchangelib (EWS) and the Microsoft Graph SDK (Graph) reading the same
# messages' MIME and sending as many messages.
# Usage: benchmarks/exchange/run.sh [COUNT] [SENDS]   (defaults 10000 and 1000). Run after `swift build --build-tests`.
# GRAPH_LATENCY_MS=50 makes every Graph request wait 50 ms (a service a network away), for $batch's round trips.
set -euo pipefail

COUNT=${1:-10000}
SENDS=${2:-1000}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
STATE=$(mktemp -d /tmp/mailroom-exchange-bench.XXXXXX)
chmod 755 "$STATE"
cleanup() {
    "$ROOT/scripts/services/exchange" stop "$STATE/exchange" || true
    rm -rf "$STATE"
}
trap cleanup EXIT
log() { echo "bench: $*" >&2; }

set -a
eval "$("$ROOT/scripts/services/exchange" start "$STATE/exchange")"
set +a
PY=$MAILROOM_TEST_EXCHANGE_PYTHON

fill() { # mailbox count
    "$PY" - "$1" "$2" <<'FILL'
import json, os, ssl, sys, urllib.parse, urllib.request
mailbox, count = sys.argv[1], int(sys.argv[2])
context = ssl.create_default_context(cafile=os.environ["MAILROOM_TEST_EXCHANGE_CA"])
url = f"{os.environ['MAILROOM_TEST_GRAPH_CONTROL_URL']}/mailboxes/{urllib.parse.quote(mailbox)}/messages/bulk"
request = urllib.request.Request(url, json.dumps({"count": count, "bodyBytes": 2000}).encode(), {"Content-Type": "application/json"})
urllib.request.urlopen(request, context=context, timeout=600).read()
FILL
}

suffix=$(date +%s)
GRAPH_BOX="bench-graph-$suffix@$MAILROOM_TEST_EXCHANGE_DOMAIN"
EWS_BOX="bench-ews-$suffix@$MAILROOM_TEST_EXCHANGE_DOMAIN"
log "filling two mailboxes with $COUNT messages each"
fill "$GRAPH_BOX" "$COUNT"
fill "$EWS_BOX" "$COUNT"
if [ "${GRAPH_LATENCY_MS:-0}" != 0 ]; then
    # Each Graph request waits this long: round trips cost what they cost against a distant service.
    log "Graph answers after ${GRAPH_LATENCY_MS} ms"
    "$PY" - "$GRAPH_LATENCY_MS" <<'LATENCY'
import json, os, ssl, sys, urllib.request
context = ssl.create_default_context(cafile=os.environ["MAILROOM_TEST_EXCHANGE_CA"])
request = urllib.request.Request(os.environ["MAILROOM_TEST_GRAPH_CONTROL_URL"] + "/settings",
                                 json.dumps({"latencyMs": float(sys.argv[1])}).encode(), {"Content-Type": "application/json"})
urllib.request.urlopen(request, context=context, timeout=60).read()
LATENCY
fi

log "Mailroom (ingest without deleting, then $SENDS sends over each)"
cd "$ROOT"
MAILROOM_BENCH_GRAPH_MAILBOX=$GRAPH_BOX MAILROOM_BENCH_EWS_MAILBOX=$EWS_BOX MAILROOM_BENCH_SENDS=$SENDS \
    swift test --skip-build --filter ExchangeBenchmarkTests 2>&1 | grep '^BENCH' | sed 's/^BENCH //'

log "reference clients on the same mailboxes"
"$PY" "$HERE/reference.py" graph-read "$GRAPH_BOX"
"$PY" "$HERE/reference.py" graph-read-batched "$GRAPH_BOX"
"$PY" "$HERE/reference.py" ews-read "$EWS_BOX"
"$PY" "$HERE/reference.py" graph-send "bench-gsend-$suffix@$MAILROOM_TEST_EXCHANGE_DOMAIN" "$SENDS"
"$PY" "$HERE/reference.py" ews-send "bench-esend-$suffix@$MAILROOM_TEST_EXCHANGE_DOMAIN" "$SENDS"
