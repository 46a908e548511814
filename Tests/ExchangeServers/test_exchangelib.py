"""exchangelib, unchanged, against the local EWS server: folders, listing, reading MIME, sending
with a saved copy, deleting, syncing a folder twice, streaming notifications and back-off."""
import datetime
import os
import time

import pytest
from exchangelib import (BASIC, DELEGATE, IMPERSONATION, OAUTH2, Account, Configuration, Credentials, EWSDateTime,
                         FailFast, FaultTolerance, Mailbox, Message, OAuth2AuthorizationCodeCredentials)
from exchangelib.errors import ErrorServerBusy
from oauthlib.oauth2 import OAuth2Token


@pytest.fixture
def account(servers, mailbox):
    return connect(servers, mailbox)


def connect(servers, address, retry=None):
    # requests (under exchangelib) trusts the test CA through its usual environment variable.
    os.environ["REQUESTS_CA_BUNDLE"] = servers.ca
    config = Configuration(service_endpoint=servers.ews_url, credentials=Credentials(address, servers.password),
                           auth_type=BASIC, retry_policy=retry or FailFast())
    return Account(address, config=config, autodiscover=False, access_type=DELEGATE)


def test_version_and_folders(servers, account, mailbox):
    servers.control("ews", "POST", f"/mailboxes/{mailbox}/folders", {"name": "Orders"})
    assert account.version.build.major_version == 15
    assert account.inbox.name == "Inbox"
    assert account.sent.name == "Sent Items"
    assert account.trash.name == "Deleted Items"
    orders = account.msg_folder_root / "Orders"
    assert orders.name == "Orders"
    assert orders.total_count == 0


def test_list_and_read_mime(servers, account, mailbox):
    for n in range(3):
        servers.add_message(mailbox, subject=f"Order {n}", body=f"Body {n}")
    listed = list(account.inbox.all().order_by("datetime_received"))
    assert sorted(m.subject for m in listed) == ["Order 0", "Order 1", "Order 2"]
    recent = account.inbox.filter(datetime_received__gt=EWSDateTime.from_datetime(
        datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)))
    assert recent.count() == 3
    assert [m.subject for m in account.inbox.filter(subject__contains="order 1")] == ["Order 1"]
    for message in account.inbox.all().only("mime_content", "subject"):
        raw = servers.control("ews", "GET", f"/messages/{message.id}/mime")
        assert message.mime_content == raw
        assert f"Subject: {message.subject}".encode() in raw


def test_send_and_save_copy(servers, account, mailbox):
    colleague = f"colleague-{mailbox}"
    Message(account=account, folder=account.sent, subject="Your order", body="It ships today.",
            to_recipients=[Mailbox(email_address=colleague), "customer@elsewhere.test"]).send_and_save()
    assert [m["subject"] for m in servers.messages(mailbox, "sentitems")] == ["Your order"]
    assert [m["subject"] for m in servers.messages(colleague)] == ["Your order"]
    outbound = servers.control("ews", "GET", "/outbound")["messages"]
    assert any(o["recipients"] == ["customer@elsewhere.test"] and o["from"] == mailbox for o in outbound)


def test_send_mime_and_send_only(servers, account, mailbox):
    colleague = f"colleague-{mailbox}"
    mime = (f"From: {mailbox}\r\nTo: {colleague}\r\nBcc: hidden-{mailbox}\r\nSubject: Built by Mailroom\r\n"
            "Message-ID: <built-1@mailroom.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nBody\r\n").encode()
    Message(account=account, folder=account.sent, mime_content=mime).send_and_save()
    delivered = servers.messages(colleague)
    assert [m["messageId"] for m in delivered] == ["<built-1@mailroom.test>"]
    assert b"Bcc:" not in servers.control("ews", "GET", f"/messages/{delivered[0]['ewsId']}/mime")
    assert len(servers.messages(f"hidden-{mailbox}")) == 1
    copy = servers.messages(mailbox, "sentitems")[0]
    assert servers.control("ews", "GET", f"/messages/{copy['ewsId']}/mime") == mime
    Message(account=account, subject="No copy", body="x", to_recipients=[colleague]).send(save_copy=False)
    assert len(servers.messages(mailbox, "sentitems")) == 1
    assert len(servers.messages(colleague)) == 2


