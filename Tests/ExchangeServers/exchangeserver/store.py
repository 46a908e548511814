"""The mailboxes both servers share: folders, items with raw MIME, change logs and sync states.

One process serves Graph and EWS over the same store, so a message sent over one protocol can be
read over the other, as on a real Exchange organisation. Everything is guarded by one lock.

Change tracking: every change in a mailbox takes the next number of the mailbox's sequence. Each
folder keeps a log of (seq, kind, item) entries. A sync state (a Graph delta/skip token or an EWS
SyncState) is a watermark in that log plus the set of item numbers the client has been told
about, so "created", "updated" and "deleted" are told apart exactly, whatever the page size.
Moving an item gives it a new id (Exchange does the same), so a move is a delete in one folder
and a create in the other.
"""
from __future__ import annotations

import base64
import bisect
import datetime as dt
import email.header
import email.parser
import email.policy
import email.utils
import itertools
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

WELL_KNOWN = [
    # (well-known name, display name)
    ("msgfolderroot", "Top of Information Store"),
    ("inbox", "Inbox"),
    ("sentitems", "Sent Items"),
    ("deleteditems", "Deleted Items"),
    ("drafts", "Drafts"),
    ("junkemail", "Junk Email"),
    ("outbox", "Outbox"),
    ("archive", "Archive"),
]
# EWS names the root of the folder tree "root" and the visible top "msgfolderroot"; one folder here.
ALIASES = {"root": "msgfolderroot", "publicfoldersroot": None}

MAX_SYNC_STATES = 20000  # Graph keeps delta tokens in a bounded cache, and so does this server


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> dt.datetime:
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    t = dt.datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


class NotFound(Exception):
    pass


class RangeSet:
    """A set of non-negative ints kept as sorted half-open ranges: item numbers are handed out in
    order, so the set of items a client knows is a few ranges, cheap to copy into every state."""

    __slots__ = ("starts", "ends")

    def __init__(self, starts=None, ends=None):
        self.starts = list(starts or [])
        self.ends = list(ends or [])

    def copy(self) -> "RangeSet":
        return RangeSet(self.starts, self.ends)

    def __contains__(self, n: int) -> bool:
        i = bisect.bisect_right(self.starts, n) - 1
        return i >= 0 and n < self.ends[i]

    def add(self, n: int):
        if n in self:
            return
        i = bisect.bisect_right(self.starts, n)
        joins_left = i > 0 and self.ends[i - 1] == n
        joins_right = i < len(self.starts) and self.starts[i] == n + 1
        if joins_left and joins_right:
            self.ends[i - 1] = self.ends[i]
            del self.starts[i], self.ends[i]
        elif joins_left:
            self.ends[i - 1] = n + 1
        elif joins_right:
            self.starts[i] = n
        else:
            self.starts.insert(i, n)
            self.ends.insert(i, n + 1)

    def remove(self, n: int):
        i = bisect.bisect_right(self.starts, n) - 1
        if i < 0 or n >= self.ends[i]:
            return
        s, e = self.starts[i], self.ends[i]
        del self.starts[i], self.ends[i]
        if n + 1 < e:
            self.starts.insert(i, n + 1)
            self.ends.insert(i, e)
        if s < n:
            self.starts.insert(i, s)
            self.ends.insert(i, n)


@dataclass
class Folder:
    number: int
    name: str
    well_known: str | None
    parent: int | None
    log: list = field(default_factory=list)  # (seq, "put"|"del", item number), seq ascending
    log_seqs: list = field(default_factory=list)  # the seqs alone, for bisect
    items: dict = field(default_factory=dict)  # item number -> Item


@dataclass
class Item:
    number: int
    folder: int
    mime: bytes
    received: dt.datetime
    version: int
    is_read: bool = False
    headers: object = None

    def header(self, name: str) -> str:
        if self.headers is None:
            # Headers only: a 50 MB body is never parsed for a subject.
            end = self.mime.find(b"\r\n\r\n")
            end2 = self.mime.find(b"\n\n")
            cut = min(x for x in (end, end2, len(self.mime)) if x >= 0)
            self.headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(self.mime[:cut] + b"\r\n\r\n")
        value = self.headers.get(name)
        if value is None:
            return ""
        try:
            return str(email.header.make_header(email.header.decode_header(str(value)))).strip()
        except Exception:
            return str(value).strip()

    def addresses(self, name: str) -> list[tuple[str, str]]:
        if self.headers is None:
            self.header("Subject")
        values = self.headers.get_all(name) or []
        return [(n, a) for n, a in email.utils.getaddresses([str(v) for v in values]) if a]


