"""The reference clients of the Exchange benchmark, reading and sending through the same local
servers as Mailroom in the same run: exchangelib (EWS) and the Microsoft Graph SDK for Python.

  reference.py ews-read MAILBOX       every message's MIME: SyncFolderItems pages, GetItem in batches
  reference.py graph-read MAILBOX     delta pages, then each message's $value (four at a time)
  reference.py graph-read-batched MAILBOX   delta pages, then $value in $batch requests of 20
  reference.py ews-send MAILBOX N     N messages with CreateItem (MIME, SendAndSaveCopy)
  reference.py graph-send MAILBOX N   N messages with sendMail (MIME, base64 text/plain)

Prints one line: `<what> <count> messages <seconds> s <per second> msg/s`. Reads the servers' variables
(MAILROOM_TEST_*) from the environment, as scripts/services/exchange prints them.
"""
import asyncio
import base64
import os
import ssl
import sys
import time

ENV = os.environ


def mime(n: int, sender: str) -> bytes:
    return (f"From: Desk <{sender}>\r\nTo: customer-{n}@outside.test\r\nSubject: Reply {n}\r\n"
            f"Message-ID: <bench-{n}-{time.time_ns()}@bench.test>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\nHere is the answer {n}.\r\n").encode()


def ews_account(mailbox: str):
    from exchangelib import BASIC, DELEGATE, Account, Configuration, Credentials, FailFast
    # requests (under exchangelib) trusts the test CA through its usual environment variable.
    os.environ["REQUESTS_CA_BUNDLE"] = ENV["MAILROOM_TEST_EXCHANGE_CA"]
    config = Configuration(service_endpoint=ENV["MAILROOM_TEST_EWS_URL"],
                           credentials=Credentials(mailbox, ENV["MAILROOM_TEST_EXCHANGE_PASSWORD"]),
                           auth_type=BASIC, retry_policy=FailFast())
    return Account(mailbox, config=config, autodiscover=False, access_type=DELEGATE)


def ews_read(mailbox: str) -> int:
    account = ews_account(mailbox)
    ids = [item for change, item in account.inbox.sync_items(only_fields=["id", "changekey"], max_changes_returned=512)
           if change == "create"]
    count = 0
    for start in range(0, len(ids), 25):
        for item in account.fetch(ids=ids[start:start + 25], only_fields=["mime_content"]):
            count += 1 if getattr(item, "mime_content", None) else 0
    return count


def ews_send(mailbox: str, n: int) -> int:
    from exchangelib import Message
    account = ews_account(mailbox)
    for i in range(n):
        Message(account=account, folder=account.sent, mime_content=mime(i, mailbox)).send_and_save()
    return n


def graph_adapter():
    import httpx
    from kiota_abstractions.authentication import AccessTokenProvider, AllowedHostsValidator, BaseBearerTokenAuthenticationProvider
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph_core import GraphClientFactory

    class StaticToken(AccessTokenProvider):
        def __init__(self):
            self.hosts = AllowedHostsValidator(["127.0.0.1"])

        async def get_authorization_token(self, uri, additional_authentication_context=None) -> str:
            return ENV["MAILROOM_TEST_EXCHANGE_TOKEN"]

        def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
            return self.hosts

    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(verify=ssl.create_default_context(cafile=ENV["MAILROOM_TEST_EXCHANGE_CA"]), timeout=60))
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(StaticToken()), client=http)
    adapter.base_url = ENV["MAILROOM_TEST_GRAPH_URL"]
    return GraphServiceClient(request_adapter=adapter), adapter


async def inbox_ids(client, mailbox: str) -> list:
    """Every message id in the inbox, through the delta listing's pages of 200."""
    from msgraph.generated.users.item.mail_folders.item.messages.delta.delta_request_builder import DeltaRequestBuilder
    delta = client.users.by_user_id(mailbox).mail_folders.by_mail_folder_id("inbox").messages.delta
    config = DeltaRequestBuilder.DeltaRequestBuilderGetRequestConfiguration(
        query_parameters=DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(select=["receivedDateTime"]))
    config.headers.add("Prefer", "odata.maxpagesize=200")
    page = await delta.get(request_configuration=config)
    ids = []
    while True:
        ids += [m.id for m in page.value or []]
        if not page.odata_next_link:
            break
        page = await delta.with_url(page.odata_next_link).get(request_configuration=config)
    return ids


async def graph_read(mailbox: str) -> int:
    client, _ = graph_adapter()
    ids = await inbox_ids(client, mailbox)
    # Four downloads at once, as Mailroom does (Graph's per-mailbox concurrency limit).
    semaphore = asyncio.Semaphore(4)

    async def one(message_id):
        async with semaphore:
            data = await client.users.by_user_id(mailbox).messages.by_message_id(message_id).content.get()
            return 1 if data else 0
    return sum(await asyncio.gather(*(one(i) for i in ids)))


async def graph_read_batched(mailbox: str) -> int:
    """The same listing, then $value in $batch requests of 20 through the SDK, one batch at a time."""
    from msgraph_core.requests.batch_request_content import BatchRequestContent
    from msgraph_core.requests.batch_request_item import BatchRequestItem
    client, _ = graph_adapter()
    ids = await inbox_ids(client, mailbox)
    count = 0
    for start in range(0, len(ids), 20):
        content = BatchRequestContent()
        keys = []
        for message_id in ids[start:start + 20]:
            info = client.users.by_user_id(mailbox).messages.by_message_id(message_id).content.to_get_request_information()
            item = BatchRequestItem(request_information=info)
            content.add_request(item.id, item)
            keys.append(item.id)
        answer = await client.batch.post(batch_request_content=content)
        count += sum(1 for key in keys if answer.get_response_stream_by_id(key).read())
    return count


async def graph_send(mailbox: str, n: int) -> int:
    # MIME through the SDK's request adapter (its send_mail takes only JSON messages), four at once.
    from kiota_abstractions.headers_collection import HeadersCollection
    from kiota_abstractions.method import Method
    from kiota_abstractions.request_information import RequestInformation
    _, adapter = graph_adapter()
    semaphore = asyncio.Semaphore(4)

    async def one(i):
        async with semaphore:
            request = RequestInformation(Method.POST, "{+baseurl}/users/{user%2Did}/sendMail", {"user%2Did": mailbox})
            request.headers = HeadersCollection()
            request.headers.add("Content-Type", "text/plain")
            request.content = base64.b64encode(mime(i, mailbox))
            await adapter.send_no_response_content_async(request, None)
    await asyncio.gather(*(one(i) for i in range(n)))
    return n


def main():
    what, mailbox = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    start = time.monotonic()
    if what == "ews-read":
        count = ews_read(mailbox)
    elif what == "ews-send":
        count = ews_send(mailbox, n)
    elif what == "graph-read":
        count = asyncio.run(graph_read(mailbox))
    elif what == "graph-read-batched":
        count = asyncio.run(graph_read_batched(mailbox))
    elif what == "graph-send":
        count = asyncio.run(graph_send(mailbox, n))
    else:
        raise SystemExit(f"unknown: {what}")
    seconds = time.monotonic() - start
    print(f"{what} {count} messages {seconds:.2f} s {count / seconds:.1f} msg/s")


if __name__ == "__main__":
    main()
