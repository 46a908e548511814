"""POX Autodiscover (Exchange Server's /autodiscover/autodiscover.xml), the part an EWS client uses:
the request names a mailbox address and the Outlook response schema; the answer is that mailbox's
User and Account with Protocol elements (EXCH, EXPR) carrying EwsUrl, or an Account with
Action redirectAddr / redirectUrl, or an Error (500, "The email address can't be found.").
Redirections are configured through the control API (POST /_control/autodiscover)."""
from __future__ import annotations

import threading
import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
OUTLOOK_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"


class Redirections:
    def __init__(self):
        self.lock = threading.Lock()
        self.items: dict[str, dict] = {}

    def set(self, address: str, target: dict | None):
        with self.lock:
            if target:
                self.items[address.lower()] = target
            else:
                self.items.pop(address.lower(), None)

    def get(self, address: str) -> dict | None:
        with self.lock:
            return self.items.get(address.lower())


def error_response(code: str, message: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="{RESPONSE_NS}"><Response>'
            f'<Error Time="00:00:00.0000000" Id="{uuid.uuid4().int % 10**10}"><ErrorCode>{code}</ErrorCode>'
            f'<Message>{escape(message)}</Message><DebugData /></Error></Response></Autodiscover>').encode()


def answer(handler, body: bytes, principal) -> tuple[int, bytes]:
    """The answer for an authenticated request (status, XML)."""
    try:
        root = ET.fromstring(body)
        request = root.find(f"{{{REQUEST_NS}}}Request")
        address = request.find(f"{{{REQUEST_NS}}}EMailAddress").text.strip()
        schema = request.find(f"{{{REQUEST_NS}}}AcceptableResponseSchema").text.strip()
    except Exception:
        return 200, error_response("600", "Invalid Request")
    if schema != OUTLOOK_NS:
        return 200, error_response("601", "The requested schema version is not supported.")
    redirect = handler.ctx.extra["autodiscover"].get(address)
    head = f'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="{RESPONSE_NS}"><Response xmlns="{OUTLOOK_NS}">'
    tail = "</Response></Autodiscover>"
    if redirect and redirect.get("redirectAddr"):
        return 200, (head + f"<Account><AccountType>email</AccountType><Action>redirectAddr</Action>"
                     f"<RedirectAddr>{escape(redirect['redirectAddr'])}</RedirectAddr></Account>" + tail).encode()
    if redirect and redirect.get("redirectUrl"):
        return 200, (head + f"<Account><AccountType>email</AccountType><Action>redirectUrl</Action>"
                     f"<RedirectUrl>{escape(redirect['redirectUrl'])}</RedirectUrl></Account>" + tail).encode()
    store = handler.ctx.store
    if not store.hosts(address):
        return 200, error_response("500", "The email address can't be found.")
    box = store.mailbox(address)
    ews_url = f"https://{handler.headers.get('Host', '127.0.0.1')}/EWS/Exchange.asmx"
    protocols = "".join(
        f"<Protocol><Type>{kind}</Type><Server>{escape(handler.headers.get('Host', '127.0.0.1'))}</Server>"
        f"<ASUrl>{escape(ews_url)}</ASUrl><EwsUrl>{escape(ews_url)}</EwsUrl><AuthPackage>Basic</AuthPackage></Protocol>"
        for kind in ("EXCH", "EXPR"))
    return 200, (head + f"<User><DisplayName>{escape(box.display_name)}</DisplayName>"
                 f"<AutoDiscoverSMTPAddress>{escape(box.address)}</AutoDiscoverSMTPAddress></User>"
                 f"<Account><AccountType>email</AccountType><Action>settings</Action>{protocols}</Account>" + tail).encode()
