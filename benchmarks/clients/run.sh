#!/usr/bin/env bash
# Benchmarks of Mailroom's protocol clients against local servers, next to reference clients
# in the same run:
#   IMAP: fetch COUNT messages of a generated corpus from Dovecot (Mailroom vs Python imaplib vs mbsync)
#   SMTP: send COUNT messages to Postfix's smtp-sink (Mailroom vs Postfix's smtp-source)
# Usage: benchmarks/clients/run.sh [COUNT] [ROUNDS]    (defaults 10000 and 3)
# Needs: dovecot-imapd, postfix (smtp-sink/smtp-source), isync (mbsync), python3.
set -euo pipefail

COUNT=${1:-10000}
ROUNDS=${2:-3}
SMTP_SIZE=${SMTP_SIZE:-5000}
BATCH=${BATCH:-500}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
STATE=$(mktemp -d /tmp/mailroom-client-bench.XXXXXX)
chmod 755 "$STATE"

cleanup() {
    "$ROOT/scripts/services/dovecot" stop "$STATE/dovecot" || true
    "$ROOT/scripts/services/smtp-sink" stop "$STATE/smtp-sink" || true
    rm -rf "$STATE"
}
trap cleanup EXIT

log() { echo "bench: $*" >&2; }
now() { python3 -c 'import time; print(time.monotonic())'; }

set -a
eval "$("$ROOT/scripts/services/dovecot" start "$STATE/dovecot")"
eval "$("$ROOT/scripts/services/smtp-sink" start "$STATE/smtp-sink")"
set +a

USER_NAME=bench@example.test
MAILDIR="$MAILROOM_TEST_MAIL_ROOT/$USER_NAME/Maildir"
log "generating $COUNT messages"
python3 "$HERE/make_corpus.py" "$MAILDIR" "$COUNT"
chown -R nobody:nogroup "$MAILROOM_TEST_MAIL_ROOT/$USER_NAME"
CORPUS_BYTES=$(cat "$MAILDIR"/cur/* | wc -c)

if [ -n "${BENCH_BIN:-}" ]; then
    BIN=$BENCH_BIN
else
    log "building mailroom-client-bench (release)"
    (cd "$ROOT" && swift build -c release --product mailroom-client-bench >&2)
    BIN="$(cd "$ROOT" && swift build -c release --show-bin-path)/mailroom-client-bench"
fi

log "warming up (Dovecot builds its index, the page cache fills)"
python3 "$HERE/imaplib_fetch.py" 127.0.0.1 "$MAILROOM_TEST_IMAP_PORT" "$USER_NAME" "$MAILROOM_TEST_DOVECOT_PASSWORD" "$BATCH" >/dev/null

mbsync_run() {
    local dir="$STATE/mbsync-$1"
    mkdir -p "$dir/local"
    cat > "$dir/mbsyncrc" <<CONF
FSync no

IMAPAccount bench
Host 127.0.0.1
Port $MAILROOM_TEST_IMAP_PORT
User $USER_NAME
Pass $MAILROOM_TEST_DOVECOT_PASSWORD
SSLType None
AuthMechs PLAIN

IMAPStore remote
Account bench

MaildirStore local
Path $dir/local/
Inbox $dir/local/INBOX

Channel bench
Far :remote:
Near :local:
Patterns INBOX
Sync Pull
Create Near
SyncState *
CONF
    local start end
    start=$(now)
    /usr/bin/time -f '%U %S' -o "$STATE/cpu" mbsync -q -c "$dir/mbsyncrc" bench >&2
    end=$(now)
    local got
    got=$(find "$dir/local/INBOX" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | wc -l)
    python3 -c "import json,sys; print(json.dumps({'client': 'mbsync', 'messages': int(sys.argv[1]), 'bytes': int(sys.argv[2]), 'seconds': float(sys.argv[4]) - float(sys.argv[3]), 'cpu': sum(map(float, open(sys.argv[5]).read().split()[:2]))}))" "$got" "$CORPUS_BYTES" "$start" "$end" "$STATE/cpu"
    rm -rf "$dir"
}

smtp_source_run() {
    local start end
    start=$(now)
    /usr/bin/time -f '%U %S' -o "$STATE/cpu" smtp-source -d -s 1 -m "$COUNT" -l "$SMTP_SIZE" -f bench@example.test -t sink@example.test "127.0.0.1:$MAILROOM_TEST_SMTP_SINK_PORT" >&2
    end=$(now)
    python3 -c "import json,sys; print(json.dumps({'client': 'smtp-source', 'messages': int(sys.argv[1]), 'bytes': int(sys.argv[1]) * int(sys.argv[2]), 'seconds': float(sys.argv[4]) - float(sys.argv[3]), 'cpu': sum(map(float, open(sys.argv[5]).read().split()[:2]))}))" "$COUNT" "$SMTP_SIZE" "$start" "$end" "$STATE/cpu"
}

# Runs a client that prints one JSON line, adding the CPU seconds (user+sys) it used.
timed() {
    local out cpu
    out=$(/usr/bin/time -f '%U %S' -o "$STATE/cpu" "$@")
    cpu=$(awk '{print $1 + $2}' "$STATE/cpu")
    python3 -c "import json,sys; d=json.loads(sys.argv[1]); d['cpu']=float(sys.argv[2]); print(json.dumps(d))" "$out" "$cpu"
}

RESULTS="$STATE/results.jsonl"
: > "$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
    log "round $round: IMAP"
    timed "$BIN" imap 127.0.0.1 "$MAILROOM_TEST_IMAP_PORT" "$USER_NAME" "$MAILROOM_TEST_DOVECOT_PASSWORD" "$BATCH" | tee -a "$RESULTS" >&2
    timed python3 "$HERE/imaplib_fetch.py" 127.0.0.1 "$MAILROOM_TEST_IMAP_PORT" "$USER_NAME" "$MAILROOM_TEST_DOVECOT_PASSWORD" "$BATCH" | tee -a "$RESULTS" >&2
    mbsync_run "$round" | tee -a "$RESULTS" >&2
    log "round $round: SMTP"
    timed "$BIN" smtp 127.0.0.1 "$MAILROOM_TEST_SMTP_SINK_PORT" "$COUNT" "$SMTP_SIZE" | tee -a "$RESULTS" >&2
    smtp_source_run | tee -a "$RESULTS" >&2
done

python3 - "$RESULTS" "$COUNT" "$CORPUS_BYTES" "$ROUNDS" <<'PY'
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
count, corpus, rounds = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print(f"Corpus: {count} messages, {corpus / 1e6:.1f} MB; {rounds} rounds, median shown (min-max seconds).\n")
print("| client | messages | MB | seconds (median) | messages/s | MB/s | range (s) | client CPU s (median) |")
print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
for client in ["mailroom-imap", "python-imaplib", "mbsync", "mailroom-smtp", "smtp-source"]:
    rs = [r for r in rows if r["client"] == client]
    if not rs:
        continue
    secs = [r["seconds"] for r in rs]
    med = statistics.median(secs)
    m, b = rs[0]["messages"], rs[0]["bytes"]
    cpu = statistics.median(r.get("cpu", 0.0) for r in rs)
    print(f"| {client} | {m} | {b / 1e6:.1f} | {med:.2f} | {m / med:.0f} | {b / 1e6 / med:.1f} | {min(secs):.2f}-{max(secs):.2f} | {cpu:.2f} |")
PY
