#!/usr/bin/env bash
# Ingest benchmark (issue 5), all figures in one run on one local Dovecot:
#   1. end-to-end ingest of COUNT messages by `mailroom serve` into SQLite, next to the raw IMAP
#      fetch of the same mailbox (Mailroom's own IMAPClient, and Python imaplib) and to
#      django-helpdesk's `get_email` importing the same mailbox into SQLite;
#   2. delivery-to-commit latency with IDLE over LAT_COUNT messages, next to the moment Dovecot
#      itself announces each message to a bare IDLE client;
#   3. peak RSS of `mailroom serve` with IDLE_ACCOUNTS idle IMAP accounts.
# Usage: benchmarks/ingest/run.sh   (as root: Dovecot's mail files belong to nobody)
# Knobs (environment): BENCH_INGEST_COUNT (10000) BENCH_INGEST_SEED (20261123)
#   BENCH_INGEST_ROUNDS (3: raw fetches and Mailroom ingest, interleaved; medians reported)
#   BENCH_MAILDIR_VSIZE=1 (Maildir file names with ,W= as Dovecot's own delivery writes them; default: S= only)
#   BENCH_LATENCY_COUNT (1000) BENCH_LATENCY_MAILBOXES (5) BENCH_LATENCY_INTERVAL (0.2 s)
#   BENCH_HIBERNATE_MAILBOXES (20: the latency run again with Dovecot's imap-hibernate; 0 skips it)
#   BENCH_HIBERNATE_FETCH_INTERVAL (300 s: the accounts' safety sweep in that run, see BENCHMARKS.md)
#   BENCH_ONLY_LATENCY=1 (only the latency runs: no ingest, django-helpdesk or memory run)
#   BENCH_ONLY_INGEST=1 (only the raw fetches and Mailroom's ingest: a quick rerun, no reference)
#   BENCH_PERF=FILE (perf record of `mailroom serve` during the first round's ingest, into FILE; BENCH_PERF_OPTS, default -g)
#   BENCH_IDLE_ACCOUNTS (1000) BENCH_HELPDESK_TIMEOUT (900 s) BENCH_HELPDESK_DEFAULTS_COUNT (300)
#   BENCH_SKIP_BUILD=1 BENCH_KEEP=1 (keep the work directory)
#   BENCH_SCRATCH (the release build's scratch path; default .build-bench in the repository)
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
count="${BENCH_INGEST_COUNT:-10000}"
rounds="${BENCH_INGEST_ROUNDS:-3}"
seed="${BENCH_INGEST_SEED:-20261123}"
lat_count="${BENCH_LATENCY_COUNT:-1000}"
lat_boxes="${BENCH_LATENCY_MAILBOXES:-5}"
lat_interval="${BENCH_LATENCY_INTERVAL:-0.2}"
hib_boxes="${BENCH_HIBERNATE_MAILBOXES:-20}"
only_latency="${BENCH_ONLY_LATENCY:-0}"
only_ingest="${BENCH_ONLY_INGEST:-0}"
idle_accounts="${BENCH_IDLE_ACCOUNTS:-1000}"
hd_timeout="${BENCH_HELPDESK_TIMEOUT:-900}"
hd_defaults_count="${BENCH_HELPDESK_DEFAULTS_COUNT:-300}"
scratch="${BENCH_SCRATCH:-$root/.build-bench}"
cache="$scratch/bench-ingest"
venv="${BENCH_VENV:-$HOME/.cache/mailroom-bench-ingest-venv}"
token="bench-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"

