"""The Graph server's failure modes and state, with plain HTTP: what a client must survive."""
import base64
import http.client
import http.server
import json
import threading
import time
import urllib.parse

import pytest

from support import Servers


def delta(servers: Servers, mailbox, url=None, page=None):
    headers = {"Prefer": f"odata.maxpagesize={page}"} if page else {}
    reply = servers.graph("GET", url or f"/users/{mailbox}/mailFolders/inbox/messages/delta", headers=headers)
    return reply


def drain(servers, mailbox, url=None, page=None):
    """Follows next links to the delta link: (messages, removed ids, delta link)."""
    messages, removed = [], []
    while True:
        reply = delta(servers, mailbox, url, page)
        assert reply.status == 200, reply.body
        body = reply.json()
        for entry in body["value"]:
            (removed if "@removed" in entry else messages).append(entry if "@removed" not in entry else entry["id"])
        if "@odata.deltaLink" in body:
            return messages, removed, body["@odata.deltaLink"]
        url = body["@odata.nextLink"]


def test_delta_tracks_new_changed_and_deleted(servers, mailbox):
    first = [servers.add_message(mailbox, subject=f"M{n}") for n in range(7)]
    messages, removed, link = drain(servers, mailbox, page=3)
    assert [m["subject"] for m in messages] == [f"M{n}" for n in range(7)] and removed == []
    servers.control("graph", "POST", f"/messages/{first[2]['graphId']}/update", {"isRead": True})
    servers.control("graph", "DELETE", f"/messages/{first[3]['graphId']}")
    new = servers.add_message(mailbox, subject="M7")
    messages, removed, link2 = drain(servers, mailbox, link, page=3)
    assert sorted(m["id"] for m in messages) == sorted([first[2]["graphId"], new["graphId"]])
    assert removed == [first[3]["graphId"]]
    assert drain(servers, mailbox, link2)[:2] == ([], [])
    # The old delta link still answers: tokens are states, not a cursor that moves.
    again, _, _ = drain(servers, mailbox, link)
    assert len(again) == 2


def test_delta_filter_on_received_date(servers, mailbox):
    servers.add_message(mailbox, subject="Old", receivedDateTime="2020-01-01T00:00:00Z")
    servers.add_message(mailbox, subject="New")
    url = f"/users/{mailbox}/mailFolders/inbox/messages/delta?$filter=" + urllib.parse.quote("receivedDateTime ge 2024-01-01T00:00:00Z")
    messages, _, _ = drain(servers, mailbox, url)
    assert [m["subject"] for m in messages] == ["New"]
    bad = servers.graph("GET", f"/users/{mailbox}/mailFolders/inbox/messages/delta?$filter=" + urllib.parse.quote("subject eq 'x'"))
    assert bad.status == 400


def test_expired_delta_token_is_410(servers, mailbox):
    servers.add_message(mailbox, subject="A")
    _, _, link = drain(servers, mailbox)
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["$deltatoken"][0]
    assert servers.control("graph", "POST", "/syncstates/expire", {"protocol": "graph", "token": token})["expired"] == 1
    reply = delta(servers, mailbox, link)
    assert reply.status == 410
    assert reply.json()["error"]["code"] == "syncStateNotFound"
    # A full resync from scratch finds the message again (the client must not duplicate it).
    messages, _, link = drain(servers, mailbox)
    assert [m["subject"] for m in messages] == ["A"]
    servers.control("graph", "POST", "/syncstates/expire", {"mailbox": mailbox})
    assert delta(servers, mailbox, link).status == 410


def test_throttling_and_unavailable(servers, mailbox):
    servers.fault("graph", mailbox=mailbox, kind="throttle", count=2, retryAfter=7)
    for _ in range(2):
        reply = servers.graph("GET", f"/users/{mailbox}/mailFolders/inbox")
        assert reply.status == 429 and reply.headers["Retry-After"] == "7"
        assert reply.json()["error"]["code"] == "TooManyRequests"
    assert servers.graph("GET", f"/users/{mailbox}/mailFolders/inbox").status == 200
    servers.fault("graph", mailbox=mailbox, kind="unavailable", retryAfter=3)
    reply = servers.graph("GET", f"/users/{mailbox}/mailFolders/inbox")
    assert reply.status == 503 and reply.headers["Retry-After"] == "3"


