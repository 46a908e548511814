"""Graph change-notification subscriptions on messages: the validation handshake at creation,
notifications with clientState for created/updated/deleted messages, expiry and renewal (PATCH),
reauthorize, and lifecycle notifications (sent when the control API asks)."""
from __future__ import annotations

import datetime as dt
import json
import queue
import re
import secrets
import ssl
import threading
import time
import urllib.parse
import urllib.request
import uuid

from .store import iso, now, parse_iso

MAX_MINUTES = 10070  # Outlook resources: a subscription lives under seven days
TENANT = "00000000-0000-0000-0000-00000000feed"
RESOURCE = re.compile(r"^/?(users/([^/]+)|me)(/mailFolders(\('[^']*'\)|/[^/]+))?/messages/?$", re.I)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class Subscriptions:
    """Subscriptions and the delivery thread; attached to the store as a listener."""

    def __init__(self, store):
        self.store = store
        self.lock = threading.Lock()
        self.items: dict[str, dict] = {}
        self.delivered: list[dict] = []  # what was sent where, for tests (GET /_control/notifications)
        self.queue: queue.Queue = queue.Queue()
        store.listeners.append(self.on_change)
        threading.Thread(target=self.deliver_forever, daemon=True, name="graph-notify").start()

    def active(self, sid: str) -> dict | None:
        with self.lock:
            sub = self.items.get(sid)
            if sub and parse_iso(sub["expirationDateTime"]) <= now():
                del self.items[sid]  # an expired subscription is gone, as in Graph
                return None
            return sub

    def on_change(self, box, folder, item, event):
        change = {"created": "created", "updated": "updated", "deleted": "deleted"}[event]
        with self.lock:
            subs = list(self.items.values())
        for sub in subs:
            if sub["_mailbox"] != box.address or change not in sub["changeType"].split(","):
                continue
            if sub["_folder"] is not None and sub["_folder"] != folder.number:
                continue
            if self.active(sub["id"]) is None:
                continue
            item_id = self.store.item_id(box, item, urlsafe=True)
            resource = f"Users/{box.address}/Messages/{item_id}"
            self.queue.put((sub["notificationUrl"], {"value": [{
                "subscriptionId": sub["id"], "subscriptionExpirationDateTime": sub["expirationDateTime"],
                "changeType": change, "resource": resource, "clientState": sub.get("clientState"),
                "tenantId": TENANT,
                "resourceData": {"@odata.type": "#Microsoft.Graph.Message", "@odata.id": resource,
                                 "@odata.etag": f'W/"{self.store.change_key(item)}"', "id": item_id}}]}))

    def deliver_forever(self):
        while True:
            url, body = self.queue.get()
            # Graph retries a failed delivery with back-off; here three tries a second or two apart.
            for attempt in range(3):
                status = post(url, json.dumps(body).encode(), "application/json")
                with self.lock:
                    self.delivered.append({"url": url, "body": body, "status": status, "at": iso(now())})
                    del self.delivered[:-500]
                if 200 <= status < 300:
                    break
                time.sleep(1 + attempt)

    def lifecycle(self, sid: str, event: str) -> dict:
        sub = self.active(sid)
        if sub is None:
            raise KeyError(sid)
        url = sub.get("lifecycleNotificationUrl")
        if not url:
            raise ValueError("the subscription has no lifecycleNotificationUrl")
        body = {"value": [{"subscriptionId": sid, "subscriptionExpirationDateTime": sub["expirationDateTime"],
                           "tenantId": TENANT, "clientState": sub.get("clientState"), "lifecycleEvent": event,
                           "resource": sub["resource"]}]}
        if event == "subscriptionRemoved":
            with self.lock:
                self.items.pop(sid, None)
        self.queue.put((url, body))
        return body

    def expire(self, sid: str | None):
        with self.lock:
            for key, sub in self.items.items():
                if sid in (None, key):
                    sub["expirationDateTime"] = iso(now() - dt.timedelta(seconds=1))


def post(url: str, data: bytes, content_type: str, timeout: float = 10) -> int:
    """POSTs to a client's endpoint. Test certificates on loopback are not verified."""
    context = ssl.create_default_context()
    if urllib.parse.urlsplit(url).hostname in LOOPBACK:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return 0


