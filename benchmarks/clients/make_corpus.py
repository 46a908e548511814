#!/usr/bin/env python3
"""Writes a realistic support-mailbox corpus into a Maildir (new/ is left empty, files in cur/).

Usage: make_corpus.py MAILDIR COUNT [SEED]

Mix (deterministic for a seed): plain-text customer mails of a few paragraphs, replies with
quoted history, multipart/alternative text+HTML newsletters, and about one in ten with a
base64 attachment (invoice PDFs, screenshots) of 20 kB to 300 kB; a few larger ones (1-2 MB).
"""
import base64
import os
import random
import sys
import time

WORDS = ("order delivery refund invoice account password reset package tracking number "
         "customer support team please thank you regards issue problem broken replacement "
         "warranty return label address payment card charged twice subscription cancel "
         "upgrade plan login error message screenshot attached urgent today tomorrow week "
         "hello hi dear sir madam kind best wishes received shipped delayed damaged missing").split()
NAMES = ["Anna Schmidt", "John Miller", "María García", "Li Wei", "Olivia Brown", "Ahmed Khan",
         "Sofia Rossi", "Lucas Martin", "Emma Johansson", "Noah Wilson", "Chloé Dubois", "Yuki Tanaka"]
DOMAINS = ["example.com", "example.org", "mail.example.net", "customer.example"]


def sentence(rng):
    n = rng.randint(6, 18)
    s = " ".join(rng.choice(WORDS) for _ in range(n))
    return s[0].upper() + s[1:] + "."


def paragraph(rng):
    return " ".join(sentence(rng) for _ in range(rng.randint(2, 6)))


def wrap(text, width=76):
    out, line = [], ""
    for w in text.split():
        if len(line) + len(w) + 1 > width:
            out.append(line)
            line = w
        else:
            line = (line + " " + w).strip()
    if line:
        out.append(line)
    return "\r\n".join(out)


def headers(rng, n, subject, ctype):
    name = rng.choice(NAMES)
    addr = name.split()[0].lower() + str(rng.randint(1, 999)) + "@" + rng.choice(DOMAINS)
    t = 1790000000 + n * 37
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t))
    h = [
        "Return-Path: <%s>" % addr,
        "Received: from mx%d.example.net (mx%d.example.net [192.0.2.%d])\r\n\tby mail.support.example with ESMTPS id %08X\r\n\tfor <support@support.example>; %s" % (n % 7, n % 7, n % 250, n, date),
        "From: %s <%s>" % (name, addr),
        "To: Support <support@support.example>",
        "Subject: %s" % subject,
        "Date: %s" % date,
        "Message-ID: <%d.%08x@%s>" % (n, rng.getrandbits(32), rng.choice(DOMAINS)),
        "MIME-Version: 1.0",
        ctype,
    ]
    return "\r\n".join(h) + "\r\n\r\n"


def message(rng, n):
    kind = rng.random()
    subject = "%s #%d" % (sentence(rng)[:50].rstrip("."), 100000 + n)
    if kind < 0.5:
        body = "\r\n\r\n".join(wrap(paragraph(rng)) for _ in range(rng.randint(1, 5)))
        return headers(rng, n, subject, "Content-Type: text/plain; charset=utf-8") + body + "\r\n"
    if kind < 0.7:
        quoted = "\r\n".join("> " + l for l in wrap(" ".join(paragraph(rng) for _ in range(rng.randint(3, 10)))).split("\r\n"))
        body = wrap(paragraph(rng)) + "\r\n\r\nOn a previous day, Support wrote:\r\n" + quoted
        return headers(rng, n, "Re: " + subject, "Content-Type: text/plain; charset=utf-8") + body + "\r\n"
    boundary = "b%016x" % rng.getrandbits(64)
    text = "\r\n\r\n".join(wrap(paragraph(rng)) for _ in range(rng.randint(2, 6)))
    html = "<html><body>" + "".join("<p>%s</p>\r\n" % paragraph(rng) for _ in range(rng.randint(2, 8))) + "</body></html>"
    parts = ["--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n" % (boundary, text),
             "--%s\r\nContent-Type: text/html; charset=utf-8\r\n\r\n%s\r\n" % (boundary, wrap(html))]
    ctype = 'Content-Type: multipart/alternative; boundary="%s"' % boundary
    if kind > 0.90:
        size = rng.randint(20_000, 300_000) if rng.random() > 0.03 else rng.randint(1_000_000, 2_000_000)
        data = base64.encodebytes(os.urandom(size)).replace(b"\n", b"\r\n").decode()
        parts.append('--%s\r\nContent-Type: application/pdf; name="invoice-%d.pdf"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="invoice-%d.pdf"\r\n\r\n%s' % (boundary, n, n, data))
        ctype = 'Content-Type: multipart/mixed; boundary="%s"' % boundary
    return headers(rng, n, subject, ctype) + "".join(parts) + "--%s--\r\n" % boundary


def main():
    maildir, count = sys.argv[1], int(sys.argv[2])
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 4)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    total = 0
    for n in range(1, count + 1):
        data = message(rng, n).encode("utf-8")
        total += len(data)
        name = "%d.M%dP1.bench,S=%d:2," % (1790000000 + n, n, len(data))
        with open(os.path.join(maildir, "cur", name), "wb") as f:
            f.write(data)
    print("%d messages, %d bytes (%.1f kB average)" % (count, total, total / count / 1024), file=sys.stderr)


if __name__ == "__main__":
    main()