def test_delete_and_move_to_trash(servers, account, mailbox):
    servers.add_message(mailbox, subject="Gone")
    servers.add_message(mailbox, subject="Trashed")
    for message in account.inbox.all():
        if message.subject == "Gone":
            message.delete()
        else:
            message.move_to_trash()
    assert servers.messages(mailbox) == []
    assert [m["subject"] for m in servers.messages(mailbox, "deleteditems")] == ["Trashed"]


def test_sync_folder_items_twice(servers, account, mailbox):
    first = [servers.add_message(mailbox, subject=f"Sync {n}") for n in range(5)]
    changes = list(account.inbox.sync_items(max_changes_returned=2))
    assert [c for c, _ in changes] == ["create"] * 5
    assert sorted(i.subject for _, i in changes) == [f"Sync {n}" for n in range(5)]
    state = account.inbox.item_sync_state
    assert state

    servers.add_message(mailbox, subject="Sync new")
    servers.control("ews", "POST", f"/messages/{first[0]['ewsId']}/update", {"isRead": True})
    servers.control("ews", "DELETE", f"/messages/{first[1]['ewsId']}")
    changes = list(account.inbox.sync_items(sync_state=state, max_changes_returned=2))
    kinds = {c: i for c, i in changes}
    assert sorted(c for c, _ in changes) == ["create", "delete", "update"]
    assert kinds["create"].subject == "Sync new"
    assert kinds["update"].id == first[0]["ewsId"]
    assert kinds["delete"].id == first[1]["ewsId"]
    assert list(account.inbox.sync_items()) == []  # nothing since the last state


def test_streaming_notifications(servers, account, mailbox):
    servers.control("ews", "POST", "/settings", {"mailbox": mailbox, "streamMaxSeconds": 10, "streamHeartbeatSeconds": 1})
    subscription = account.inbox.subscribe_to_streaming()
    started = time.monotonic()
    servers.add_message(mailbox, subject="Push")
    events = []
    for notification in account.inbox.get_streaming_events(subscription, connection_timeout=1):
        events += [type(e).__name__ for e in notification.events]
        if "NewMailEvent" in events:
            break
    assert "NewMailEvent" in events and "CreatedEvent" in events
    assert time.monotonic() - started < 5
    account.inbox.unsubscribe(subscription)


def test_server_busy_back_off(servers, mailbox):
    servers.add_message(mailbox, subject="Busy")
    patient = connect(servers, mailbox, FaultTolerance(max_wait=30))
    patient.inbox.refresh()
    servers.fault("ews", mailbox=mailbox, kind="throttle", match="FindItem", backOffMs=300)
    started = time.monotonic()
    assert [m.subject for m in patient.inbox.all()] == ["Busy"]
    assert time.monotonic() - started >= 0.3
    # exchangelib shares one protocol (and retry policy) per endpoint and credentials: another user.
    impatient = connect(servers, f"impatient-{mailbox}")
    impatient.inbox.refresh()
    servers.fault("ews", mailbox=f"impatient-{mailbox}", kind="throttle", match="FindItem", backOffMs=2500)
    with pytest.raises(ErrorServerBusy) as raised:
        list(impatient.inbox.all())
    assert raised.value.back_off == 2.5


def test_oauth_bearer_with_impersonation(servers, mailbox):
    """The static token is an application token: exchangelib names the mailbox by impersonation."""
    os.environ["REQUESTS_CA_BUNDLE"] = servers.ca
    servers.add_message(mailbox, subject="Via OAuth")
    token = OAuth2Token({"access_token": servers.token, "token_type": "Bearer", "expires_in": 3600,
                         "expires_at": time.time() + 3600})
    config = Configuration(service_endpoint=servers.ews_url, auth_type=OAUTH2, retry_policy=FailFast(),
                           credentials=OAuth2AuthorizationCodeCredentials(access_token=token))
    account = Account(mailbox, config=config, autodiscover=False, access_type=IMPERSONATION)
    assert [m.subject for m in account.inbox.all()] == ["Via OAuth"]
