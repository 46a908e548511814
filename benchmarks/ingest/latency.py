#!/usr/bin/env python3
"""Delivery-to-commit latency for the ingest benchmark.

Delivers COUNT messages one at a time into the Maildirs of the given Dovecot users (round
robin, one every INTERVAL seconds with +-25% jitter), the way an MDA does: write into tmp/,
then rename into new/ and note the time of the rename. Every message also goes, right after,
into the user's twin mailbox, which only a bare IMAP IDLE client (a plain socket, no library)
watches: the moment Dovecot announces it there (* n EXISTS) is what Dovecot allows any IDLE
client. (A separate mailbox, so neither reader's activity wakes the other's session.) After the
last delivery it waits until Mailroom has stored them all, reads messages.created_at from
Mailroom's SQLite by Message-ID, and prints the latency distributions as JSON.

Usage: latency.py MAIL_ROOT IMAP_PORT PASSWORD SQLITE CORPUS_DIR COUNT INTERVAL USER:TWIN...
"""
import json
import os
import pwd
import random
import re
import socket
import sqlite3
import sys
import threading
import time

MESSAGE_ID = re.compile(rb"^Message-ID:[^\r\n]*\r?\n", re.IGNORECASE | re.MULTILINE)


class IdleWatcher(threading.Thread):
    """One IMAP connection in IDLE on INBOX; records (time, EXISTS count) as they arrive."""

    def __init__(self, port, user, password):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.reader = self.sock.makefile("rb")
        self.events = []
        self.ready = threading.Event()
        self.stopping = False
        self.reader.readline()  # greeting
        self.command(b"a1 LOGIN \"%s\" \"%s\"" % (user.encode(), password.encode()), b"a1")
        self.command(b"a2 SELECT INBOX", b"a2")
        self.sock.sendall(b"a3 IDLE\r\n")

    def command(self, line, tag):
        self.sock.sendall(line + b"\r\n")
        while True:
            reply = self.reader.readline()
            if not reply:
                raise RuntimeError("IMAP connection closed")
            if reply.startswith(tag + b" "):
                if not reply.startswith(tag + b" OK"):
                    raise RuntimeError(reply.decode(errors="replace"))
                return

    def run(self):
        self.sock.settimeout(None)
        while True:
            line = self.reader.readline()
            now = time.time()
            if not line:
                return
            if line.startswith(b"+"):
                self.ready.set()
                continue
            parts = line.split()
            if len(parts) >= 3 and parts[0] == b"*" and parts[2].upper() == b"EXISTS":
                self.events.append((now, int(parts[1])))
            if line.startswith(b"a3 "):
                return

    def stop(self):
        try:
            self.sock.sendall(b"DONE\r\n")
            self.join(5)
            self.sock.sendall(b"a4 LOGOUT\r\n")
        except OSError:
            pass
        self.sock.close()


def percentile(sorted_values, p):
    """Nearest-rank percentile."""
    if not sorted_values:
        return None
    rank = max(1, int(-(-p * len(sorted_values) // 100)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summary(values):
    values = sorted(values)
    return {
        "n": len(values),
        "min_ms": round(values[0], 1) if values else None,
        "median_ms": round(percentile(values, 50), 1) if values else None,
        "p90_ms": round(percentile(values, 90), 1) if values else None,
        "p99_ms": round(percentile(values, 99), 1) if values else None,
        "max_ms": round(values[-1], 1) if values else None,
        "mean_ms": round(sum(values) / len(values), 1) if values else None,
    }


def main():
    if len(sys.argv) < 9:
        sys.stderr.write(__doc__)
        sys.exit(2)
    mail_root, port, password, db_path, corpus = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    count, interval = int(sys.argv[6]), float(sys.argv[7])
    pairs = [arg.split(":", 1) for arg in sys.argv[8:]]
    users = [user for user, _ in pairs]
    twin_of = dict(pairs)
    nobody = pwd.getpwnam("nobody")
    run_id = "%x" % int(time.time())
    rng = random.Random(20261123)
    corpus_files = sorted(n for n in os.listdir(corpus) if n.endswith(".eml"))

    watchers = {user: IdleWatcher(port, twin_of[user], password) for user in users}
    for w in watchers.values():
        w.start()
    for w in watchers.values():
        if not w.ready.wait(10):
            sys.exit("an IDLE watcher did not start")

    deliveries = []  # (message_id, user, seq in that mailbox, delivered_at, delivered_to_twin_at)
    per_user = {user: 0 for user in users}
    next_at = time.time() + 0.5
    for i in range(count):
        user = users[i % len(users)]
        maildir = os.path.join(mail_root, user, "Maildir")
        with open(os.path.join(corpus, corpus_files[i % len(corpus_files)]), "rb") as f:
            raw = f.read()
        message_id = "lat-%s-%d@bench.example" % (run_id, i)
        header = b"Message-ID: <" + message_id.encode() + b">\r\n"
        raw, found = MESSAGE_ID.subn(lambda _: header, raw, count=1)
        if not found:
            raw = header + raw
        name = "%d.M%dP%d.latency,S=%d" % (int(time.time()), i, os.getpid(), len(raw))
        twin_dir = os.path.join(mail_root, twin_of[user], "Maildir")
        for d in (maildir, twin_dir):
            tmp = os.path.join(d, "tmp", name)
            with open(tmp, "wb") as f:
                f.write(raw)
            os.chown(tmp, nobody.pw_uid, nobody.pw_gid)
        delay = next_at - time.time()
        if delay > 0:
            time.sleep(delay)
        delivered = time.time()
        os.rename(os.path.join(maildir, "tmp", name), os.path.join(maildir, "new", name))
        twin_delivered = time.time()
        os.rename(os.path.join(twin_dir, "tmp", name), os.path.join(twin_dir, "new", name))
        per_user[user] += 1
        deliveries.append((message_id, user, per_user[user], delivered, twin_delivered))
        next_at = delivered + interval * rng.uniform(0.75, 1.25)
        if (i + 1) % 200 == 0:
            sys.stderr.write("  delivered %d of %d\n" % (i + 1, count))

    # Wait for Mailroom to store them all (or give up after 60 s and report what arrived).
    db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=30)
    wanted = {d[0] for d in deliveries}
    committed = {}
    deadline = time.time() + 60
    while time.time() < deadline:
        rows = db.execute("SELECT message_id, created_at FROM messages WHERE message_id LIKE ?",
                          ("lat-%s-%%" % run_id,)).fetchall()
        committed = {mid: created for mid, created in rows if mid in wanted}
        if len(committed) == len(wanted):
            break
        time.sleep(0.5)
    time.sleep(1)
    for w in watchers.values():
        w.stop()

    # The k-th message delivered to a mailbox is announced by the first EXISTS >= k.
    announced = {}
    for user, w in watchers.items():
        events = sorted(w.events)
        for message_id, u, seq, _, _ in deliveries:
            if u != user:
                continue
            for at, exists in events:
                if exists >= seq:
                    announced[message_id] = at
                    break

    end_to_end, dovecot = [], []
    for message_id, _, _, delivered, twin_delivered in deliveries:
        if message_id in committed:
            end_to_end.append(committed[message_id] - delivered * 1000)
        if message_id in announced:
            dovecot.append((announced[message_id] - twin_delivered) * 1000)
    print(json.dumps({
        "delivered": len(deliveries),
        "committed": len(committed),
        "mailboxes": len(users),
        "interval_s": interval,
        "delivery_to_commit": summary(end_to_end),
        "delivery_to_idle_exists": summary(dovecot),
    }))


if __name__ == "__main__":
    main()