def test_tokens(servers, mailbox):
    bad = servers.graph("GET", f"/users/{mailbox}/mailFolders/inbox", token="nonsense")
    assert bad.status == 401 and bad.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert "Bearer" in bad.headers["WWW-Authenticate"]
    issued = servers.control("graph", "POST", "/tokens", {"expiresIn": 60, "user": mailbox})["token"]
    assert servers.graph("GET", "/me/mailFolders/inbox", token=issued).status == 200
    assert servers.graph("GET", f"/users/other-{mailbox}/mailFolders/inbox", token=issued).status == 403
    servers.control("graph", "POST", "/tokens/expire", {"token": issued})
    assert servers.graph("GET", "/me/mailFolders/inbox", token=issued).status == 401
    assert servers.graph("GET", "/me/mailFolders/inbox").status == 400  # /me needs a delegated token
    servers.fault("graph", mailbox=mailbox, kind="unauthorized")
    assert servers.graph("GET", f"/users/{mailbox}/mailFolders/inbox").status == 401
    assert servers.graph("GET", f"/users/{mailbox}/mailFolders/inbox").status == 200


def test_item_vanishes_between_delta_and_fetch(servers, mailbox):
    added = servers.add_message(mailbox, subject="Vanishing")
    messages, _, link = drain(servers, mailbox)
    servers.fault("graph", mailbox=mailbox, kind="vanish")
    reply = servers.graph("GET", f"/users/{mailbox}/messages/{messages[0]['id']}/$value")
    assert reply.status == 404 and reply.json()["error"]["code"] == "ErrorItemNotFound"
    _, removed, _ = drain(servers, mailbox, link)
    assert removed == [added["graphId"]]


def test_truncated_mime_download(servers, mailbox):
    added = servers.add_message(mailbox, subject="Cut", body="y" * 10000)
    servers.fault("graph", mailbox=mailbox, kind="truncate")
    with pytest.raises(http.client.IncompleteRead):
        servers.graph("GET", f"/users/{mailbox}/messages/{added['graphId']}/$value")
    whole = servers.graph("GET", f"/users/{mailbox}/messages/{added['graphId']}/$value")
    assert whole.status == 200 and whole.body.endswith(b"y" * 100 + b"\r\n")


def test_malformed_slow_and_status(servers, mailbox):
    servers.fault("graph", mailbox=mailbox, kind="malformed", match="delta")
    reply = delta(servers, mailbox)
    assert reply.status == 200
    with pytest.raises(ValueError):
        reply.json()
    servers.fault("graph", mailbox=mailbox, kind="slow", delay=1.0)
    started = time.monotonic()
    assert delta(servers, mailbox).status == 200
    assert time.monotonic() - started >= 1.0
    servers.fault("graph", mailbox=mailbox, kind="status", status=500, code="UnknownError")
    assert delta(servers, mailbox).json()["error"]["code"] == "UnknownError"
    servers.fault("graph", mailbox=mailbox, kind="disconnect")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        delta(servers, mailbox)
    assert delta(servers, mailbox).status == 200


def test_fifty_megabyte_message(servers, mailbox):
    added = servers.control("graph", "POST", f"/mailboxes/{mailbox}/messages/large", {"bytes": 50 * 1024 * 1024})
    reply = servers.graph("GET", f"/users/{mailbox}/messages/{added['graphId']}/$value")
    assert reply.status == 200 and len(reply.body) == added["size"] >= 50 * 1024 * 1024


def test_batch_and_bad_mime(servers, mailbox):
    a = servers.add_message(mailbox, subject="Batched")
    requests = [{"id": "1", "method": "GET", "url": f"/users/{mailbox}/messages/{a['graphId']}/$value"},
                {"id": "2", "method": "GET", "url": f"/users/{mailbox}/messages/AAAAnope"},
                {"id": "3", "method": "DELETE", "url": f"/users/{mailbox}/messages/{a['graphId']}"}]
    reply = servers.graph("POST", "/$batch", {"requests": requests})
    answers = {r["id"]: r for r in reply.json()["responses"]}
    assert base64.b64decode(answers["1"]["body"]).startswith(b"From: ")
    assert answers["2"]["status"] in (400, 404)
    assert answers["3"]["status"] == 204
    assert [m["subject"] for m in servers.messages(mailbox, "deleteditems")] == ["Batched"]
    too_many = servers.graph("POST", "/$batch", {"requests": [requests[1] | {"id": str(n)} for n in range(21)]})
    assert too_many.status == 400
    bad = servers.graph("POST", f"/users/{mailbox}/sendMail", b"not base64 !!", {"Content-Type": "text/plain"})
    assert bad.status == 400 and bad.json()["error"]["code"] == "ErrorMimeContentInvalidBase64String"


