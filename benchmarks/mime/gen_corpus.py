#!/usr/bin/env python3
"""Writes a seeded, realistic corpus of .eml files for the MIME parsing benchmark.

Mix (by count): ~70% small single-part text messages in several charsets and transfer
encodings, ~20% multipart/alternative (text + HTML), ~10% multipart/mixed with 1-3
attachments (5 KB - 300 KB, base64). Headers look like real inbound mail: Received chains,
encoded subjects and display names, References, DKIM-sized fields.

Usage: gen_corpus.py OUTDIR [COUNT] [SEED]
"""
import base64
import os
import quopri
import random
import sys

WORDS = {
    "en": "order delivery invoice refund account password please thanks hello problem broken arrived yesterday tomorrow support ticket status payment card shipping address".split(),
    "de": "Bestellung Lieferung Rechnung Erstattung Konto Passwort bitte danke Grüße Problem kaputt angekommen gestern morgen Zahlung Adresse über".split(),
    "fr": "commande livraison facture remboursement compte mot de passe merci bonjour problème cassé arrivé hier demain paiement adresse reçu".split(),
    "ru": "заказ доставка счёт возврат аккаунт пароль пожалуйста спасибо здравствуйте проблема сломан пришёл вчера завтра оплата адрес".split(),
    "ja": "注文 配送 請求書 返金 アカウント パスワード お願いします ありがとう こんにちは 問題 壊れた 届いた 昨日 明日 支払い 住所".split(),
    "zh": "订单 配送 发票 退款 账户 密码 请 谢谢 你好 问题 坏了 到达 昨天 明天 付款 地址".split(),
}
# (language, charset label, Python codec, transfer encoding)
TEXT_VARIANTS = [
    ("en", "us-ascii", "ascii", "7bit"),
    ("en", "utf-8", "utf-8", "7bit"),
    ("de", "utf-8", "utf-8", "quoted-printable"),
    ("de", "iso-8859-1", "latin-1", "quoted-printable"),
    ("fr", "windows-1252", "cp1252", "8bit"),
    ("fr", "utf-8", "utf-8", "base64"),
    ("ru", "koi8-r", "koi8_r", "8bit"),
    ("ru", "windows-1251", "cp1251", "base64"),
    ("ru", "utf-8", "utf-8", "base64"),
    ("ja", "iso-2022-jp", "iso2022_jp", "7bit"),
    ("ja", "shift_jis", "cp932", "base64"),
    ("zh", "gb2312", "gb2312", "base64"),
    ("zh", "utf-8", "utf-8", "base64"),
]
NAMES = ["Ann Example", "Jürgen Müller", "Zoë Martin", "Иван Петров", "山田 太郎", "王芳", "O'Brien, Pat", "Support Team"]


def sentence(rng, lang, count):
    sep = "" if lang in ("ja", "zh") else " "
    return sep.join(rng.choice(WORDS[lang]) for _ in range(count))


def body_text(rng, lang, lines):
    return "\n".join(sentence(rng, lang, rng.randint(6, 14)) for _ in range(lines)) + "\n"


def encode_word(text):
    return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="


def header_name(name):
    return encode_word(name) if any(ord(c) > 127 for c in name) else ('"%s"' % name if "," in name else name)


def encode_body(text, codec, cte):
    raw = text.replace("\n", "\r\n").encode(codec)
    if cte == "base64":
        return base64.encodebytes(raw).replace(b"\n", b"\r\n")
    if cte == "quoted-printable":
        return quopri.encodestring(raw).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return raw


