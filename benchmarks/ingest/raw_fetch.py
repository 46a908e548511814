#!/usr/bin/env python3
"""Raw IMAP fetch with Python's imaplib (second reference next to the Swift IMAPClient one):
UID SEARCH ALL, then UID FETCH (BODY.PEEK[]) in batches, nothing stored or parsed.

Usage: raw_fetch.py PORT USER PASSWORD [BATCH]; prints: raw-fetch-imaplib MESSAGES BYTES SECONDS BATCH
"""
import imaplib
import sys
import time


def main():
    port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 100
    start = time.perf_counter()
    imap = imaplib.IMAP4("127.0.0.1", port)
    imap.login(user, password)
    imap.select("INBOX")
    uids = imap.uid("SEARCH", None, "ALL")[1][0].split()
    messages = size = 0
    for i in range(0, len(uids), batch):
        typ, data = imap.uid("FETCH", b",".join(uids[i:i + batch]), "(BODY.PEEK[])")
        for item in data:
            if isinstance(item, tuple):
                messages += 1
                size += len(item[1])
    elapsed = time.perf_counter() - start
    imap.logout()
    print("raw-fetch-imaplib %d %d %.3f %d" % (messages, size, elapsed, batch))


if __name__ == "__main__":
    main()
