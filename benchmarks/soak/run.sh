#!/usr/bin/env bash
# Soak under faults: `mailroom serve` (release build) for a long stretch with SOAK_MAILBOXES
# mailboxes on Dovecot receiving mail at a steady rate, agents' replies going through the outbox
# to smtp-sink, and a steady API read load, while faults are injected. Two phases share the time:
#   postgres: cluster mode on PostgreSQL; faults: Dovecot restart, smtp-sink stopped for minutes,
#             PostgreSQL restart
#   sqlite:   the data directory on a small loop-mounted ext4; faults: Dovecot restart, smtp-sink
#             stopped, the file system filled to its last MB and freed again
# At the end of each phase: every delivered message stored exactly once, every reply received by
# smtp-sink exactly once, no mail left in the mailboxes (deleteOnFetch), RSS and open files over
# time and p99 API latency per 30 s (PNG plots), and each fault's recovery time (report.md).
#
# Usage: benchmarks/soak/run.sh [SECONDS]      (run as root; default 3600, or SOAK_SECONDS)
# Knobs: SOAK_PHASES ("postgres sqlite"), SOAK_MAILBOXES (200), SOAK_MAIL_RATE (messages/s, 2),
#        SOAK_REPLY_RATE (replies/s, 0.5), SOAK_API_RATE (reads/s, 5), SOAK_FS_MB (256),
#        SOAK_OUT (where results go; default /tmp/mailroom-soak-DATE), MAILROOM_BENCH_SCRATCH
#        (the release build's scratch path, default .build-release), MAILROOM_SOAK_BINARY (a mailroom
#        binary to run instead of building one).
set -euo pipefail
duration="${1:-${SOAK_SECONDS:-3600}}"
phases=(${SOAK_PHASES:-postgres sqlite})
# Dovecot takes an inotify instance per IDLE connection: 200 mailboxes are past the common default
# of 128 per user, past which Dovecot falls back to polling and new mail waits for the next check.
if [ -w /proc/sys/fs/inotify/max_user_instances ] && [ "$(cat /proc/sys/fs/inotify/max_user_instances)" -lt 1024 ]; then
    echo 1024 > /proc/sys/fs/inotify/max_user_instances || true
fi
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
out="${SOAK_OUT:-/tmp/mailroom-soak-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out"

need=()
for package in dovecot-imapd postfix postgresql e2fsprogs python3-venv util-linux; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || need+=("$package")
done
if [ "${#need[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
venv="${XDG_CACHE_HOME:-$HOME/.cache}/mailroom-test/soak-venv"
if ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check 'matplotlib==3.9.2'
fi

if [ -n "${MAILROOM_SOAK_BINARY:-}" ]; then
    mailroom="$MAILROOM_SOAK_BINARY"
else
    scratch="${MAILROOM_BENCH_SCRATCH:-.build-release}"
    swift build -c release --scratch-path "$scratch" --product mailroom >&2
    mailroom="$(swift build -c release --scratch-path "$scratch" --show-bin-path)/mailroom"
fi

state=$(mktemp -d /tmp/mailroom-soak-state.XXXXXX)
chmod 755 "$state"
# The machine's load over the run (other work on it shows in the figures).
( while sleep 30; do echo "$(date -u +%FT%TZ) $(cut -d' ' -f1-3 /proc/loadavg)"; done ) > "$out/loadavg.txt" &
sampler=$!
cleanup() {
    kill "$sampler" 2>/dev/null || true
    [ -f "$state/sink.pid" ] && kill "$(cat "$state/sink.pid")" 2>/dev/null || true
    scripts/services/dovecot stop "$state/dovecot" >/dev/null 2>&1 || true
    scripts/services/postgres stop "$state/postgres" >/dev/null 2>&1 || true
    mountpoint -q "$state/sqlite-data" && umount "$state/sqlite-data" || true
    rm -rf "$state"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

eval "$(scripts/services/dovecot start "$state/dovecot" | sed 's/^/export /')"
sink=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
sink_port=$(free_port)
mkdir -p "$state/dump" && chmod 777 "$state/dump"
cat > "$state/sink-start" <<SINK
#!/usr/bin/env bash
setsid "$sink" -u nobody -d "$state/dump/%H%M%S." 127.0.0.1:$sink_port 256 </dev/null >>"$state/sink.log" 2>&1 &
echo \$! > "$state/sink.pid"
for _ in \$(seq 1 100); do
    python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.5); s.close()' $sink_port 2>/dev/null && exit 0
    sleep 0.1
done
exit 1
SINK
chmod +x "$state/sink-start"
"$state/sink-start"

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out/machine.txt"
echo "soak: ${duration} s over phases ${phases[*]}; results in $out" | tee -a "$out/machine.txt"
per_phase=$(python3 -c "print($duration / ${#phases[@]})")
for phase in "${phases[@]}"; do
    common=(--name "soak${phase:0:2}" --mailroom "$mailroom" --http-port "$(free_port)"
            --imap-port "$MAILROOM_TEST_IMAP_PORT" --imap-password "$MAILROOM_TEST_DOVECOT_PASSWORD"
            --dovecot-conf "$state/dovecot/dovecot.conf" --smtp-port "$sink_port" --sink-dump "$state/dump"
            --sink-pid-file "$state/sink.pid" --sink-start "$state/sink-start" --duration "$per_phase"
            --mailboxes "${SOAK_MAILBOXES:-200}" --mail-rate "${SOAK_MAIL_RATE:-2}" --reply-rate "${SOAK_REPLY_RATE:-0.5}"
            --api-rate "${SOAK_API_RATE:-5}" --out "$out/$phase")
    case "$phase" in
    postgres)
        eval "$(scripts/services/postgres start "$state/postgres" | sed 's/^/export /')"
        pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
        mkdir -p "$state/pg-data-dir"
        python3 "$here/soak.py" "${common[@]}" --data-dir "$state/pg-data-dir" --database-url "$MAILROOM_TEST_POSTGRES_URL" \
            --pg-ctl "$pg_bin/pg_ctl" --pg-data "$state/postgres/data"
        scripts/services/postgres stop "$state/postgres" >/dev/null 2>&1 || true
        ;;
    sqlite)
        truncate -s "${SOAK_FS_MB:-256}M" "$state/fs.img"
        mkfs.ext4 -q -m 0 "$state/fs.img"
        mkdir -p "$state/sqlite-data"
        mount -o loop "$state/fs.img" "$state/sqlite-data"
        python3 "$here/soak.py" "${common[@]}" --data-dir "$state/sqlite-data"
        umount "$state/sqlite-data"
        ;;
    *) echo "unknown phase $phase" >&2; exit 2 ;;
    esac
done
"$venv/bin/python" "$here/report.py" "$out"
echo "results: $out"