def headers(rng, index, subject_lang):
    subject = sentence(rng, subject_lang, rng.randint(3, 8))
    name = rng.choice(NAMES)
    lines = []
    for hop in range(rng.randint(2, 5)):
        lines.append("Received: from mx%d.example.net (mx%d.example.net [192.0.2.%d])\r\n\tby mail.helpdesk.test (Postfix) with ESMTPS id %08X\r\n\tfor <support@helpdesk.test>; Mon, 23 Nov 2026 %02d:%02d:%02d +0000" % (hop, hop, hop + 1, rng.getrandbits(32), rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)))
    lines.append("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.net; s=s1;\r\n\th=from:to:subject:date:message-id; bh=" + base64.b64encode(rng.randbytes(32)).decode() + ";\r\n\tb=" + base64.b64encode(rng.randbytes(128)).decode())
    lines.append("From: %s <customer%d@example.net>" % (header_name(name), index))
    lines.append("To: Support <support@helpdesk.test>")
    if rng.random() < 0.3:
        lines.append("Cc: %s <cc%d@example.org>, other%d@example.com" % (header_name(rng.choice(NAMES)), index, index))
    lines.append("Subject: " + (encode_word(subject) if subject_lang != "en" else subject))
    lines.append("Date: Mon, %d Nov 2026 %02d:%02d:%02d %s" % (rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59), rng.choice(["+0000", "+0100", "-0500", "+0900"])))
    lines.append("Message-ID: <%016x.%d@example.net>" % (rng.getrandbits(64), index))
    if rng.random() < 0.4:
        refs = " ".join("<ref%d.%d@helpdesk.test>" % (index, r) for r in range(rng.randint(1, 6)))
        lines.append("In-Reply-To: <ref%d.0@helpdesk.test>" % index)
        lines.append("References: " + refs)
    lines.append("MIME-Version: 1.0")
    return "\r\n".join(lines).encode() + b"\r\n"


def message(rng, index):
    kind = rng.random()
    lang, label, codec, cte = rng.choice(TEXT_VARIANTS)
    head = headers(rng, index, lang)
    text = body_text(rng, lang, rng.randint(3, 30))
    if kind < 0.70:
        return head + ("Content-Type: text/plain; charset=%s\r\nContent-Transfer-Encoding: %s\r\n\r\n" % (label, cte)).encode() + encode_body(text, codec, cte)
    boundary = "----=_Part_%d_%d" % (index, rng.getrandbits(30))
    html = "<html><head><meta charset=\"%s\"></head><body>%s</body></html>\n" % (label, "".join("<p>%s</p>" % line for line in text.splitlines()))
    alternative = (
        ("--%s\r\nContent-Type: text/plain; charset=%s\r\nContent-Transfer-Encoding: %s\r\n\r\n" % (boundary, label, cte)).encode() + encode_body(text, codec, cte)
        + ("\r\n--%s\r\nContent-Type: text/html; charset=%s\r\nContent-Transfer-Encoding: %s\r\n\r\n" % (boundary, label, cte)).encode() + encode_body(html, codec, cte)
        + ("\r\n--%s--\r\n" % boundary).encode()
    )
    if kind < 0.90:
        return head + ("Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n" % boundary).encode() + alternative
    outer = "----=_Mixed_%d_%d" % (index, rng.getrandbits(30))
    parts = [("--%s\r\nContent-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n" % (outer, boundary)).encode() + alternative]
    for number in range(rng.randint(1, 3)):
        size = int(rng.choice([5, 20, 60, 150, 300]) * 1024 * rng.uniform(0.5, 1.0))
        kind_name, mime = rng.choice([("pdf", "application/pdf"), ("png", "image/png"), ("jpg", "image/jpeg"), ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document")])
        filename = rng.choice(["invoice", "Rechnung über", "screenshot", "счёт", "注文書"]) + " %d.%s" % (number, kind_name)
        if any(ord(c) > 127 for c in filename):
            disp = "attachment; filename*=utf-8''" + "".join(c if c.isascii() and c.isalnum() or c in ".-_" else "".join("%%%02X" % b for b in c.encode()) for c in filename)
        else:
            disp = 'attachment; filename="%s"' % filename
        data = rng.randbytes(size)
        parts.append(("--%s\r\nContent-Type: %s; name=\"%s\"\r\nContent-Disposition: %s\r\nContent-Transfer-Encoding: base64\r\n\r\n" % (outer, mime, encode_word(filename) if not filename.isascii() else filename, disp)).encode() + base64.encodebytes(data).replace(b"\n", b"\r\n"))
    return head + ("Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n" % outer).encode() + b"\r\n".join(parts) + ("\r\n--%s--\r\n" % outer).encode()


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 20261123
    rng = random.Random(seed)
    os.makedirs(out, exist_ok=True)
    for index in range(count):
        with open(os.path.join(out, "%05d.eml" % index), "wb") as handle:
            handle.write(message(rng, index))


if __name__ == "__main__":
    main()
