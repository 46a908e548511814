"""The control API (/_control/... on both ports, no authentication: loopback test servers only).
Tests use it to put mail in place, look at what arrived, and switch failures on. README.md lists
every endpoint."""
from __future__ import annotations

import base64
import datetime as dt
import json
import urllib.parse

from .store import NotFound, iso, make_message, now, parse_iso

FAULT_KINDS = {"throttle", "unavailable", "unauthorized", "status", "malformed", "slow", "disconnect", "truncate",
               "vanish", "soapFault", "responseCode"}


class ControlError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def dispatch(handler, method: str, path: str, query: dict, body: bytes):
    ctx = handler.ctx
    store = ctx.store
    parts = [urllib.parse.unquote(p) for p in path.split("/") if p]
    try:
        data = json.loads(body) if body.strip() else {}
    except ValueError:
        raise ControlError(400, "the body is not JSON")
    if not isinstance(data, dict):
        raise ControlError(400, "the body must be a JSON object")
    route = (method, parts[0] if parts else "")

    if route == ("GET", ""):
        with store.lock:
            return 200, {"domain": store.domain, "server": handler.server_name,
                         "mailboxes": [b.address for b in store.mailboxes.values()]}, "application/json"
    if route == ("POST", "reset"):
        with store.lock:
            store.mailboxes.clear()
            store.by_number.clear()
            store.outbound.clear()
        store.expire_states()
        ctx.faults.clear()
        ctx.extra["subscriptions"].expire(None)
        ctx.extra["streams"].expire(None)
        return 200, {"reset": True}, "application/json"
    if parts[:1] == ["mailboxes"]:
        return mailboxes(ctx, method, parts[1:], query, data)
    if parts[:1] == ["messages"] and len(parts) >= 2:
        return message(ctx, method, parts[1], parts[2:], data)
    if route == ("POST", "syncstates") and parts[1:] == ["expire"]:
        count = store.expire_states(data.get("protocol"), data.get("token"), data.get("mailbox"))
        return 200, {"expired": count}, "application/json"
    if parts[:1] == ["faults"]:
        if method == "GET":
            with ctx.faults.lock:
                return 200, {"faults": list(ctx.faults.items)}, "application/json"
        if method == "DELETE":
            ctx.faults.clear(query.get("mailbox"))
            return 200, {"faults": []}, "application/json"
        if data.get("kind") not in FAULT_KINDS:
            raise ControlError(400, f"unknown fault kind {data.get('kind')!r}; one of {sorted(FAULT_KINDS)}")
        data.setdefault("server", handler.server_name)
        if data["server"] == "any":
            data["server"] = None
        return 200, ctx.faults.add(data), "application/json"
    if route == ("POST", "tokens"):
        if parts[1:] == ["expire"]:
            ctx.tokens.expire(data.get("token"))
            return 200, {"expired": data.get("token") or "all issued"}, "application/json"
        user = data.get("user")
        token = ctx.tokens.issue(float(data.get("expiresIn", 3600)), user.lower() if user else None)
        return 200, {"token": token, "expiresIn": data.get("expiresIn", 3600), "user": user}, "application/json"
    if route == ("GET", "outbound"):
        with store.lock:
            sent = [dict(o, mime=base64.b64encode(o["mime"]).decode()) for o in store.outbound]
        return 200, {"messages": sent}, "application/json"
    if route == ("GET", "requests"):
        since = int(query.get("since", 0))
        with ctx.request_lock:
            entries = [e for e in ctx.requests if e["n"] > since]
        return 200, {"requests": entries, "last": ctx.request_counter}, "application/json"
    if route == ("GET", "notifications"):
        subs = ctx.extra["subscriptions"]
        with subs.lock:
            return 200, {"notifications": list(subs.delivered),
                         "subscriptions": [{k: v for k, v in s.items() if not k.startswith("_")} for s in subs.items.values()]}, "application/json"
    if route == ("POST", "subscriptions"):
        subs = ctx.extra["subscriptions"]
        if parts[1:] == ["expire"]:
            subs.expire(data.get("id"))
            return 200, {"expired": data.get("id") or "all"}, "application/json"
        if len(parts) == 3 and parts[2] == "lifecycle":
            try:
                return 200, subs.lifecycle(parts[1], data.get("event", "reauthorizationRequired")), "application/json"
            except KeyError:
                raise ControlError(404, "no such subscription")
            except ValueError as e:
                raise ControlError(400, str(e))
    if route == ("POST", "ews"):
        streams = ctx.extra["streams"]
        if parts[1:] == ["streams", "close"]:
            streams.close_all(data.get("mailbox", "").lower() or None)
            return 200, {"closed": True}, "application/json"
        if parts[1:] == ["subscriptions", "expire"]:
            streams.expire(data.get("id"))
            return 200, {"expired": data.get("id") or "all"}, "application/json"
    if route == ("POST", "autodiscover"):
        # {address, redirectAddr? | redirectUrl?}: Autodiscover redirects that address (none: stops).
        target = {k: data[k] for k in ("redirectAddr", "redirectUrl") if data.get(k)}
        ctx.extra["autodiscover"].set(str(data.get("address", "")), target or None)
        return 200, {"address": data.get("address"), **target}, "application/json"
    if route == ("POST", "introspection"):
        # A later OAuth2 test server can point token checks at itself after both have started.
        tokens = ctx.tokens
        previous = {"url": tokens.introspection_url, "clientId": tokens.client[0], "clientSecret": tokens.client[1]}
        tokens.introspection_url = data.get("url") or None
        tokens.client = (data.get("clientId"), data.get("clientSecret"))
        return 200, {"url": tokens.introspection_url, "previous": previous}, "application/json"
    if route == ("POST", "settings") and "latencyMs" in data:
        # Every API request on this port waits this long first: a service a network away, where
        # round trips cost what they cost against Microsoft's (benchmarks; 0 switches it off).
        ctx.extra["latency"] = max(0.0, float(data["latencyMs"]) / 1000)
        return 200, {"latencyMs": data["latencyMs"]}, "application/json"
    if route == ("POST", "settings"):
        streams = ctx.extra["streams"]
        target = streams.per_mailbox.setdefault(data["mailbox"].lower(), {}) if data.get("mailbox") else None
        if "streamMaxSeconds" in data:
            value = None if data["streamMaxSeconds"] is None else float(data["streamMaxSeconds"])
            if target is None:
                streams.max_seconds = value
            else:
                target["max_seconds"] = value
        if "streamHeartbeatSeconds" in data:
            value = float(data["streamHeartbeatSeconds"])
            if target is None:
                streams.heartbeat = value
            else:
                target["heartbeat"] = value
        return 200, {"streamMaxSeconds": streams.max_seconds, "streamHeartbeatSeconds": streams.heartbeat,
                     "mailboxes": streams.per_mailbox}, "application/json"
    raise ControlError(404, f"no control endpoint {method} /_control{path}")


