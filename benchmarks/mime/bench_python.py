#!/usr/bin/env python3
"""Parses the corpus with Python's email package (policy.default) or fast-mail-parser,
extracting what `mailroom parse` extracts: ids, subject, date, addresses, text and HTML
bodies, attachments with filename, type, size and SHA-256. One process, files read into
memory first, best of ROUNDS passes in process CPU time. MODE "nohash" skips the attachment SHA-256 (sizes
still computed from the decoded content). Prints one line: name messages seconds bytes.

Usage: bench_python.py (email|fast-mail-parser) CORPUSDIR [ROUNDS] [full|nohash]
"""
import email
import email.policy
import hashlib
import os
import sys
import time

HASH = True


def digest(payload):
    return hashlib.sha256(payload).hexdigest() if HASH else ""


def stdlib(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    out = {
        "messageId": msg.get("Message-ID"),
        "inReplyTo": msg.get("In-Reply-To"),
        "references": msg.get("References"),
        "subject": msg.get("Subject"),
        "date": msg.get("Date"),
        "from": [(a.display_name, a.addr_spec) for a in getattr(msg.get("From"), "addresses", ())],
        "to": [(a.display_name, a.addr_spec) for a in getattr(msg.get("To"), "addresses", ())],
        "cc": [(a.display_name, a.addr_spec) for a in getattr(msg.get("Cc"), "addresses", ())],
    }
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    out["text"] = text.get_content() if text is not None else None
    out["html"] = html.get_content() if html is not None else None
    attachments = []
    for part in msg.iter_attachments():
        payload = part.get_payload(decode=True) or b""
        attachments.append((part.get_filename(), part.get_content_type(), len(payload), digest(payload), part.get("Content-ID")))
    out["attachments"] = attachments
    return out


def fast(raw):
    import fast_mail_parser
    mail = fast_mail_parser.parse_email(raw)
    headers = mail.headers
    out = {
        "messageId": headers.get("Message-ID"),
        "inReplyTo": headers.get("In-Reply-To"),
        "references": headers.get("References"),
        "subject": mail.subject,
        "date": mail.date,
        "from": mail.from_,
        "to": mail.to,
        "cc": mail.cc,
        "text": mail.text_plain,
        "html": mail.text_html,
        "attachments": [(a.filename, a.mimetype, len(a.content), digest(a.content), a.content_id) for a in mail.attachments],
    }
    return out


def main():
    which, corpus = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    global HASH
    HASH = not (len(sys.argv) > 4 and sys.argv[4] == "nohash")
    parse = stdlib if which == "email" else fast
    messages = []
    for name in sorted(os.listdir(corpus)):
        with open(os.path.join(corpus, name), "rb") as handle:
            messages.append(handle.read())
    total_bytes = sum(len(m) for m in messages)
    best = None
    failures = 0
    for _ in range(rounds):
        start = time.process_time()
        for raw in messages:
            try:
                parse(raw)
            except Exception:
                failures += 1
        elapsed = time.process_time() - start
        best = elapsed if best is None else min(best, elapsed)
    print("%s %d %.6f %d failures=%d" % (which, len(messages), best, total_bytes, failures // rounds))


if __name__ == "__main__":
    main()