def validate(url: str) -> bool:
    """The handshake: POST url?validationToken=...; the endpoint must answer 200, text/plain, the
    token itself, within ten seconds."""
    token = "Validation: Testing client application reachability for subscription Request-Id: " + str(uuid.uuid4())
    sep = "&" if "?" in url else "?"
    context = ssl.create_default_context()
    if urllib.parse.urlsplit(url).hostname in LOOPBACK:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(f"{url}{sep}validationToken={urllib.parse.quote(token)}", data=b"",
                                     method="POST", headers={"Content-Type": "text/plain; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            body = response.read().decode("utf-8", "replace")
            return response.status == 200 and body == token and \
                response.headers.get("Content-Type", "").startswith("text/plain")
    except Exception:
        return False


def route(api, method: str, path: str, body: bytes):
    from .graph import GraphError, Response

    subs: Subscriptions = api.ctx.extra["subscriptions"]
    parts = [p for p in path.split("/") if p]
    if len(parts) == 1:
        if method == "GET":
            with subs.lock:
                ids = list(subs.items)
            return Response(200, {"value": [public(s) for s in (subs.active(i) for i in ids) if s]})
        if method != "POST":
            raise GraphError(405, "BadRequest", "Method not allowed.")
        return create(api, subs, body)
    sub = subs.active(parts[1])
    if sub is None:
        raise GraphError(404, "ResourceNotFound", "The object was not found.")
    if len(parts) == 3 and parts[2] == "reauthorize" and method == "POST":
        return Response(200)
    if method == "GET":
        return Response(200, public(sub))
    if method == "DELETE":
        with subs.lock:
            subs.items.pop(sub["id"], None)
        return Response(204)
    if method == "PATCH":
        change = json.loads(body or b"{}")
        sub["expirationDateTime"] = iso(checked_expiry(change.get("expirationDateTime")))
        return Response(200, public(sub))
    raise GraphError(405, "BadRequest", "Method not allowed.")


def checked_expiry(text):
    from .graph import GraphError
    try:
        when = parse_iso(str(text))
    except Exception:
        raise GraphError(400, "ExtensionError", "expirationDateTime is missing or not a date.")
    if when <= now():
        raise GraphError(400, "ExtensionError", "Subscription expiration can only be in the future.")
    if when > now() + dt.timedelta(minutes=MAX_MINUTES):
        raise GraphError(400, "ExtensionError",
                         f"Subscription expiration can only be {MAX_MINUTES} minutes in the future.")
    return when


def create(api, subs: Subscriptions, body: bytes):
    from .graph import GraphError, Response

    try:
        request = json.loads(body or b"{}")
        resource = str(request["resource"])
        url = str(request["notificationUrl"])
        change_type = str(request["changeType"])
    except (ValueError, KeyError, TypeError):
        raise GraphError(400, "InvalidRequest", "resource, notificationUrl and changeType are required.")
    if any(c not in ("created", "updated", "deleted") for c in change_type.split(",")):
        raise GraphError(400, "InvalidRequest", f"Invalid changeType '{change_type}'.")
    client_state = request.get("clientState")
    if client_state is not None and len(str(client_state)) > 128:
        raise GraphError(400, "InvalidRequest", "clientState is longer than 128 characters.")
    for u in filter(None, (url, request.get("lifecycleNotificationUrl"))):
        parts = urllib.parse.urlsplit(u)
        # Graph takes HTTPS only; plain HTTP is let through for loopback test receivers.
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
            raise GraphError(400, "InvalidRequest", "The notification URL must use HTTPS.")
    m = RESOURCE.match(resource)
    if not m:
        raise GraphError(400, "ExtensionError", f"Unsupported resource '{resource}' (messages of a mailbox or a mail folder).")
    box = api.mailbox(m.group(2), me=m.group(1).lower() == "me")
    folder = None
    if m.group(4):
        key = m.group(4).strip("/()'")
        folder = api.folder(box, key).number
    expires = checked_expiry(request.get("expirationDateTime"))
    for u in filter(None, (url, request.get("lifecycleNotificationUrl"))):
        if not validate(u):
            raise GraphError(400, "InvalidRequest",
                             "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.")
    sub = {"id": str(uuid.uuid4()), "resource": resource, "applicationId": "00000000-0000-0000-0000-0000000a11ce",
           "changeType": change_type, "clientState": client_state, "notificationUrl": url,
           "lifecycleNotificationUrl": request.get("lifecycleNotificationUrl"),
           "expirationDateTime": iso(expires), "creatorId": secrets.token_hex(8),
           "latestSupportedTlsVersion": "v1_2", "includeResourceData": False,
           "_mailbox": box.address, "_folder": folder}
    with subs.lock:
        subs.items[sub["id"]] = sub
    return Response(201, {"@odata.context": f"{api.base}/$metadata#subscriptions/$entity", **public(sub)})


def public(sub: dict) -> dict:
    return {k: v for k, v in sub.items() if not k.startswith("_")}
