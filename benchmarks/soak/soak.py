#!/usr/bin/env python3
"""One soak phase driver for benchmarks/soak/run.sh (see there for the knobs).

A phase runs `mailroom serve` on one database (PostgreSQL in cluster mode, or SQLite on a small
loop-mounted file system), with N mailboxes on Dovecot receiving mail at a steady rate, agents'
replies going through the outbox to smtp-sink, and a steady API read load, while faults are
injected on a schedule. At the end it checks exactly-once storage and sending, and writes
samples (RSS, open files, API latency) and a summary as JSON for report.py.
"""
import argparse
import imaplib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

TOKEN = "soak-admin-token"


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Api:
    def __init__(self, base):
        self.base = base

    def call(self, method, path, body=None, timeout=30):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", "Bearer " + TOKEN)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                text = response.read()
                return response.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as error:
            text = error.read()
            try:
                return error.code, json.loads(text)
            except ValueError:
                return error.code, None
        except (urllib.error.URLError, OSError, TimeoutError):
            return 0, None


class Phase:
    def __init__(self, args):
        self.args = args
        self.api = Api(f"http://127.0.0.1:{args.http_port}")
        self.stop = threading.Event()
        self.generating = threading.Event()
        self.generating.set()
        self.lock = threading.Lock()
        self.delivered = []          # (time, message id)
        self.replies = {}            # reply Message-ID -> ticket id
        self.replied_tickets = set()
        self.latencies = []          # (time, seconds, status)
        self.samples = []            # (time, rss kB, open files, stored)
        self.events = []             # (time, text)
        self.recoveries = []         # dicts
        self.notes = []
        self.server = None
        self.started = time.time()
        self.account_ids = []

    # -- the server -------------------------------------------------------------------------

    def start_server(self):
        environment = dict(os.environ)
        environment.update({"MAILROOM_ADMIN_TOKEN": TOKEN, "MAILROOM_API_RATE_LIMIT": "off"})
        arguments = [self.args.mailroom, "serve", "--data-dir", self.args.data_dir,
                     "--http", f"127.0.0.1:{self.args.http_port}", "--log-level", "notice"]
        if self.args.database_url:
            arguments += ["--database", self.args.database_url]
        self.server_log = open(os.path.join(self.args.out, "mailroom.log"), "ab")
        self.server = subprocess.Popen(arguments, env=environment, stdout=self.server_log, stderr=subprocess.STDOUT)
        for _ in range(600):
            if self.api.call("GET", "/healthz", timeout=2)[0] == 200:
                return
            time.sleep(0.1)
        raise SystemExit("mailroom serve did not come up; see mailroom.log")

    def stop_server(self):
        if self.server and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.server.kill()

    def create_accounts(self):
        for index in range(self.args.mailboxes):
            user = f"{self.args.name}-{index:03d}"
            account = {
                "key": f"S{index:03d}", "name": f"Soak {index:03d}", "fromAddress": f"desk{index}@soak.example",
                "incoming": {"protocol": "imap", "host": "127.0.0.1", "port": self.args.imap_port, "security": "none",
                             "deleteOnFetch": True, "fetchIntervalSeconds": 5, "authTimeoutSeconds": 30,
                             "auth": {"username": user, "password": self.args.imap_password}},
                "outgoing": {"protocol": "smtp", "host": "127.0.0.1", "port": self.args.smtp_port, "security": "none",
                             "auth": {"method": "none"}},
                # Short waits between tries, so that the recovery after the SMTP outage shows within minutes.
                "retry": {"maxRetryCount": 50, "progressiveRetryIntervalSeconds": 20},
            }
            status, body = self.api.call("POST", "/api/v1/accounts", account)
            if status != 201:
                raise SystemExit(f"creating account {index} answered {status}: {body}")
            self.account_ids.append(body["id"])

    # -- load -----------------------------------------------------------------------------------

    def message(self, number):
        customer = number % 997
        return (f"From: Customer {customer} <c{customer}@customer.example>\r\nTo: desk@soak.example\r\n"
                f"Subject: Soak question {number}\r\nMessage-ID: <{self.args.name}-{number}@soak.example>\r\n"
                f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n\r\n"
                + f"Question {number}, a few lines of text.\r\n" * (3 + number % 40)).encode()

    def generate_mail(self):
        connections = {}
        number = 0
        interval = 1.0 / self.args.mail_rate
        next_at = time.time()
        while not self.stop.is_set():
            if not self.generating.is_set():
                time.sleep(0.2)
                continue
            next_at += interval
            delay = next_at - time.time()
            if delay > 0:
                time.sleep(delay)
            index = number % self.args.mailboxes
            user = f"{self.args.name}-{index:03d}"
            try:
                client = connections.get(user)
                if client is None:
                    client = imaplib.IMAP4("127.0.0.1", self.args.imap_port, timeout=10)
                    client.login(user, self.args.imap_password)
                    connections[user] = client
                client.append("INBOX", None, None, self.message(number))
                with self.lock:
                    self.delivered.append((time.time(), f"{self.args.name}-{number}@soak.example"))
                number += 1
            except (imaplib.IMAP4.error, OSError):
                connections.pop(user, None)
                time.sleep(0.5)     # Dovecot is down: this message is tried again
        for client in connections.values():
            try:
                client.logout()
            except (imaplib.IMAP4.error, OSError):
                pass

    def reply_to_tickets(self):
        interval = 1.0 / self.args.reply_rate
        while not self.stop.is_set():
            if not self.generating.is_set():
                time.sleep(0.2)
                continue
            started = time.time()
            status, body = self.api.call("GET", "/api/v1/tickets?limit=50")
            if status == 200:
                for ticket in body.get("items", []):
                    if ticket["id"] in self.replied_tickets or self.stop.is_set():
                        continue
                    status, reply = self.api.call("POST", f"/api/v1/tickets/{ticket['id']}/replies",
                                                  {"text": f"Answer to ticket {ticket['number']}"})
                    if status == 201:
                        with self.lock:
                            self.replied_tickets.add(ticket["id"])
                            self.replies[reply["messageId"]] = ticket["id"]
                    break
            time.sleep(max(0.0, interval - (time.time() - started)))

    def read_api(self):
        interval = 1.0 / self.args.api_rate
        ticket_ids = []
        while not self.stop.is_set():
            started = time.time()
            if ticket_ids and random.random() < 0.5:
                path = f"/api/v1/tickets/{random.choice(ticket_ids)}/messages"
            else:
                path = "/api/v1/tickets?limit=50"
            status, body = self.api.call("GET", path)
            elapsed = time.time() - started
            with self.lock:
                self.latencies.append((started, elapsed, status))
            if status == 200 and path.endswith("limit=50"):
                ticket_ids = [item["id"] for item in body.get("items", [])][:50] or ticket_ids
            time.sleep(max(0.0, interval - elapsed))

    def stored_ids(self):
        """Message ids stored, with their counts (straight from the database)."""
        query = "SELECT message_id, COUNT(*) FROM messages WHERE message_id LIKE ? GROUP BY message_id"
        pattern = f"{self.args.name}-%"
        if self.args.database_url:
            output = subprocess.run(["psql", self.args.database_url, "-At", "-F", "\t", "-c",
                                     query.replace("?", f"'{pattern}'")], capture_output=True, text=True, timeout=60)
            if output.returncode != 0:
                return None
            rows = [line.split("\t") for line in output.stdout.splitlines() if line]
            return {row[0]: int(row[1]) for row in rows}
        try:
            connection = sqlite3.connect(f"file:{self.args.data_dir}/mailroom.sqlite?mode=ro", uri=True, timeout=10)
            try:
                return {row[0]: row[1] for row in connection.execute(query, (pattern,))}
            finally:
                connection.close()
        except sqlite3.Error:
            return None

    def sent_message_ids(self):
        counts = {}
        for name in os.listdir(self.args.sink_dump):
            try:
                with open(os.path.join(self.args.sink_dump, name), "rb") as handle:
                    text = handle.read().decode("utf-8", "replace")
            except OSError:
                continue
            for line in text.split("\n"):
                if line.lower().startswith("message-id:"):
                    value = line.split(":", 1)[1].strip().strip("<>")
                    counts[value] = counts.get(value, 0) + 1
                    break
        return counts

    def monitor(self):
        while not self.stop.is_set():
            rss, files = None, None
            if self.server and self.server.poll() is None:
                try:
                    with open(f"/proc/{self.server.pid}/status") as status:
                        for line in status:
                            if line.startswith("VmRSS:"):
                                rss = int(line.split()[1])
                    files = len(os.listdir(f"/proc/{self.server.pid}/fd"))
                except OSError:
                    pass
            stored = self.stored_ids()
            with self.lock:
                self.samples.append((time.time(), rss, files, None if stored is None else len(stored)))
            self.stop.wait(self.args.sample_seconds)

    # -- faults ---------------------------------------------------------------------------------

    def event(self, text):
        log(text)
        with self.lock:
            self.events.append((time.time(), text))

    def delivered_count(self):
        with self.lock:
            return len(self.delivered)

    def wait_stored(self, target, limit):
        """Seconds until at least `target` soak messages are stored (None after `limit` seconds)."""
        started = time.time()
        while time.time() - started < limit:
            stored = self.stored_ids()
            if stored is not None and len(stored) >= target:
                return time.time() - started
            time.sleep(1)
        return None

    def wait_all_stored(self, limit):
        """Seconds until every delivered message is stored, each checked by its id (None after
        `limit` seconds). An APPEND can still be under way when the load stops, and is counted as
        delivered only when it returns, so the list is read again each round and the wait lasts at
        least the IMAP client's timeout."""
        started = time.time()
        while time.time() - started < limit:
            with self.lock:
                delivered = [message for _, message in self.delivered]
            stored = self.stored_ids()
            if stored is not None and time.time() - started > 11 and all(message in stored for message in delivered):
                return time.time() - started
            time.sleep(1)
        return None

    def wait_sent(self, replies, limit):
        started = time.time()
        while time.time() - started < limit:
            sent = self.sent_message_ids()
            if all(reply in sent for reply in replies):
                return time.time() - started
            time.sleep(1)
        return None

    def restart_dovecot(self):
        self.event("fault: restarting Dovecot")
        subprocess.run(["dovecot", "-c", self.args.dovecot_conf, "stop"], check=False)
        time.sleep(3)
        subprocess.run(["dovecot", "-c", self.args.dovecot_conf], check=True)
        back = time.time()
        target = self.delivered_count()
        self.event("Dovecot is back")
        seconds = self.wait_stored(target, 600)
        self.recoveries.append({"fault": "Dovecot restart", "at": back - self.started,
                                "seconds": seconds, "measure": f"until the {target} messages delivered before it were stored"})

    def stop_smtp_sink(self, seconds):
        self.event(f"fault: stopping smtp-sink for {seconds:.0f} s")
        subprocess.run(["bash", "-c", f"kill $(cat {self.args.sink_pid_file})"], check=False)
        time.sleep(seconds)
        with self.lock:
            pending = list(self.replies)
        subprocess.run([self.args.sink_start], check=True)
        back = time.time()
        self.event("smtp-sink is back")
        waited = self.wait_sent(pending, 900)
        self.recoveries.append({"fault": f"smtp-sink stopped {seconds:.0f} s", "at": back - self.started, "seconds": waited,
                                "measure": f"until the {len(pending)} replies queued before it came back were received"})

    def restart_postgres(self):
        self.event("fault: restarting PostgreSQL")
        subprocess.run(["runuser", "-u", "postgres", "--", self.args.pg_ctl, "-D", self.args.pg_data, "-m", "fast", "-w", "restart"],
                       check=True, stdout=subprocess.DEVNULL)
        back = time.time()
        target = self.delivered_count()
        self.event("PostgreSQL is back")
        api = None
        while api is None and time.time() - back < 300:
            if self.api.call("GET", "/api/v1/tickets?limit=1")[0] == 200:
                api = time.time() - back
            else:
                time.sleep(0.2)
        seconds = self.wait_stored(target, 600)
        self.recoveries.append({"fault": "PostgreSQL restart", "at": back - self.started, "seconds": seconds, "apiSeconds": api,
                                "measure": f"until the API answered again and the {target} messages delivered before were stored"})

    def fill_disk(self, seconds):
        mount = self.args.data_dir
        stat = os.statvfs(mount)
        free = stat.f_bfree * stat.f_frsize      # mailroom runs as root: reserved blocks count too
        fill = os.path.join(mount, "soak-fill")
        self.event(f"fault: filling {mount} to its last MB ({free >> 20} MB free)")
        # Most of it at once, the rest 64 kB at a time until nothing fits, then one MB given back.
        subprocess.run(["fallocate", "-l", str(max(0, free - (16 << 20))), fill], check=True)
        rest = fill + "-rest"
        written = 0
        with open(rest, "ab", buffering=0) as handle:      # unbuffered: a failed write leaves nothing to flush
            while True:
                try:
                    written += handle.write(b"\0" * (64 << 10)) or 0
                    os.fsync(handle.fileno())
                except OSError:
                    break
        os.truncate(rest, max(0, written - (1 << 20)))
        chunks = [rest]
        left = os.statvfs(mount)
        self.event(f"{mount} has {left.f_bfree * left.f_frsize >> 10} kB free")
        time.sleep(seconds / 2)
        # What an operator sees while the disk is full.
        ticket = None
        with self.lock:
            if self.replied_tickets:
                ticket = next(iter(self.replied_tickets))
        write = self.api.call("POST", f"/api/v1/tickets/{ticket}/replies", {"text": "written while the disk is full"}) if ticket else (None, None)
        status = self.api.call("GET", f"/api/v1/accounts/{self.account_ids[0]}/status")
        health = self.api.call("GET", "/healthz")
        ready = self.api.call("GET", "/readyz")
        self.notes.append({"diskFull": {"replyStatus": write[0], "replyAnswer": write[1], "accountStatus": status[1],
                                        "healthz": health[0], "readyz": ready[0], "readyzAnswer": ready[1]}})
        self.event(f"while full: a reply answered {write[0]} {write[1]}, /healthz {health[0]}, /readyz {ready[0]} {ready[1]}, "
                   f"account 0's last error: {(status[1] or {}).get('lastError')}")
        time.sleep(seconds / 2)
        os.remove(fill)
        for path in chunks:
            os.remove(path)
        back = time.time()
        target = self.delivered_count()
        self.event("disk space freed")
        stored = self.wait_stored(target, 600)
        self.recoveries.append({"fault": f"file system full {seconds:.0f} s", "at": back - self.started, "seconds": stored,
                                "measure": f"until the {target} messages delivered before space was freed were stored"})

    # -- the run ----------------------------------------------------------------------------------

    def run(self):
        self.start_server()
        self.create_accounts()
        log(f"phase {self.args.name}: {self.args.mailboxes} accounts, {self.args.duration:.0f} s")
        threads = [threading.Thread(target=work, daemon=True)
                   for work in (self.generate_mail, self.reply_to_tickets, self.read_api, self.monitor)]
        for thread in threads:
            thread.start()
        duration = self.args.duration
        outage = min(180.0, 0.12 * duration)
        schedule = [(0.15, self.restart_dovecot), (0.30, lambda: self.stop_smtp_sink(outage))]
        if self.args.database_url:
            schedule.append((0.60, self.restart_postgres))
        else:
            schedule.append((0.60, lambda: self.fill_disk(min(120.0, 0.1 * duration))))
        for fraction, fault in schedule:
            delay = self.started + fraction * duration - time.time()
            if delay > 0:
                time.sleep(delay)
            fault()
        delay = self.started + 0.85 * duration - time.time()
        if delay > 0:
            time.sleep(delay)
        self.generating.clear()
        self.event("load stopped; waiting for everything to be stored and sent")
        drained_stored = self.wait_all_stored(600)
        with self.lock:
            replies = list(self.replies)
        drained_sent = self.wait_sent(replies, 900)
        self.stop.set()
        for thread in threads:
            thread.join(timeout=60)
        self.check(drained_stored, drained_sent)
        self.stop_server()

    def check(self, drained_stored, drained_sent):
        stored = self.stored_ids() or {}
        delivered = [message for _, message in self.delivered]
        missing = [message for message in delivered if message not in stored]
        duplicates = {message: count for message, count in stored.items() if count > 1}
        sent = self.sent_message_ids()
        unsent = [reply for reply in self.replies if reply not in sent]
        sent_twice = {reply: count for reply, count in sent.items() if reply in self.replies and count > 1}
        left = 0
        for index in range(self.args.mailboxes):
            try:
                client = imaplib.IMAP4("127.0.0.1", self.args.imap_port, timeout=10)
                client.login(f"{self.args.name}-{index:03d}", self.args.imap_password)
                typ, data = client.select("INBOX", readonly=True)
                left += int(data[0])
                client.logout()
            except (imaplib.IMAP4.error, OSError, ValueError):
                left = -1
                break
        summary = {
            "phase": self.args.name, "database": "postgres" if self.args.database_url else "sqlite",
            "durationSeconds": self.args.duration, "mailboxes": self.args.mailboxes,
            "delivered": len(delivered), "stored": len(stored), "missing": len(missing), "storedTwice": len(duplicates),
            "missingExamples": missing[:10], "replies": len(self.replies), "sent": len(self.replies) - len(unsent),
            "unsent": len(unsent), "sentTwice": len(sent_twice), "leftOnServer": left,
            "drainedStoredSeconds": drained_stored, "drainedSentSeconds": drained_sent,
            "apiRequests": len(self.latencies), "apiErrors": sum(1 for _, _, status in self.latencies if status != 200),
            "recoveries": self.recoveries, "notes": self.notes,
            "events": [(at - self.started, text) for at, text in self.events],
        }
        with open(os.path.join(self.args.out, "summary.json"), "w") as handle:
            json.dump(summary, handle, indent=2, default=str)
        with open(os.path.join(self.args.out, "samples.json"), "w") as handle:
            json.dump({"started": self.started,
                       "samples": [(at - self.started, rss, files, count) for at, rss, files, count in self.samples],
                       "latencies": [(at - self.started, seconds, status) for at, seconds, status in self.latencies],
                       "events": summary["events"]}, handle)
        log(f"phase {self.args.name}: delivered {len(delivered)}, stored {len(stored)} (missing {len(missing)}, twice {len(duplicates)}); "
            f"replies {len(self.replies)}, unsent {len(unsent)}, sent twice {len(sent_twice)}; left on server {left}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--mailroom", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--database-url")
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--imap-port", type=int, required=True)
    parser.add_argument("--imap-password", required=True)
    parser.add_argument("--dovecot-conf", required=True)
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--sink-dump", required=True)
    parser.add_argument("--sink-pid-file", required=True)
    parser.add_argument("--sink-start", required=True)
    parser.add_argument("--pg-ctl")
    parser.add_argument("--pg-data")
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--mailboxes", type=int, default=200)
    parser.add_argument("--mail-rate", type=float, default=2.0)
    parser.add_argument("--reply-rate", type=float, default=0.5)
    parser.add_argument("--api-rate", type=float, default=5.0)
    parser.add_argument("--sample-seconds", type=float, default=5.0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    phase = Phase(args)
    try:
        phase.run()
    finally:
        phase.stop.set()
        phase.stop_server()
    return 0


if __name__ == "__main__":
    sys.exit(main())
