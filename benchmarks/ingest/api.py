#!/usr/bin/env python3
"""Mailroom HTTP API steps for the ingest benchmark (standard library only).

  api.py create URL TOKEN IMAP_PORT PASSWORD KEY_PREFIX USER...   create one IMAP account per
        user (keys KEY_PREFIX + number), print their ids one a line
  api.py wait-ingested URL TOKEN ID COUNT TIMEOUT                  until messagesIngested >= COUNT
  api.py wait-idle URL TOKEN IDS_FILE TIMEOUT                      until every account is connected and idle
"""
import http.client
import json
import os
import sys
import time
import urllib.parse


class API:
    def __init__(self, url, token):
        parsed = urllib.parse.urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.token = token
        self.conn = None

    def call(self, method, path, body=None):
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                data = json.dumps(body).encode() if body is not None else None
                headers = {"Authorization": "Bearer " + self.token}
                if data is not None:
                    headers["Content-Type"] = "application/json"
                self.conn.request(method, "/api/v1" + path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                if resp.status >= 300:
                    raise RuntimeError("%s %s: %d %s" % (method, path, resp.status, payload[:500].decode(errors="replace")))
                return json.loads(payload) if payload else None
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.2)


def account_body(key, user, port, password):
    return {
        "key": key, "name": "Bench " + user, "fromAddress": user + "@example.com",
        "incoming": {
            "protocol": "imap", "host": "127.0.0.1", "port": port, "security": "none",
            "fetchIntervalSeconds": int(os.environ.get("BENCH_FETCH_INTERVAL", "10")), "connectionTimeoutSeconds": 30, "authTimeoutSeconds": 30,
            "auth": {"username": user, "password": password},
        },
    }


def create(api, port, password, prefix, users):
    width = 5 - len(prefix)
    for i, user in enumerate(users, 1):
        key = prefix + str(i).zfill(width)
        account = api.call("POST", "/accounts", account_body(key, user, port, password))
        print(account["id"], flush=True)


def wait_ingested(api, account_id, count, timeout):
    deadline = time.time() + timeout
    status = {}
    while time.time() < deadline:
        status = api.call("GET", "/accounts/%s/status" % account_id)
        if status.get("messagesIngested", 0) + status.get("messagesQuarantined", 0) >= count:
            print(json.dumps(status))
            return
        time.sleep(0.5)
    sys.exit("timed out: %s" % json.dumps(status))


def wait_idle(api, ids, timeout):
    deadline = time.time() + timeout
    pending = list(ids)
    while time.time() < deadline:
        still = []
        for account_id in pending:
            status = api.call("GET", "/accounts/%s/status" % account_id)
            if not (status.get("connected") and status.get("idle")):
                still.append(account_id)
        pending = still
        if not pending:
            return
        sys.stderr.write("  %d of %d accounts not yet connected and idle\n" % (len(pending), len(ids)))
        time.sleep(2)
    sys.exit("timed out: %d accounts not connected and idle" % len(pending))


def main():
    args = sys.argv[1:]
    if len(args) >= 7 and args[0] == "create":
        create(API(args[1], args[2]), int(args[3]), args[4], args[5], args[6:])
    elif len(args) == 6 and args[0] == "wait-ingested":
        wait_ingested(API(args[1], args[2]), args[3], int(args[4]), float(args[5]))
    elif len(args) == 5 and args[0] == "wait-idle":
        with open(args[3]) as f:
            ids = [line.strip() for line in f if line.strip()]
        wait_idle(API(args[1], args[2]), ids, float(args[4]))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