class Receiver(http.server.BaseHTTPRequestHandler):
    """A notification endpoint: answers the validation handshake, keeps what it is sent."""
    received: list = []

    def do_POST(self):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "validationToken" in query:
            token = query["validationToken"][0].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(token)))
            self.end_headers()
            self.wfile.write(token)
            return
        self.received.append(json.loads(body))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def next_notification(timeout=30):
    """The oldest notification the receiver kept, waiting for one: the whole suite shares two
    cores with these servers, so a delivery can take seconds."""
    deadline = time.monotonic() + timeout
    while not Receiver.received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Receiver.received, f"no notification reached the receiver within {timeout} s"
    return Receiver.received.pop(0)


def test_subscriptions(servers, mailbox):
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    try:
        expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        request = {"changeType": "created", "notificationUrl": url, "lifecycleNotificationUrl": url,
                   "resource": f"users/{mailbox}/mailFolders('inbox')/messages", "expirationDateTime": expiry,
                   "clientState": "secret-state"}
        created = servers.graph("POST", "/subscriptions", request)
        assert created.status == 201, created.body
        sid = created.json()["id"]
        servers.add_message(mailbox, subject="Push")
        note = next_notification()["value"][0]
        assert note["clientState"] == "secret-state" and note["changeType"] == "created" and note["subscriptionId"] == sid
        later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 7200))
        renewed = servers.graph("PATCH", f"/subscriptions/{sid}", {"expirationDateTime": later})
        assert renewed.status == 200 and renewed.json()["expirationDateTime"] == later
        too_far = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 8 * 86400))
        assert servers.graph("PATCH", f"/subscriptions/{sid}", {"expirationDateTime": too_far}).status == 400
        servers.control("graph", "POST", f"/subscriptions/{sid}/lifecycle", {"event": "reauthorizationRequired"})
        assert next_notification()["value"][0]["lifecycleEvent"] == "reauthorizationRequired"
        assert servers.graph("DELETE", f"/subscriptions/{sid}").status == 204
        unreachable = dict(request, notificationUrl="http://127.0.0.1:9/nothing", lifecycleNotificationUrl=None)
        assert servers.graph("POST", "/subscriptions", unreachable).status == 400
    finally:
        receiver.shutdown()


class Introspection(http.server.BaseHTTPRequestHandler):
    """An RFC 7662 endpoint: tokens starting "good-" are active for the user after the dash."""
    calls: list = []

    def do_POST(self):
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        token = form["token"][0]
        self.calls.append((token, self.headers.get("Authorization")))
        answer = {"active": True, "username": token[5:]} if token.startswith("good-") else {"active": False}
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_tokens_validated_by_introspection(servers, mailbox):
    endpoint = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Introspection)
    threading.Thread(target=endpoint.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{endpoint.server_address[1]}/introspect"
    previous = servers.control("graph", "POST", "/introspection", {"url": url, "clientId": "graph", "clientSecret": "s"})["previous"]
    try:
        assert servers.graph("GET", "/me/mailFolders/inbox", token=f"good-{mailbox}").status == 200
        assert servers.graph("GET", "/me/mailFolders/inbox", token="revoked-1").status == 401
        assert Introspection.calls[0][0] == f"good-{mailbox}"
        assert Introspection.calls[0][1] == "Basic " + base64.b64encode(b"graph:s").decode()
        # The static token never goes out for introspection.
        assert servers.graph("GET", f"/users/{mailbox}/mailFolders/inbox").status == 200
        assert len(Introspection.calls) == 2
    finally:
        servers.control("graph", "POST", "/introspection", previous)
        endpoint.shutdown()


def test_batch_answers_by_id_with_per_request_throttling(servers, mailbox):
    """Inside a batch each request has its own status and headers: a throttled one carries its
    Retry-After, the others succeed; answers are matched by id, not by position."""
    added = [servers.add_message(mailbox, subject=f"Inside {n}") for n in range(8)]
    servers.fault("graph", kind="throttle", match="mime", mailbox=mailbox, retryAfter=3)
    requests = [{"id": f"r{n}", "method": "GET", "url": f"/users/{mailbox}/messages/{a['graphId']}/$value"}
                for n, a in enumerate(added)]
    reply = servers.graph("POST", "/$batch", {"requests": requests})
    assert reply.status == 200
    answers = {r["id"]: r for r in reply.json()["responses"]}
    assert sorted(answers) == sorted(r["id"] for r in requests)
    throttled = [r for r in answers.values() if r["status"] == 429]
    assert len(throttled) == 1 and throttled[0]["headers"]["Retry-After"] == "3"
    assert throttled[0]["body"]["error"]["code"] == "TooManyRequests"
    for n, a in enumerate(added):
        r = answers[f"r{n}"]
        if r["status"] == 200:
            assert base64.b64decode(r["body"]) == servers.control("graph", "GET", f"/messages/{a['graphId']}/mime")
    duplicate = servers.graph("POST", "/$batch", {"requests": [requests[0], requests[0]]})
    assert duplicate.status == 400