say() { echo "$*"; }
step() { echo "== $*  [$(date -u +%H:%M:%S)]" >&2; }
now_ms() { python3 -c 'import time; print(int(time.time()*1000))'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# Dovecot's CPU so far: its live processes plus the children its master has reaped (cutime, cstime).
dovecot_ticks() {
    local master; master=$(cat "$dove/run/master.pid")
    { awk '{ print $16 + $17 }' "/proc/$master/stat"
      for p in $master $(pgrep -P "$master"); do awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null; done
    } | awk '{ s += $1 } END { print s }'
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_for_dovecot() {
    for _ in $(seq 1 100); do
        python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.5).close()' "$port" 2>/dev/null && return 0
        sleep 0.1
    done
}

# ---------------------------------------------------------------- prerequisites
if ! command -v dovecot >/dev/null || [ ! -x /usr/lib/dovecot/imap ]; then
    step "installing Dovecot (apt)"
    apt-get update -qq && apt-get install -y -qq dovecot-imapd dovecot-pop3d >/dev/null
fi
if [ "$only_latency" != 1 ] && [ "$only_ingest" != 1 ] && { [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import helpdesk' 2>/dev/null; }; then
    step "installing django-helpdesk into $venv (PyPI)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet django-helpdesk
fi
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    step "building release binaries (swift build -c release --scratch-path $scratch)"
    (cd "$root" && swift build -c release --scratch-path "$scratch" --product mailroom >&2 \
        && swift build -c release --scratch-path "$scratch" --product mailroom-bench-ingest >&2)
fi
bin="$scratch/release"

mkdir -p "$cache"
corpus="$cache/corpus-$count-$seed"
if [ ! -d "$corpus" ]; then
    step "generating corpus: $count messages, seed $seed (benchmarks/mime/gen_corpus.py)"
    rm -rf "$corpus.tmp"
    python3 "$root/benchmarks/mime/gen_corpus.py" "$corpus.tmp" "$count" "$seed" >/dev/null
    mv "$corpus.tmp" "$corpus"
fi

work="$(mktemp -d /tmp/mailroom-bench-ingest.XXXXXX)"
chmod 755 "$work"
dove="$work/dovecot"
mr_pid=""
cleanup() {
    set +e
    if [ -n "$mr_pid" ]; then kill -TERM "$mr_pid" 2>/dev/null; wait "$mr_pid" 2>/dev/null; fi
    "$root/scripts/services/dovecot" stop "$dove" >/dev/null 2>&1
    if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

start_mailroom() { # DATA_DIR -> sets mr_pid, mr_url
    local port; port=$(free_port)
    mkdir -p "$1"
    MAILROOM_ADMIN_TOKEN="$token" "$bin/mailroom" serve --data-dir "$1" --http "127.0.0.1:$port" >"$1.log" 2>&1 &
    mr_pid=$!
    mr_url="http://127.0.0.1:$port"
    for _ in $(seq 1 200); do
        curl -fsS "$mr_url/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$mr_pid" 2>/dev/null || { tail -20 "$1.log" >&2; echo "mailroom serve exited" >&2; exit 1; }
        sleep 0.1
    done
    echo "mailroom serve did not answer /healthz" >&2; exit 1
}
stop_mailroom() {
    kill -TERM "$mr_pid" 2>/dev/null || true
    wait "$mr_pid" 2>/dev/null || true
    mr_pid=""
}

# ---------------------------------------------------------------- Dovecot
step "starting the benchmark Dovecot"
"$root/scripts/services/dovecot" start "$dove" >"$work/dovecot.env"
# shellcheck disable=SC1091
. "$work/dovecot.env"
port="$MAILROOM_TEST_IMAP_PORT"
password="$MAILROOM_TEST_DOVECOT_PASSWORD"
mail_root="$MAILROOM_TEST_MAIL_ROOT"
# The test configuration, plus room for the 1,000-session memory run and Dovecot's default IDLE
# keepalive ("* OK Still here" every 2 minutes instead of every second; it carries no news: new
# mail is announced when Dovecot notices it, see BENCHMARKS.md).
"$root/scripts/services/dovecot" stop "$dove"
cat >>"$dove/dovecot.conf" <<CONF
# --- benchmarks/ingest/run.sh overrides
default_process_limit = $((idle_accounts + 200))
default_client_limit = $((idle_accounts * 4 + 1000))
protocol imap {
  imap_idle_notify_interval = 2 mins
}
CONF
dovecot -c "$dove/dovecot.conf"
wait_for_dovecot

step "delivering the corpus into 4 mailboxes (Maildir files, as an MDA does)"
for user in bench-raw bench-rawpy bench-mailroom bench-helpdesk; do
    MAILDIR_VSIZE="${BENCH_MAILDIR_VSIZE:-0}" python3 "$here/maildir.py" fill "$corpus" "$mail_root/$user/Maildir" >"$work/fill-$user"
done
python3 "$here/maildir.py" fill "$corpus" "$mail_root/bench-hddefault/Maildir" "$hd_defaults_count" >/dev/null
python3 "$here/maildir.py" empty "$mail_root" bench-lat "$lat_boxes"
python3 "$here/maildir.py" empty "$mail_root" bench-latw "$lat_boxes"
if [ "$hib_boxes" -gt 0 ]; then
    python3 "$here/maildir.py" empty "$mail_root" bench-hib "$hib_boxes"
    python3 "$here/maildir.py" empty "$mail_root" bench-hibw "$hib_boxes"
fi
python3 "$here/maildir.py" empty "$mail_root" bench-idle "$idle_accounts"
chown -R nobody:nogroup "$mail_root"
read -r corpus_msgs corpus_bytes <"$work/fill-bench-raw"
# Open every mailbox once so Dovecot's one-time work (new/ -> cur/, index files) is not timed for anyone.
for user in bench-raw bench-rawpy bench-mailroom bench-helpdesk bench-hddefault; do
    python3 - "$port" "$user" "$password" <<'PY'
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.login(sys.argv[2], sys.argv[3]); m.select("INBOX"); m.logout()
PY
done

say "# Ingest benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
say "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/Mem:/ {print $2}') GiB RAM; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
say "Dovecot $(dovecot --version | cut -d' ' -f1), Maildir (file names with S=$([ "${BENCH_MAILDIR_VSIZE:-0}" = 1 ] && echo ' and W=')), loopback, plain IMAP (no TLS) for every client"
say "corpus: $corpus_msgs messages, $((corpus_bytes / 1000000)) MB, benchmarks/mime/gen_corpus.py seed $seed"
say ""

if [ "$only_latency" != 1 ]; then
# ---------------------------------------------------------------- 1. raw fetch and Mailroom ingest
# Rounds, interleaved (raw IMAPClient, raw imaplib, Mailroom), so every client sees the same
# conditions; the summary takes each one's median. One round of each takes a second or a few,
# and this machine's speed drifts by more than the differences measured.
ingest_round() { # ROUND: appends one line to $work/rounds
    local r=$1
    step "round $r: raw IMAP fetch (Swift IMAPClient)"
    local dv0; dv0=$(dovecot_ticks)
    "$bin/mailroom-bench-ingest" 127.0.0.1 "$port" bench-raw "$password" 100 >"$work/raw-swift-$r"
    sleep 0.2
    echo "  round $r: Dovecot CPU during the raw fetch (IMAPClient): $(( $(dovecot_ticks) - dv0 )) ticks" >&2
    local raw_msgs raw_bytes raw_secs rawpy_msgs rawpy_secs
    read -r _ raw_msgs raw_bytes raw_secs _ <"$work/raw-swift-$r"
    step "round $r: raw IMAP fetch (Python imaplib)"
    python3 "$here/raw_fetch.py" "$port" bench-rawpy "$password" 100 >"$work/raw-py-$r"
    read -r _ rawpy_msgs _ rawpy_secs _ <"$work/raw-py-$r"

    step "round $r: Mailroom ingest of $count messages (a fresh server and data directory)"
    start_mailroom "$work/mr-ingest-$r"
    local perf_pid=""
    if [ -n "${BENCH_PERF:-}" ] && [ "$r" = 1 ]; then
        perf record ${BENCH_PERF_OPTS:--g} -p "$mr_pid" -o "$BENCH_PERF" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    local cpu0 cpu1 t_create ingest_id idle_pid
    cpu0=$(cpu_ticks "$mr_pid")
    dv0=$(dovecot_ticks)
    # The machine's idle time, sampled every 20 ms, so the share of the cores left idle between the first
    # and the last commit can be told (a pipeline that stalls leaves cores idle; a busy one does not).
    python3 - "$work/idle-samples-$r" <<'PY' &
import sys, time
with open(sys.argv[1], "w") as out:
    for _ in range(60000):
        fields = open("/proc/stat").readline().split()[1:9]
        values = [int(v) for v in fields]
        out.write("%d %d %d\n" % (time.time() * 1000, values[3] + values[4], sum(values)))
        out.flush()
        time.sleep(0.02)
PY
    idle_pid=$!
    t_create=$(now_ms)
    python3 "$here/api.py" create "$mr_url" "$token" "$port" "$password" B bench-mailroom >"$work/ingest-id-$r"
    ingest_id=$(cat "$work/ingest-id-$r")
    python3 "$here/api.py" wait-ingested "$mr_url" "$token" "$ingest_id" "$count" 1200 >"$work/ingest-status-$r"
    cpu1=$(cpu_ticks "$mr_pid")
    echo "  round $r: Dovecot CPU during Mailroom's ingest: $(( $(dovecot_ticks) - dv0 )) ticks" >&2
    kill "$idle_pid" 2>/dev/null; wait "$idle_pid" 2>/dev/null || true
    # Where the CPU went, per thread (the database's event loop thread bounds the rate).
    for t in /proc/"$mr_pid"/task/*; do
        awk -v name="$(cat "$t/comm")" -v switches="$(awk '/ctxt_switches/ { s += $2 } END { print s }' "$t/status")" \
            -v written="$(awk '/^wchar/ { print int($2 / 1048576) }' "$t/io")" \
            '{ if ($14 + $15 > 0) printf "  round %s thread %-20s %6d ticks (user %d, system %d) %8d context switches %8d minor faults %6d MiB written\n", r, name, $14 + $15, $14, $15, switches, $10, written }' r="$r" "$t/stat"
    done | sort -k5 -n -r >&2
    if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
    python3 - "$work/mr-ingest-$r/mailroom.sqlite" "$ingest_id" >"$work/ingest-db-$r" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
n, first, last = db.execute("SELECT count(*), min(created_at), max(created_at) FROM messages WHERE account_id = ?", (sys.argv[2],)).fetchone()
tickets = db.execute("SELECT count(*) FROM tickets WHERE account_id = ?", (sys.argv[2],)).fetchone()[0]
print(n, first, last, tickets)
PY
    stop_mailroom
    local mr_msgs mr_first mr_last mr_tickets mr_quarantined
    read -r mr_msgs mr_first mr_last mr_tickets <"$work/ingest-db-$r"
    awk -v first="$mr_first" -v last="$mr_last" -v r="$r" '
        $1 <= first { i0 = $2; t0 = $3 } $1 <= last { i1 = $2; t1 = $3 }
        END { if (t1 > t0) printf "  round %s: machine idle (or waiting for I/O) between the first and the last commit: %.0f%%\n", r, 100 * (i1 - i0) / (t1 - t0) }
    ' "$work/idle-samples-$r" >&2
    mr_quarantined=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("messagesQuarantined", 0))' "$work/ingest-status-$r")
    echo "$raw_msgs $raw_bytes $raw_secs $rawpy_msgs $rawpy_secs $mr_msgs $mr_first $mr_last $t_create $cpu0 $cpu1 $mr_tickets $mr_quarantined" >>"$work/rounds"
    # The data directory is not looked at again; the next round needs the disk.
    if [ "${BENCH_KEEP:-0}" != 1 ]; then rm -rf "$work/mr-ingest-$r"; fi
}
: >"$work/rounds"
for r in $(seq 1 "$rounds"); do ingest_round "$r"; done
hz=$(getconf CLK_TCK)
# Per round and medians, in the shape both summaries below print from.
python3 - "$work/rounds" "$hz" >"$work/rounds-summary" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
hz = int(sys.argv[2])
out = []
for i, r in enumerate(rows, 1):
    raw_n, raw_b, raw_s, py_n, py_s, mr_n, first, last, created, c0, c1 = r[:11]
    raw = int(raw_n) / float(raw_s)
    py = int(py_n) / float(py_s)
    span = (int(last) - int(first)) / 1000
    mr = (int(mr_n) - 1) / span if span > 0 else float("nan")
    cpu = 1000 * (int(c1) - int(c0)) / hz / int(mr_n)
    out.append((raw, py, mr, cpu, int(mr_n) / ((int(last) - int(created)) / 1000)))
    print("round %d: raw fetch (IMAPClient) %.0f msg/s, raw fetch (imaplib) %.0f msg/s, Mailroom %.0f msg/s, %.2f CPU ms/msg; / raw fetch %.2f"
          % (i, raw, py, mr, cpu, mr / raw))
med = [statistics.median(col) for col in zip(*out)]
print("median: raw %.0f py %.0f mailroom %.0f cpu %.3f total %.0f" % tuple(med))
PY
if [ "$only_ingest" = 1 ]; then
    python3 - "$work/rounds" "$hz" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
hz = int(sys.argv[2])
raws, pys, mrs, cpus, totals = [], [], [], [], []
for r in rows:
    raws.append(int(r[0]) / float(r[2])); pys.append(int(r[3]) / float(r[4]))
    n, first, last, created = int(r[5]), int(r[6]), int(r[7]), int(r[8])
    mrs.append((n - 1) / ((last - first) / 1000)); cpus.append(1000 * (int(r[10]) - int(r[9])) / hz / n)
    totals.append(n / ((last - created) / 1000))
    print("round %d: raw %.0f, imaplib %.0f, Mailroom %.0f msg/s, %.2f CPU ms/msg, ratio %.2f" % (len(raws), raws[-1], pys[-1], mrs[-1], cpus[-1], mrs[-1] / raws[-1]))
med = statistics.median
print("raw fetch (IMAPClient) %.0f msg/s, raw fetch (imaplib) %.0f msg/s (medians of %d rounds)" % (med(raws), med(pys), len(rows)))
print("Mailroom ingest %d messages, %.0f msg/s (first to last commit), %.2f CPU ms/msg; / raw fetch %.2f"
      % (int(rows[0][5]), med(mrs), med(cpus), med(mrs) / med(raws)))
print("Mailroom from account creation to last commit: %.0f msg/s" % med(totals))
PY
    exit 0
fi

# ---------------------------------------------------------------- 1b. django-helpdesk
hd_python="$venv/bin/python"
hd_version=$("$hd_python" -c 'import importlib.metadata as m; print(m.version("django-helpdesk"), "/ Django", m.version("django"))')
run_helpdesk() { # NAME MAILBOX_USER SQLITE_MODE TIMEOUT
    local dir="$work/helpdesk-$1"
    mkdir -p "$dir"
    echo "0 0 1 0" >"$dir/timing"
    echo "0 0" >"$dir/counts"
    if ! (cd "$here/helpdesk_project" && export HELPDESK_BENCH_DIR="$dir" HELPDESK_SQLITE="$3" \
        HD_IMAP_PORT="$port" HD_IMAP_USER="$2" HD_IMAP_PASSWORD="$password" \
        && "$hd_python" manage.py migrate -v0 >"$dir/setup.log" 2>&1 \
        && "$hd_python" manage.py shell <setup_queue.py >>"$dir/setup.log" 2>&1 \
        && python3 "$here/timed.py" "$dir/timing" "$4" "$hd_python" manage.py get_email >"$dir/get_email.log" 2>&1); then
        echo "django-helpdesk ($1) failed:" >&2; tail -20 "$dir/setup.log" "$dir/get_email.log" >&2 || true
        return 0
    fi
    python3 - "$dir/helpdesk.sqlite3" <<'PY' >"$dir/counts" || true
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT count(*) FROM helpdesk_ticket").fetchone()[0], db.execute("SELECT count(*) FROM helpdesk_followup").fetchone()[0])
PY
    if [ -s "$dir/get_email.log" ]; then echo "django-helpdesk ($1) said:" >&2; tail -5 "$dir/get_email.log" >&2; fi
}
step "django-helpdesk get_email of $count messages (SQLite WAL, synchronous=NORMAL, as Mailroom)"
run_helpdesk wal bench-helpdesk wal "$hd_timeout"
read -r hd_wall hd_cpu _ hd_timedout <"$work/helpdesk-wal/timing"
read -r hd_tickets hd_followups <"$work/helpdesk-wal/counts"
step "django-helpdesk get_email, Django's default SQLite settings, $hd_defaults_count messages"
run_helpdesk default bench-hddefault default 180
read -r hdd_wall hdd_cpu _ hdd_timedout <"$work/helpdesk-default/timing"
read -r hdd_tickets _ <"$work/helpdesk-default/counts"

python3 - "$work/rounds" "$hz" "$hd_tickets" "$hd_wall" "$hd_cpu" "$hd_timedout" "$hdd_tickets" "$hdd_wall" "$hdd_cpu" \
    "$hdd_timedout" "$hd_version" <<'PY'
import statistics, sys
a = sys.argv[1:]
rows = [line.split() for line in open(a[0]) if line.strip()]
hz = int(a[1])
med = statistics.median
raw_n, raw_bytes, mr_n = int(rows[0][0]), int(rows[0][1]), int(rows[0][5])
raw_rates = [int(r[0]) / float(r[2]) for r in rows]
rawpy_rates = [int(r[3]) / float(r[4]) for r in rows]
mr_rates = [(int(r[5]) - 1) / ((int(r[7]) - int(r[6])) / 1000) for r in rows]
mr_totals = [int(r[5]) / ((int(r[7]) - int(r[8])) / 1000) for r in rows]
mr_cpus = [(int(r[10]) - int(r[9])) / hz for r in rows]
mr_tickets, mr_quarantined = rows[-1][11], rows[-1][12]
raw_rate, mr_rate, mr_rate_total, mr_cpu = med(raw_rates), med(mr_rates), med(mr_totals), med(mr_cpus)
raw_s = raw_n / raw_rate
hd_n, hd_wall, hd_cpu, hd_to = int(a[2]), float(a[3]), float(a[4]), a[5] == "1"
hdd_n, hdd_wall, hdd_cpu, hdd_to = int(a[6]), float(a[7]), float(a[8]), a[9] == "1"
hd_version = a[10]
hd_rate = hd_n / hd_wall
print("## 1. End-to-end ingest of %d messages into SQLite (%d rounds, interleaved; medians)" % (raw_n, len(rows)))
for i, r in enumerate(rows):
    print("round %d: raw fetch %.0f msg/s, imaplib %.0f, Mailroom %.0f msg/s, %.2f CPU ms/msg; Mailroom / raw fetch %.2f"
          % (i + 1, raw_rates[i], rawpy_rates[i], mr_rates[i], 1000 * mr_cpus[i] / mr_n, mr_rates[i] / raw_rates[i]))
print("%-58s %9s %9s %12s" % ("", "messages", "msg/s", "CPU ms/msg"))
print("%-58s %9d %9.0f %12s" % ("raw IMAP fetch, Mailroom IMAPClient (batches of 100)", raw_n, raw_rate, "-"))
print("%-58s %9d %9.0f %12s" % ("raw IMAP fetch, Python imaplib (batches of 100)", raw_n, med(rawpy_rates), "-"))
print("%-58s %9d %9.0f %12.2f" % ("Mailroom serve, first to last commit (batches <= 500, 16 MB)", mr_n, mr_rate, 1000 * mr_cpu / mr_n))
print("%-58s %9d %9.0f %12s" % ("Mailroom serve, account creation to last commit", mr_n, mr_rate_total, ""))
print("%-58s %9d %9.1f %12.2f%s" % ("django-helpdesk %s get_email (WAL)" % hd_version, hd_n, hd_rate, 1000 * hd_cpu / max(hd_n, 1),
                                  "  (stopped after %.0f s)" % hd_wall if hd_to else ""))
print("%-58s %9d %9.1f %12.2f%s" % ("django-helpdesk get_email, Django's default SQLite", hdd_n, hdd_n / hdd_wall, 1000 * hdd_cpu / max(hdd_n, 1),
                                  "  (stopped after %.0f s)" % hdd_wall if hdd_to else ""))
print("Mailroom: %d tickets, %s quarantined; raw fetch moved %.0f MB in %.2f s (median)" % (int(mr_tickets), mr_quarantined, raw_bytes / 1e6, raw_s))
print("Mailroom / django-helpdesk: %.1fx (target >= 30x: %s)" % (mr_rate / hd_rate, "met" if mr_rate >= 30 * hd_rate else "NOT met"))
print("Mailroom / raw fetch: %.2f (target >= 0.5: %s)" % (mr_rate / raw_rate, "met" if mr_rate >= 0.5 * raw_rate else "NOT met"))
print("by CPU time per message (less sensitive to other load on the machine): Mailroom / django-helpdesk %.1fx" % ((hd_cpu / max(hd_n, 1)) / (mr_cpu / mr_n)))
PY
say ""

fi # only_latency

# ---------------------------------------------------------------- 2. latency
# One latency run on a fresh `mailroom serve`: BOXES accounts on PREFIXnnnn, each message also
# delivered into TWINnnnn for the bare IDLE client; results as JSON into OUT.
run_latency() { # DATA_DIR_NAME PREFIX TWIN BOXES KEY_PREFIX FETCH_INTERVAL OUT
    local users=() pairs=() i
    start_mailroom "$work/$1"
    for i in $(seq 1 "$4"); do
        users+=("$(printf '%s%04d' "$2" "$i")")
        pairs+=("$(printf '%s%04d:%s%04d' "$2" "$i" "$3" "$i")")
    done
    BENCH_FETCH_INTERVAL="$6" python3 "$here/api.py" create "$mr_url" "$token" "$port" "$password" "$5" "${users[@]}" >"$work/$1.ids"
    python3 "$here/api.py" wait-idle "$mr_url" "$token" "$work/$1.ids" 120
    # Long enough for sessions to settle (and, with imap-hibernate, to hibernate) before the first delivery.
    sleep 3
    python3 "$here/latency.py" "$mail_root" "$port" "$password" "$work/$1/mailroom.sqlite" "$corpus" \
        "$lat_count" "$lat_interval" "${pairs[@]}" >"$7"
    stop_mailroom
}
report_latency() { # TITLE LATENCY_JSON
python3 - "$1" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[2]))
print("## " + sys.argv[1])
print("%d messages delivered one at a time into %d mailboxes (one every ~%.2f s, so ~%.1f s apart per mailbox); %d committed"
      % (r["delivered"], r["mailboxes"], r["interval_s"], r["interval_s"] * r["mailboxes"], r["committed"]))
print("%-52s %8s %8s %8s %8s %8s" % ("", "min", "median", "p90", "p99", "max"))
for key, label in (("delivery_to_commit", "Mailroom: delivery -> commit (ms)"),
                   ("delivery_to_idle_exists", "Dovecot: delivery -> '* n EXISTS' to a bare IDLE client")):
    s = r[key]
    print("%-52s %8s %8s %8s %8s %8s" % (label, s["min_ms"], s["median_ms"], s["p90_ms"], s["p99_ms"], s["max_ms"]))
e, d = r["delivery_to_commit"], r["delivery_to_idle_exists"]
print("Mailroom's own share (Mailroom minus Dovecot's announcement): median %.1f ms, p99 %.1f ms"
      % (e["median_ms"] - d["median_ms"], e["p99_ms"] - d["p99_ms"]))
p99 = r["delivery_to_commit"]["p99_ms"]
print("target p99 < 500 ms, delivery -> commit: %s" % ("met" if p99 is not None and p99 < 500 else "NOT met"))
PY
}
step "latency: $lat_count messages into $lat_boxes IDLE mailboxes, one every $lat_interval s"
run_latency mr-latency bench-lat bench-latw "$lat_boxes" L 10 "$work/latency.json"
report_latency "2. Latency, delivery into Dovecot -> ticket committed (IDLE)" "$work/latency.json"
say ""

# ---------------------------------------------------------------- 2b. latency with imap-hibernate
# Dovecot hands an IDLE session that has been quiet for imap_hibernate_timeout to its
# imap-hibernate process, which wakes it on the mailbox's inotify event without the 500 ms delay
# an active session waits (BENCHMARKS.md). Mailboxes receive a message every
# interval x mailboxes seconds, so each session has hibernated before its next message.
if [ "$hib_boxes" -gt 0 ]; then
    step "latency with imap-hibernate: $lat_count messages into $hib_boxes IDLE mailboxes, one every $lat_interval s"
    "$root/scripts/services/dovecot" stop "$dove" >/dev/null
    cat >>"$dove/dovecot.conf" <<CONF
# --- benchmarks/ingest/run.sh: the latency run with imap-hibernate
protocol imap {
  imap_hibernate_timeout = 1s
}
service imap {
  unix_listener imap-master {
    user = \$default_internal_user
  }
}
service imap-hibernate {
  unix_listener imap-hibernate {
    mode = 0666
  }
}
CONF
    dovecot -c "$dove/dovecot.conf"
    wait_for_dovecot
    run_latency mr-hibernate bench-hib bench-hibw "$hib_boxes" H "${BENCH_HIBERNATE_FETCH_INTERVAL:-300}" "$work/latency-hibernate.json"
    report_latency "2b. Latency with Dovecot's imap-hibernate (imap_hibernate_timeout = 1s)" "$work/latency-hibernate.json"
    say ""
fi

if [ "$only_latency" != 1 ]; then
# ---------------------------------------------------------------- 3. memory
step "memory: $idle_accounts idle IMAP accounts"
start_mailroom "$work/mr-memory"
sleep 2
base_rss=$(awk '/VmRSS/ {print $2}' "/proc/$mr_pid/status")
idle_users=()
for i in $(seq 1 "$idle_accounts"); do idle_users+=("$(printf 'bench-idle%04d' "$i")"); done
t0=$(now_ms)
python3 "$here/api.py" create "$mr_url" "$token" "$port" "$password" I "${idle_users[@]}" >"$work/idle-ids"
t1=$(now_ms)
python3 "$here/api.py" wait-idle "$mr_url" "$token" "$work/idle-ids" 600 2>"$work/wait-idle.log"
t2=$(now_ms)
sleep 10
c0=$(cpu_ticks "$mr_pid"); sleep 20; c1=$(cpu_ticks "$mr_pid")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$mr_pid/status")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$mr_pid/status")
threads=$(awk '/Threads/ {print $2}' "/proc/$mr_pid/status")
fds=$(ls "/proc/$mr_pid/fd" | wc -l)
imap_procs=$(pgrep -c -P "$(cat "$dove/run/master.pid")" -f '/imap$' || true)
stop_mailroom
python3 - "$idle_accounts" "$base_rss" "$hwm" "$rss" "$t0" "$t1" "$t2" "$c0" "$c1" "$(getconf CLK_TCK)" "$threads" "$fds" "$imap_procs" <<'PY'
import sys
n, base, hwm, rss, t0, t1, t2, c0, c1, hz, threads, fds, procs = [int(x) for x in sys.argv[1:]]
print("## 3. Memory: mailroom serve with %d IMAP accounts, all connected and in IDLE" % n)
print("peak RSS (VmHWM): %.1f MiB; RSS when idle: %.1f MiB; RSS before the accounts: %.1f MiB (%.0f KiB per account)"
      % (hwm / 1024, rss / 1024, base / 1024, (rss - base) / n))
print("accounts created in %.1f s, all connected and idle %.1f s later; %d threads, %d open files; %d Dovecot imap processes"
      % ((t1 - t0) / 1000, (t2 - t1) / 1000, threads, fds, procs))
print("CPU while idle (20 s sample): %.1f%% of one core (each account's 10 s safety sweep: DONE, UID SEARCH, IDLE)" % (100 * (c1 - c0) / hz / 20))
PY
say ""
fi # only_latency
say "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
