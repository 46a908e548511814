#!/usr/bin/env python3
"""Maildir delivery for the ingest benchmark (writes files the way an MDA would).

  maildir.py fill CORPUS_DIR MAILDIR [LIMIT]   copy every .eml of CORPUS_DIR into MAILDIR/new
      (with MAILDIR_VSIZE=1 in the environment, file names also carry ,W=: see fill())
  maildir.py empty MAIL_ROOT PREFIX COUNT      make COUNT empty Maildirs MAIL_ROOT/PREFIXnnnn/Maildir

Ownership is left to the caller (chown -R nobody:nogroup, as Dovecot's static userdb expects).
"""
import os
import sys
import time


def make_maildir(path):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)


def fill(corpus, maildir, limit=None):
    make_maildir(maildir)
    names = sorted(n for n in os.listdir(corpus) if n.endswith(".eml"))
    if limit is not None:
        names = names[:limit]
    stamp = int(time.time())
    pid = os.getpid()
    total = 0
    for i, name in enumerate(names):
        with open(os.path.join(corpus, name), "rb") as f:
            data = f.read()
        total += len(data)
        # time.MnPpid.host,S=size: the S= part spares Dovecot a stat() per message. Dovecot's own
        # delivery (LDA, LMTP) also writes ,W=, the size with CRLF line ends, which spares it reading
        # the whole file before it can announce a FETCH literal; other MDAs (Postfix's local) write
        # neither. Dovecot serves BODY[] much faster with W= (see BENCHMARKS.md, ingest, 1g).
        base = "%d.M%dP%d.bench,S=%d" % (stamp, i, pid, len(data))
        if os.environ.get("MAILDIR_VSIZE") == "1":
            base += ",W=%d" % (len(data) + data.count(b"\n") - data.count(b"\r\n"))
        tmp = os.path.join(maildir, "tmp", base)
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(maildir, "new", base))
    print("%d %d" % (len(names), total))


def empty(root, prefix, count):
    for i in range(1, count + 1):
        make_maildir(os.path.join(root, "%s%04d" % (prefix, i), "Maildir"))


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "fill":
        fill(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else None)
    elif len(sys.argv) == 5 and sys.argv[1] == "empty":
        empty(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