@dataclass
class SyncState:
    mailbox: str
    folder: int
    watermark: int
    known: RangeSet
    options: dict  # protocol-specific query options carried from round to round


class Mailbox:
    def __init__(self, number: int, address: str, shared: bool, display_name: str):
        self.number = number
        self.address = address
        self.shared = shared
        self.display_name = display_name
        self.seq = 0
        self.folders: dict[int, Folder] = {}
        self.well_known: dict[str, int] = {}
        self.items: dict[int, Item] = {}
        self.item_numbers = itertools.count(1)
        self.folder_numbers = itertools.count(1)
        for name, display in WELL_KNOWN:
            parent = None if name == "msgfolderroot" else self.well_known["msgfolderroot"]
            self._add_folder(display, name, parent)

    def _add_folder(self, name, well_known, parent) -> Folder:
        f = Folder(next(self.folder_numbers), name, well_known, parent)
        self.folders[f.number] = f
        if well_known:
            self.well_known[well_known] = f.number
        return f

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


def encode_id(kind: str, mailbox: int, number: int) -> bytes:
    return f"{kind}:{mailbox}:{number}:".encode() + b"\x00" * 6  # padded so ids look like Exchange's


def decode_id(text: str, kind: str) -> tuple[int, int]:
    """Either base64 flavour: EWS ids are standard base64, Graph ids the URL-safe one."""
    try:
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
        k, m, n, _ = raw.decode().split(":", 3)
        if k != kind:
            raise ValueError(kind)
        return int(m), int(n)
    except Exception:
        raise ValueError(f"malformed {kind} id")


