"""The Microsoft Graph SDK for Python, unchanged, against the local Graph server: a delta page,
its next link and delta link, a message's MIME ($value), sendMail (JSON through the SDK, base64
MIME through the SDK's request adapter), and the SDK's retry on 429 with Retry-After."""
import asyncio
import base64
import datetime
import ssl

import httpx
from kiota_abstractions.authentication import AccessTokenProvider, AllowedHostsValidator, BaseBearerTokenAuthenticationProvider
from kiota_abstractions.headers_collection import HeadersCollection
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.message import Message
from msgraph.generated.models.recipient import Recipient
from msgraph.generated.models.subscription import Subscription
from msgraph.generated.users.item.mail_folders.item.messages.delta.delta_request_builder import DeltaRequestBuilder
from msgraph.generated.users.item.send_mail.send_mail_post_request_body import SendMailPostRequestBody
from msgraph_core import GraphClientFactory
from msgraph_core.requests.batch_request_content import BatchRequestContent
from msgraph_core.requests.batch_request_item import BatchRequestItem
from urllib.parse import unquote


class StaticToken(AccessTokenProvider):
    """The configured bearer token, for the local server's host only."""

    def __init__(self, token: str):
        self.token = token
        self.hosts = AllowedHostsValidator(["127.0.0.1"])

    async def get_authorization_token(self, uri, additional_authentication_context=None) -> str:
        return self.token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self.hosts


def client_for(servers) -> tuple[GraphServiceClient, GraphRequestAdapter]:
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(verify=ssl.create_default_context(cafile=servers.ca), timeout=60))
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(StaticToken(servers.token)), client=http)
    adapter.base_url = servers.graph_url
    return GraphServiceClient(request_adapter=adapter), adapter


def run(coro):
    return asyncio.run(coro)


def test_delta_page_next_link_and_delta_link(servers, mailbox):
    added = [servers.add_message(mailbox, subject=f"Delta {n}") for n in range(3)]

    async def scenario():
        client, _ = client_for(servers)
        inbox = client.users.by_user_id(mailbox).mail_folders.by_mail_folder_id("inbox").messages.delta
        config = DeltaRequestBuilder.DeltaRequestBuilderGetRequestConfiguration(
            query_parameters=DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(select=["subject", "receivedDateTime"]))
        config.headers.add("Prefer", "odata.maxpagesize=2")
        first = await inbox.get(request_configuration=config)
        assert len(first.value) == 2 and first.odata_next_link and not first.odata_delta_link
        second = await inbox.with_url(first.odata_next_link).get(request_configuration=config)
        assert len(second.value) == 1 and second.odata_delta_link and not second.odata_next_link
        seen = {m.id for m in first.value + second.value}
        assert seen == {a["graphId"] for a in added}
        assert {m.subject for m in first.value + second.value} == {"Delta 0", "Delta 1", "Delta 2"}

        servers.add_message(mailbox, subject="Delta new")
        servers.control("graph", "DELETE", f"/messages/{added[0]['graphId']}")
        third = await inbox.with_url(second.odata_delta_link).get()
        new = [m for m in third.value if "@removed" not in (m.additional_data or {})]
        removed = [m for m in third.value if "@removed" in (m.additional_data or {})]
        assert [m.subject for m in new] == ["Delta new"]
        assert [m.id for m in removed] == [added[0]["graphId"]]
        assert third.odata_delta_link
    run(scenario())


def test_read_mime_value(servers, mailbox):
    added = servers.add_message(mailbox, subject="MIME please", body="Line one")

    async def scenario():
        client, _ = client_for(servers)
        raw = await client.users.by_user_id(mailbox).messages.by_message_id(added["graphId"]).content.get()
        assert raw == servers.control("graph", "GET", f"/messages/{added['graphId']}/mime")
    run(scenario())


def test_send_mail_json_with_and_without_copy(servers, mailbox):
    colleague = f"colleague-{mailbox}"

    async def scenario():
        client, _ = client_for(servers)
        for save in (True, False):
            body = SendMailPostRequestBody(
                message=Message(subject=f"Saved {save}", body=ItemBody(content_type=BodyType.Text, content="Hello"),
                                to_recipients=[Recipient(email_address=EmailAddress(address=colleague))]),
                save_to_sent_items=save)
            await client.users.by_user_id(mailbox).send_mail.post(body)
    run(scenario())
    assert sorted(m["subject"] for m in servers.messages(colleague)) == ["Saved False", "Saved True"]
    assert [m["subject"] for m in servers.messages(mailbox, "sentitems")] == ["Saved True"]


