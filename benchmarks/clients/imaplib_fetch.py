#!/usr/bin/env python3
"""Tight Python imaplib loop: UID FETCH BODY.PEEK[] of the whole INBOX in batches.
Usage: imaplib_fetch.py HOST PORT USER PASSWORD [BATCH]"""
import imaplib
import json
import sys
import time

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
batch = int(sys.argv[5]) if len(sys.argv) > 5 else 500
start = time.monotonic()
m = imaplib.IMAP4(host, port)
m.login(user, password)
m.select("INBOX", readonly=True)
typ, data = m.uid("SEARCH", None, "ALL")
uids = data[0].split()
messages = 0
size = 0
for i in range(0, len(uids), batch):
    chunk = b",".join(uids[i:i + batch]).decode()
    typ, data = m.uid("FETCH", chunk, "(UID BODY.PEEK[])")
    for item in data:
        if isinstance(item, tuple):
            messages += 1
            size += len(item[1])
m.logout()
print(json.dumps({"client": "python-imaplib", "messages": messages, "bytes": size, "seconds": time.monotonic() - start}))