class Store:
    def __init__(self, domain: str):
        self.domain = domain.lower()
        self.lock = threading.RLock()
        self.mailboxes: dict[str, Mailbox] = {}
        self.by_number: dict[int, Mailbox] = {}
        self.numbers = itertools.count(1)
        self.outbound: list[dict] = []  # mail sent to addresses this server does not host
        self.states: dict[str, OrderedDict] = {"graph": OrderedDict(), "ews": OrderedDict()}
        self.listeners: list = []  # callables(mailbox, folder, item, event) run after a change

    # Mailboxes ---------------------------------------------------------------------------------

    def hosts(self, address: str) -> bool:
        address = address.lower()
        return address in self.mailboxes or address.endswith("@" + self.domain)

    def mailbox(self, address: str, create: bool = True) -> Mailbox:
        """Any address at the server's domain exists (created on first use), as any user logs in
        to the Dovecot test server; shared mailboxes are made through the control API."""
        address = address.strip().lower()
        with self.lock:
            box = self.mailboxes.get(address)
            if box is None:
                if not (create and address.endswith("@" + self.domain)):
                    raise NotFound(address)
                box = self.create_mailbox(address, shared=False)
            return box

    def create_mailbox(self, address: str, shared: bool, display_name: str | None = None) -> Mailbox:
        address = address.strip().lower()
        with self.lock:
            if address in self.mailboxes:
                box = self.mailboxes[address]
                box.shared = box.shared or shared
                return box
            box = Mailbox(next(self.numbers), address, shared, display_name or address.split("@")[0])
            self.mailboxes[address] = box
            self.by_number[box.number] = box
            return box

    def folder(self, box: Mailbox, ref: str | int) -> Folder:
        """A folder by well-known name, display name path ("Inbox/Orders") or number."""
        with self.lock:
            if isinstance(ref, int):
                if ref in box.folders:
                    return box.folders[ref]
                raise NotFound(str(ref))
            key = ALIASES.get(ref.lower(), ref.lower())
            if key in box.well_known:
                return box.folders[box.well_known[key]]
            parent = box.well_known["msgfolderroot"]
            found = None
            for part in ref.split("/"):
                found = next((f for f in box.folders.values() if f.parent == parent and f.name.lower() == part.lower()), None)
                if found is None:
                    raise NotFound(ref)
                parent = found.number
            return found

    def create_folder(self, box: Mailbox, name: str, parent: Folder | None = None) -> Folder:
        with self.lock:
            parent = parent or box.folders[box.well_known["msgfolderroot"]]
            for f in box.folders.values():
                if f.parent == parent.number and f.name.lower() == name.lower():
                    return f
            return box._add_folder(name, None, parent.number)

    # Ids -----------------------------------------------------------------------------------------

    @staticmethod
    def item_id(box: Mailbox, item: Item, urlsafe: bool = False) -> str:
        raw = encode_id("item", box.number, item.number)
        return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()

    @staticmethod
    def folder_id(box: Mailbox, folder: Folder, urlsafe: bool = False) -> str:
        raw = encode_id("folder", box.number, folder.number)
        return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()

    @staticmethod
    def change_key(item: Item) -> str:
        return base64.b64encode(f"CQAAABYAAAD{item.version:08d}".encode()).decode()

    def find_item(self, text: str) -> tuple[Mailbox, Item]:
        m, n = decode_id(text, "item")
        with self.lock:
            box = self.by_number.get(m)
            if box is None or n not in box.items:
                raise NotFound(text)
            return box, box.items[n]

    def find_folder_by_id(self, text: str) -> tuple[Mailbox, Folder]:
        m, n = decode_id(text, "folder")
        with self.lock:
            box = self.by_number.get(m)
            if box is None or n not in box.folders:
                raise NotFound(text)
            return box, box.folders[n]

    # Items ---------------------------------------------------------------------------------------

    def _log(self, box: Mailbox, folder: Folder, kind: str, number: int) -> int:
        seq = box.next_seq()
        folder.log.append((seq, kind, number))
        folder.log_seqs.append(seq)
        return seq

    def add_item(self, box: Mailbox, folder: Folder, mime: bytes, received: dt.datetime | None = None,
                 is_read: bool = False) -> Item:
        with self.lock:
            n = next(box.item_numbers)
            item = Item(n, folder.number, mime, received or now(), 0, is_read)
            item.version = self._log(box, folder, "put", n)
            box.items[n] = item
            folder.items[n] = item
        self._notify(box, folder, item, "created")
        return item

    def update_item(self, box: Mailbox, item: Item, is_read: bool | None = None):
        with self.lock:
            if is_read is not None:
                item.is_read = is_read
            item.version = self._log(box, box.folders[item.folder], "put", item.number)
        self._notify(box, box.folders[item.folder], item, "updated")

    def delete_item(self, box: Mailbox, item: Item):
        with self.lock:
            folder = box.folders[item.folder]
            if box.items.pop(item.number, None) is None:
                raise NotFound(str(item.number))
            folder.items.pop(item.number, None)
            self._log(box, folder, "del", item.number)
        self._notify(box, folder, item, "deleted")

    def move_item(self, box: Mailbox, item: Item, target: Folder) -> Item:
        with self.lock:
            self.delete_item(box, item)
            return self.add_item(box, target, item.mime, item.received, item.is_read)

    def _notify(self, box, folder, item, event):
        for listener in list(self.listeners):
            try:
                listener(box, folder, item, event)
            except Exception:
                pass

    # Sending -------------------------------------------------------------------------------------

    def send(self, sender: Mailbox, mime: bytes, recipients: list[str] | None = None,
             save_copy: Folder | None = None) -> dict:
        """Delivers to recipients on this server (Inbox) and records the others as outbound; the
        copy in the sender's folder keeps Bcc, the delivered copies do not."""
        parsed = Item(0, 0, mime, now(), 0)
        if recipients is None:
            recipients = [a for h in ("To", "Cc", "Bcc") for _, a in parsed.addresses(h)]
        recipients = list(dict.fromkeys(a.strip().lower() for a in recipients if a.strip()))
        if not recipients:
            raise ValueError("the message has no recipients")
        delivered = strip_bcc(mime)
        local, remote = [], []
        for address in recipients:
            if self.hosts(address):
                box = self.mailbox(address)
                self.add_item(box, self.folder(box, "inbox"), delivered)
                local.append(address)
            else:
                remote.append(address)
        if remote:
            with self.lock:
                self.outbound.append({"from": sender.address, "recipients": remote, "mime": delivered, "at": iso(now())})
        copy = None
        if save_copy is not None:
            copy = self.add_item(sender, save_copy, mime, is_read=True)
        return {"local": local, "remote": remote, "copy": copy}

    # Sync states ---------------------------------------------------------------------------------

    def new_state(self, protocol: str, state: SyncState) -> str:
        token = secrets.token_urlsafe(24)
        with self.lock:
            states = self.states[protocol]
            states[token] = state
            while len(states) > MAX_SYNC_STATES:
                states.popitem(last=False)
        return token

    def state(self, protocol: str, token: str) -> SyncState | None:
        with self.lock:
            return self.states[protocol].get(token)

    def expire_states(self, protocol: str | None = None, token: str | None = None, mailbox: str | None = None) -> int:
        with self.lock:
            count = 0
            for name, states in self.states.items():
                if protocol and name != protocol:
                    continue
                if token:
                    count += 1 if states.pop(token, None) is not None else 0
                elif mailbox:
                    doomed = [k for k, s in states.items() if s.mailbox == mailbox.lower()]
                    for k in doomed:
                        del states[k]
                    count += len(doomed)
                else:
                    count += len(states)
                    states.clear()
            return count

    def changes(self, box: Mailbox, state: SyncState, limit: int, accept=None) -> tuple[list, SyncState, bool]:
        """The next `limit` changes after the state, as ("create"|"update"|"delete", number, item),
        the state after them, and whether more remain. `accept(item)` filters what the client
        wants to see at all (a receivedDateTime filter): items it refuses are never known."""
        with self.lock:
            folder = box.folders.get(state.folder)
            if folder is None:
                raise NotFound("folder")
            known = state.known.copy()
            out = []
            watermark = state.watermark
            i = bisect.bisect_right(folder.log_seqs, state.watermark)
            while i < len(folder.log):
                seq, kind, n = folder.log[i]
                i += 1
                if kind == "put":
                    item = folder.items.get(n)
                    if item is None or item.version != seq:
                        watermark = seq  # superseded by a later entry
                        continue
                    if accept is not None and not accept(item):
                        watermark = seq
                        continue
                    if len(out) >= limit:
                        i -= 1
                        break
                    out.append(("update" if n in known else "create", n, item))
                    known.add(n)
                else:
                    if n not in known:
                        watermark = seq
                        continue
                    if len(out) >= limit:
                        i -= 1
                        break
                    out.append(("delete", n, None))
                    known.remove(n)
                watermark = seq
            more = i < len(folder.log)
            return out, SyncState(state.mailbox, state.folder, watermark, known, dict(state.options)), more