def test_send_mail_mime_through_the_request_adapter(servers, mailbox):
    colleague = f"colleague-{mailbox}"
    mime = (f"From: {mailbox}\r\nTo: {colleague}\r\nSubject: MIME reply\r\nMessage-ID: <mime-1@mailroom.test>\r\n"
            "In-Reply-To: <question@customer.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nAnswer\r\n").encode()

    async def scenario():
        _, adapter = client_for(servers)
        request = RequestInformation(Method.POST, "{+baseurl}/users/{user%2Did}/sendMail", {"user%2Did": mailbox})
        request.headers = HeadersCollection()
        request.headers.add("Content-Type", "text/plain")
        request.content = base64.b64encode(mime)
        await adapter.send_no_response_content_async(request, None)
    run(scenario())
    delivered = servers.messages(colleague)
    assert [m["messageId"] for m in delivered] == ["<mime-1@mailroom.test>"]
    assert servers.control("graph", "GET", f"/messages/{delivered[0]['graphId']}/mime") == mime
    assert [m["subject"] for m in servers.messages(mailbox, "sentitems")] == ["MIME reply"]


def test_sdk_retries_after_429(servers, mailbox):
    servers.add_message(mailbox, subject="Throttled")
    before = servers.control("graph", "GET", "/requests")["last"]
    servers.fault("graph", mailbox=mailbox, kind="throttle", match="delta", retryAfter=1)

    async def scenario():
        client, _ = client_for(servers)
        page = await client.users.by_user_id(mailbox).mail_folders.by_mail_folder_id("inbox").messages.delta.get()
        assert [m.subject for m in page.value] == ["Throttled"]
    run(scenario())
    # Only this mailbox's requests: Mailroom's own tests use the same server at the same time.
    statuses = [r["status"] for r in servers.control("graph", "GET", f"/requests?since={before}")["requests"]
                if r["operation"] == "delta" and mailbox.lower() in unquote(r["path"]).lower()]
    assert statuses == [429, 200]


def test_batch_of_mime_downloads_through_the_sdk(servers, mailbox):
    """$value answers inside a batch are base64 strings, which the SDK decodes back to the MIME."""
    added = [servers.add_message(mailbox, subject=f"Batch {n}") for n in range(3)]

    async def scenario():
        client, _ = client_for(servers)
        content = BatchRequestContent()
        items = {}
        for a in added:
            info = client.users.by_user_id(mailbox).messages.by_message_id(a["graphId"]).content.to_get_request_information()
            item = BatchRequestItem(request_information=info)
            content.add_request(item.id, item)
            items[item.id] = a
        answer = await client.batch.post(batch_request_content=content)
        assert answer.get_response_status_codes() == {key: 200 for key in items}
        for key, a in items.items():
            mime = answer.get_response_stream_by_id(key).read()
            assert mime == servers.control("graph", "GET", f"/messages/{a['graphId']}/mime")
    run(scenario())


def test_subscription_through_the_sdk(servers, mailbox):
    import http.server
    import threading
    import time

    from test_graph_failures import Receiver
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/sdk"

    async def scenario():
        client, _ = client_for(servers)
        created = await client.subscriptions.post(Subscription(
            change_type="created", notification_url=url, client_state="sdk-state",
            resource=f"users/{mailbox}/mailFolders('inbox')/messages",
            expiration_date_time=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)))
        assert created.id and created.client_state == "sdk-state"
        renewed = await client.subscriptions.by_subscription_id(created.id).patch(Subscription(
            expiration_date_time=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)))
        assert renewed.expiration_date_time > created.expiration_date_time
        return created.id
    try:
        Receiver.received.clear()
        sid = run(scenario())
        servers.add_message(mailbox, subject="Notify the SDK's subscriber")
        deadline = time.monotonic() + 30  # generous: the whole suite shares two cores
        while not Receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert Receiver.received[0]["value"][0]["subscriptionId"] == sid
    finally:
        receiver.shutdown()


def test_batch_with_a_throttled_request_and_batched_deletes_through_the_sdk(servers, mailbox):
    """The SDK reads each answer of a batch by its id: one throttled download carries its own 429
    and Retry-After while the others succeed; DELETEs batched through the SDK move the messages."""
    added = [servers.add_message(mailbox, subject=f"SDK batch {n}") for n in range(5)]
    servers.fault("graph", kind="throttle", match="mime", mailbox=mailbox, retryAfter=2)

    async def scenario():
        client, _ = client_for(servers)
        content = BatchRequestContent()
        keys = []
        for a in added:
            info = client.users.by_user_id(mailbox).messages.by_message_id(a["graphId"]).content.to_get_request_information()
            item = BatchRequestItem(request_information=info)
            content.add_request(item.id, item)
            keys.append(item.id)
        answer = await client.batch.post(batch_request_content=content)
        codes = answer.get_response_status_codes()
        assert sorted(codes.values()) == [200, 200, 200, 200, 429]
        throttled = [k for k in keys if codes[k] == 429][0]
        headers = {k.lower(): v for k, v in (answer.get_response_by_id(throttled).headers or {}).items()}
        assert headers["retry-after"] == "2"

        deletes = BatchRequestContent()
        for a in added:
            info = client.users.by_user_id(mailbox).messages.by_message_id(a["graphId"]).to_delete_request_information()
            item = BatchRequestItem(request_information=info)
            deletes.add_request(item.id, item)
        answer = await client.batch.post(batch_request_content=deletes)
        assert set(answer.get_response_status_codes().values()) == {204}
    run(scenario())
    assert servers.messages(mailbox) == []
    assert len(servers.messages(mailbox, "deleteditems")) == 5
