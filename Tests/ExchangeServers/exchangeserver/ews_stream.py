"""EWS streaming notifications: Subscribe (StreamingSubscriptionRequest), Unsubscribe and
GetStreamingEvents, which answers with one long chunked HTTP response of SOAP envelopes, each a
batch of notifications or a keep-alive, the last one with ConnectionStatus Closed."""
from __future__ import annotations

import secrets
import threading
import time

from .ews_xml import EWSFault, ItemError, failure, folder_id_xml, item_id_xml, m, operation_response, success, t, text
from .store import iso, now

EVENTS = {"NewMailEvent", "CreatedEvent", "DeletedEvent", "ModifiedEvent", "MovedEvent", "CopiedEvent", "FreeBusyChangedEvent"}


class Subscription:
    def __init__(self, sid, mailbox, folders, events):
        self.id, self.mailbox, self.folders, self.events = sid, mailbox, folders, events
        self.pending: list[str] = []
        self.closed = False


class Streams:
    def __init__(self, store):
        self.store = store
        self.cond = threading.Condition()
        self.subs: dict[str, Subscription] = {}
        self.max_seconds: float | None = None  # the control API shortens ConnectionTimeout for tests
        self.heartbeat = 10.0
        self.per_mailbox: dict[str, dict] = {}  # the same two settings for one mailbox's streams
        store.listeners.append(self.on_change)

    def on_change(self, box, folder, item, event):
        with self.cond:
            for sub in self.subs.values():
                if sub.mailbox != box.address or (sub.folders is not None and folder.number not in sub.folders):
                    continue
                ids = item_id_xml(self.store, box, item) + folder_id_xml(self.store, box, folder, "ParentFolderId")
                stamp = f"<t:TimeStamp>{iso(now())}</t:TimeStamp>"
                names = {"created": ["CreatedEvent"] + (["NewMailEvent"] if folder.well_known == "inbox" else []),
                         "deleted": ["DeletedEvent"], "updated": ["ModifiedEvent"]}[event]
                for name in names:
                    if name in sub.events:
                        sub.pending.append(f"<t:{name}>{stamp}{ids}</t:{name}>")
            self.cond.notify_all()

    def close_all(self, mailbox: str | None = None):
        with self.cond:
            for sub in self.subs.values():
                if mailbox in (None, sub.mailbox):
                    sub.closed = True
            self.cond.notify_all()

    def setting(self, mailbox: str, name: str):
        return self.per_mailbox.get(mailbox, {}).get(name, getattr(self, name))

    def expire(self, sid=None):
        with self.cond:
            for key in list(self.subs):
                if sid in (None, key):
                    self.subs.pop(key).closed = True
            self.cond.notify_all()


def op_subscribe(r):
    streams: Streams = r.h.ctx.extra["streams"]
    request = r.op.find(m("StreamingSubscriptionRequest"))
    if request is None:
        raise EWSFault("ErrorInvalidSubscriptionRequest", "Only streaming subscriptions are implemented by this test server.")
    events = {el.text for el in request.findall(f"{t('EventTypes')}/{t('EventType')}")}
    if not events or not events <= EVENTS:
        return [failure("Subscribe", "ErrorInvalidSubscriptionRequest", "The event types are missing or unknown.")]
    try:
        if request.get("SubscribeToAllFolders", "false") == "true":
            box, folders = r.open_mailbox(None), None
        else:
            found = [r.folder(el) for el in request.findall(f"{t('FolderIds')}/*")]
            if not found:
                raise ItemError("ErrorInvalidSubscriptionRequest", "FolderIds is missing.")
            box = found[0][0]
            folders = {f.number for _, f in found}
    except ItemError as e:
        return [failure("Subscribe", e.code, e.message)]
    sid = "EQB" + secrets.token_urlsafe(30)
    with streams.cond:
        streams.subs[sid] = Subscription(sid, box.address, folders, events)
    return [success("Subscribe", f"<m:SubscriptionId>{sid}</m:SubscriptionId>")]


def op_unsubscribe(r):
    streams: Streams = r.h.ctx.extra["streams"]
    sid = text(r.op, m("SubscriptionId"), "")
    with streams.cond:
        sub = streams.subs.pop(sid, None)
        if sub:
            sub.closed = True
        streams.cond.notify_all()
    if sub is None:
        return [failure("Unsubscribe", "ErrorSubscriptionNotFound", "The specified subscription was not found.")]
    return [success("Unsubscribe")]


def _message(notifications: list[tuple[str, list[str]]], status: str, errors: list[str] = ()) -> bytes:
    body = ""
    if notifications:
        body += "<m:Notifications>" + "".join(
            f"<m:Notification><t:SubscriptionId>{sid}</t:SubscriptionId>{''.join(events)}</m:Notification>"
            for sid, events in notifications) + "</m:Notifications>"
    if errors:
        body += "<m:ErrorSubscriptionIds>" + "".join(f"<m:SubscriptionId>{e}</m:SubscriptionId>" for e in errors) + "</m:ErrorSubscriptionIds>"
    body += f"<m:ConnectionStatus>{status}</m:ConnectionStatus>"
    return operation_response("GetStreamingEvents", [success("GetStreamingEvents", body)])


def stream(handler, principal, op_el) -> int:
    streams: Streams = handler.ctx.extra["streams"]
    ids = [el.text or "" for el in op_el.findall(f"{m('SubscriptionIds')}/{t('SubscriptionId')}")]
    try:
        minutes = int(text(op_el, m("ConnectionTimeout"), "30"))
    except ValueError:
        minutes = 0
    with streams.cond:
        subs = [streams.subs.get(i) for i in ids]
    known = [s for s in subs if s is not None]
    if not 1 <= minutes <= 30 or not known:
        code = "ErrorInvalidArgument" if known else "ErrorSubscriptionNotFound"
        body = operation_response("GetStreamingEvents", [failure("GetStreamingEvents", code,
                                                                 "The subscription or the connection timeout is invalid.")])
        handler.send(200, body, "text/xml; charset=utf-8")
        return 200
    owner = known[0].mailbox
    cap, heartbeat = streams.setting(owner, "max_seconds"), streams.setting(owner, "heartbeat")
    limit = minutes * 60.0 if cap is None else min(minutes * 60.0, cap)
    handler.send_response(200)
    handler.send_header("Content-Type", "text/xml; charset=utf-8")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()

    def chunk(data: bytes):
        handler.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        handler.wfile.flush()

    deadline = time.monotonic() + limit
    try:
        while True:
            with streams.cond:
                ready = [(s.id, s.pending[:]) for s in known if s.pending]
                closed = all(s.closed for s in known)
                if not ready and not closed:
                    wait = min(heartbeat, deadline - time.monotonic())
                    if wait > 0:
                        streams.cond.wait(wait)
                    ready = [(s.id, s.pending[:]) for s in known if s.pending]
                for s in known:
                    s.pending.clear()
                closed = all(s.closed for s in known)
            if ready:
                chunk(_message(ready, "OK"))
            elif not closed and time.monotonic() < deadline:
                chunk(_message([], "OK"))  # keep-alive
            if closed or time.monotonic() >= deadline:
                chunk(_message([], "Closed"))
                break
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()
    except OSError:
        pass
    handler.close_connection = True
    return 200