def strip_bcc(mime: bytes) -> bytes:
    end = mime.find(b"\r\n\r\n")
    sep = b"\r\n"
    if end < 0:
        end, sep = mime.find(b"\n\n"), b"\n"
    if end < 0:
        return mime
    lines = mime[:end].split(sep)
    kept, skipping = [], False
    for line in lines:
        if line[:1] in (b" ", b"\t") and skipping:
            continue
        skipping = line.lower().startswith(b"bcc:")
        if not skipping:
            kept.append(line)
    return sep.join(kept) + mime[end:]


def synthesize_mime(sender: str, to: list[str], cc: list[str], subject: str, body: str, html: bool,
                    bcc: list[str] | None = None) -> bytes:
    """MIME for a message given as fields (EWS CreateItem without MimeContent, Graph JSON sendMail)."""
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = sender
    if to:
        msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if bcc:
        msg["Bcc"] = ", ".join(bcc)
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = email.utils.make_msgid(domain=sender.split("@")[-1] or "exchange.test")
    msg.set_content(body or "", subtype="html" if html else "plain")
    return msg.as_bytes(policy=email.policy.SMTP)


def make_message(sender: str, to: str, subject: str, body: str, received: dt.datetime | None = None,
                 message_id: str | None = None, extra: bytes = b"") -> bytes:
    """A plain message for the control API and bulk loads."""
    date = email.utils.format_datetime(received or now())
    mid = message_id or email.utils.make_msgid(domain="sender.test")
    head = (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: {mid}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
    return head.encode() + body.encode() + b"\r\n" + extra