def ids(store, box, item) -> dict:
    return {"graphId": store.item_id(box, item, urlsafe=True), "ewsId": store.item_id(box, item),
            "changeKey": store.change_key(item), "folder": box.folders[item.folder].name}


def mailboxes(ctx, method, rest, query, data):
    store = ctx.store
    if not rest:
        if method == "POST":
            address = str(data.get("address", "")).strip()
            if "@" not in address:
                raise ControlError(400, "address is required")
            box = store.create_mailbox(address, bool(data.get("shared")), data.get("displayName"))
            return 200, {"address": box.address, "shared": box.shared}, "application/json"
        with store.lock:
            return 200, {"mailboxes": [{"address": b.address, "shared": b.shared} for b in store.mailboxes.values()]}, "application/json"
    try:
        box = store.mailbox(rest[0], create=True)
    except NotFound:
        raise ControlError(404, f"{rest[0]} is not a mailbox here (any address @{store.domain} is, and those created with POST /_control/mailboxes)")
    what = rest[1] if len(rest) > 1 else None
    if what == "folders":
        if method == "POST":
            name = str(data.get("name", "")).strip()
            if not name:
                raise ControlError(400, "name is required")
            parent = store.folder(box, data["parent"]) if data.get("parent") else None
            folder = store.create_folder(box, name, parent)
            return 200, {"name": folder.name, "graphId": store.folder_id(box, folder, urlsafe=True),
                         "ewsId": store.folder_id(box, folder)}, "application/json"
        with store.lock:
            return 200, {"folders": [{"name": f.name, "wellKnownName": f.well_known, "count": len(f.items),
                                      "graphId": store.folder_id(box, f, urlsafe=True), "ewsId": store.folder_id(box, f)}
                                     for f in box.folders.values()]}, "application/json"
    if what == "messages":
        try:
            folder = store.folder(box, data.get("folder") or query.get("folder") or "inbox")
        except NotFound:
            raise ControlError(404, "no such folder")
        if method == "GET":
            with store.lock:
                items = sorted(folder.items.values(), key=lambda i: i.number)
                listed = [dict(ids(store, box, i), subject=i.header("Subject"), messageId=i.header("Message-ID"),
                               receivedDateTime=iso(i.received), size=len(i.mime), isRead=i.is_read) for i in items]
            return 200, {"messages": listed}, "application/json"
        mode = rest[2] if len(rest) > 2 else None
        received = parse_iso(data["receivedDateTime"]) if data.get("receivedDateTime") else None
        if mode == "bulk":
            count = int(data.get("count", 1))
            if not 1 <= count <= 100000:
                raise ControlError(400, "count must be 1 to 100000")
            pad = int(data.get("bodyBytes", 200))
            start = received or now()
            for n in range(count):
                when = start - dt.timedelta(seconds=count - n) if received is None else start
                mime = make_message(data.get("from", "customer@sender.test"), box.address,
                                    f"{data.get('subject', 'Bulk message')} {n + 1}", "x" * pad, when)
                store.add_item(box, folder, mime, when)
            return 200, {"added": count}, "application/json"
        if mode == "large":
            size = int(data.get("bytes", 50 * 1024 * 1024))
            line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd\r\n"
            filler = line * (size // len(line) + 1)
            mime = make_message(data.get("from", "customer@sender.test"), box.address,
                                data.get("subject", "A large message"), "", received)[:-2] + filler[:max(0, size)]
            item = store.add_item(box, folder, mime, received)
            return 200, dict(ids(store, box, item), size=len(mime)), "application/json"
        if "mimeBase64" in data:
            mime = base64.b64decode(data["mimeBase64"])
        elif "mime" in data:
            mime = str(data["mime"]).encode("utf-8")
        else:
            mime = make_message(data.get("from", "customer@sender.test"), data.get("to", box.address),
                                data.get("subject", "Test message"), data.get("body", "Hello."), received,
                                data.get("messageId"))
        item = store.add_item(box, folder, mime, received, bool(data.get("isRead", False)))
        return 200, ids(store, box, item), "application/json"
    raise ControlError(404, "no such mailbox endpoint")


def message(ctx, method, key, rest, data):
    store = ctx.store
    try:
        box, item = store.find_item(key)
    except (ValueError, NotFound):
        raise ControlError(404, "no such message")
    if method == "GET" and rest == ["mime"]:
        return 200, item.mime, "message/rfc822"
    if method == "GET" and not rest:
        return 200, dict(ids(store, box, item), subject=item.header("Subject"), receivedDateTime=iso(item.received),
                         size=len(item.mime), isRead=item.is_read, mailbox=box.address), "application/json"
    if method == "DELETE" and not rest:
        store.delete_item(box, item)
        return 200, {"deleted": True}, "application/json"
    if method == "POST" and rest == ["update"]:
        store.update_item(box, item, is_read=data.get("isRead"))
        return 200, ids(store, box, item), "application/json"
    if method == "POST" and rest == ["move"]:
        moved = store.move_item(box, item, store.folder(box, data.get("folder", "deleteditems")))
        return 200, ids(store, box, moved), "application/json"
    raise ControlError(404, "no such message endpoint")
