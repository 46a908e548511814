"""The EWS server's failure modes and state, with plain SOAP over HTTP."""
import base64
import http.client

import pytest

from support import find, findall

SYNC = ('<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>'
        '<m:SyncFolderId><t:DistinguishedFolderId Id="inbox"/></m:SyncFolderId>{state}'
        '<m:MaxChangesReturned>{max}</m:MaxChangesReturned></m:SyncFolderItems>')


def sync(servers, mailbox, state=None, max_changes=512):
    xml = SYNC.format(state=f"<m:SyncState>{state}</m:SyncState>" if state else "", max=max_changes)
    reply = servers.ews(xml, user=mailbox)
    assert reply.status == 200, reply.body
    message = find(reply.xml(), "s:Body/m:SyncFolderItemsResponse/m:ResponseMessages/m:SyncFolderItemsResponseMessage")
    return message


def get_item(servers, mailbox, ews_id, mime=True):
    xml = (f'<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:IncludeMimeContent>{str(mime).lower()}'
           f'</t:IncludeMimeContent></m:ItemShape><m:ItemIds><t:ItemId Id="{ews_id}"/></m:ItemIds></m:GetItem>')
    return servers.ews(xml, user=mailbox)


def test_sync_state_expiry_is_invalid_sync_state_data(servers, mailbox):
    servers.add_message(mailbox, subject="S")
    first = sync(servers, mailbox)
    assert first.get("ResponseClass") == "Success"
    state = find(first, "m:SyncState").text
    assert len(findall(first, "m:Changes/t:Create")) == 1
    assert findall(sync(servers, mailbox, state), "m:Changes/*") == []
    servers.control("ews", "POST", "/syncstates/expire", {"protocol": "ews", "mailbox": mailbox})
    expired = sync(servers, mailbox, state)
    assert expired.get("ResponseClass") == "Error"
    assert find(expired, "m:ResponseCode").text == "ErrorInvalidSyncStateData"
    assert sync(servers, mailbox, "garbage").get("ResponseClass") == "Error"


def test_server_busy_is_a_soap_fault_with_back_off(servers, mailbox):
    servers.fault("ews", mailbox=mailbox, kind="throttle", match="SyncFolderItems", backOffMs=1234)
    reply = servers.ews(SYNC.format(state="", max=10), user=mailbox)
    assert reply.status == 500
    fault = find(reply.xml(), "s:Body/s:Fault")
    detail = fault.find("detail")
    assert detail.find("{http://schemas.microsoft.com/exchange/services/2006/errors}ResponseCode").text == "ErrorServerBusy"
    assert find(detail, "t:MessageXml/t:Value").text == "1234"
    assert sync(servers, mailbox).get("ResponseClass") == "Success"


def test_response_code_soap_fault_and_malformed(servers, mailbox):
    servers.fault("ews", mailbox=mailbox, kind="responseCode", match="SyncFolderItems", code="ErrorMailboxStoreUnavailable")
    assert find(sync(servers, mailbox), "m:ResponseCode").text == "ErrorMailboxStoreUnavailable"
    servers.fault("ews", mailbox=mailbox, kind="soapFault", code="ErrorInternalServerError")
    reply = servers.ews(SYNC.format(state="", max=10), user=mailbox)
    assert reply.status == 500 and b"ErrorInternalServerError" in reply.body
    servers.fault("ews", mailbox=mailbox, kind="malformed")
    reply = servers.ews(SYNC.format(state="", max=10), user=mailbox)
    with pytest.raises(Exception):
        reply.xml()
    servers.fault("ews", mailbox=mailbox, kind="unavailable", retryAfter=4)
    reply = servers.ews(SYNC.format(state="", max=10), user=mailbox)
    assert reply.status == 503 and reply.headers["Retry-After"] == "4"


def test_vanished_item_and_truncated_mime(servers, mailbox):
    gone = servers.add_message(mailbox, subject="Gone")
    kept = servers.add_message(mailbox, subject="Kept", body="z" * 5000)
    servers.fault("ews", mailbox=mailbox, kind="vanish")
    reply = get_item(servers, mailbox, gone["ewsId"])
    message = find(reply.xml(), "s:Body/m:GetItemResponse/m:ResponseMessages/m:GetItemResponseMessage")
    assert message.get("ResponseClass") == "Error"
    assert find(message, "m:ResponseCode").text == "ErrorItemNotFound"
    assert servers.messages(mailbox) and [m["subject"] for m in servers.messages(mailbox)] == ["Kept"]
    servers.fault("ews", mailbox=mailbox, kind="truncate")
    with pytest.raises(http.client.IncompleteRead):
        get_item(servers, mailbox, kept["ewsId"])
    whole = get_item(servers, mailbox, kept["ewsId"])
    mime = find(whole.xml(), ".//t:MimeContent").text
    assert base64.b64decode(mime) == servers.control("ews", "GET", f"/messages/{kept['ewsId']}/mime")


def test_authentication(servers, mailbox):
    assert servers.ews(SYNC.format(state="", max=1), user=mailbox, password="wrong").status == 401
    assert servers.ews(SYNC.format(state="", max=1)).status == 401
    shared = f"shared-{mailbox}"
    servers.control("ews", "POST", "/mailboxes", {"address": shared, "shared": True})
    assert servers.ews(SYNC.format(state="", max=1), user=shared).status == 401
    # A user opens a shared mailbox by naming it in the folder id.
    servers.add_message(shared, subject="For the team")
    xml = SYNC.format(state="", max=10).replace('<t:DistinguishedFolderId Id="inbox"/>',
                                                f'<t:DistinguishedFolderId Id="inbox"><t:Mailbox><t:EmailAddress>{shared}'
                                                '</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId>')
    reply = servers.ews(xml, user=mailbox)
    assert len(findall(reply.xml(), ".//m:Changes/t:Create")) == 1
    # An application token has no mailbox of its own: it must name one.
    reply = servers.ews(SYNC.format(state="", max=1), bearer=servers.token)
    assert reply.status == 500 and b"ErrorMissingEmailAddress" in reply.body
    header = (f"<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>{mailbox}</t:PrimarySmtpAddress>"
              "</t:ConnectingSID></t:ExchangeImpersonation>")
    reply = servers.ews(SYNC.format(state="", max=1), bearer=servers.token, header=header)
    assert reply.status == 200 and b'ResponseClass="Success"' in reply.body


def test_create_item_dispositions(servers, mailbox):
    colleague = f"colleague-{mailbox}"
    mime = base64.b64encode(f"From: {mailbox}\r\nTo: {colleague}\r\nSubject: Hello\r\n\r\nHi\r\n".encode()).decode()
    for disposition, folder in (("SendAndSaveCopy", "sentitems"), ("SendOnly", None), ("SaveOnly", "drafts")):
        saved = f'<m:SavedItemFolderId><t:DistinguishedFolderId Id="{folder}"/></m:SavedItemFolderId>' if folder else ""
        xml = (f'<m:CreateItem MessageDisposition="{disposition}">{saved}<m:Items><t:Message>'
               f'<t:MimeContent CharacterSet="UTF-8">{mime}</t:MimeContent></t:Message></m:Items></m:CreateItem>')
        reply = servers.ews(xml, user=mailbox)
        assert b'ResponseClass="Success"' in reply.body, reply.body
    assert len(servers.messages(colleague)) == 2
    assert len(servers.messages(mailbox, "sentitems")) == 1
    assert len(servers.messages(mailbox, "drafts")) == 1
    bad = servers.ews('<m:CreateItem MessageDisposition="SendOnly"><m:Items><t:Message><t:MimeContent>!!</t:MimeContent>'
                      '</t:Message></m:Items></m:CreateItem>', user=mailbox)
    assert b"ErrorMimeContentInvalidBase64String" in bad.body


def test_streaming_closes_after_the_cap(servers, mailbox):
    servers.control("ews", "POST", "/settings", {"mailbox": mailbox, "streamMaxSeconds": 1.5, "streamHeartbeatSeconds": 0.5})
    reply = servers.ews('<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/>'
                        '</t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes>'
                        '</m:StreamingSubscriptionRequest></m:Subscribe>', user=mailbox)
    sid = find(reply.xml(), ".//m:SubscriptionId").text
    servers.add_message(mailbox, subject="While away")
    stream = servers.ews(f'<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>{sid}</t:SubscriptionId>'
                         '</m:SubscriptionIds><m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>', user=mailbox)
    documents = stream.body.split(b"<?xml")[1:]
    assert len(documents) >= 3  # the event, keep-alives, the close
    assert b"NewMailEvent" in documents[0] and b"<m:ConnectionStatus>OK</m:ConnectionStatus>" in documents[0]
    assert b"<m:ConnectionStatus>Closed</m:ConnectionStatus>" in documents[-1]


AUTODISCOVER = ('<?xml version="1.0" encoding="utf-8"?><Autodiscover '
                'xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request>'
                '<EMailAddress>{address}</EMailAddress><AcceptableResponseSchema>'
                'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/{schema}'
                '</AcceptableResponseSchema></Request></Autodiscover>')
OUTLOOK = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"
AD = "{http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006}"


def autodiscover(servers, mailbox, address, schema="2006a", password=None):
    import xml.etree.ElementTree as ET
    pair = f"{mailbox}:{servers.password if password is None else password}".encode()
    url = servers.ews_url.replace("/EWS/Exchange.asmx", "/autodiscover/autodiscover.xml")
    reply = servers.request("POST", url, AUTODISCOVER.format(address=address, schema=schema).encode(),
                            {"Content-Type": "text/xml; charset=utf-8", "Authorization": "Basic " + base64.b64encode(pair).decode()})
    return reply, (ET.fromstring(reply.body) if reply.status == 200 else None)


def test_pox_autodiscover(servers, mailbox):
    reply, root = autodiscover(servers, mailbox, mailbox)
    assert reply.status == 200
    account = root.find(f"{OUTLOOK}Response/{OUTLOOK}Account")
    assert account.find(f"{OUTLOOK}Action").text == "settings"
    urls = {p.find(f"{OUTLOOK}Type").text: p.find(f"{OUTLOOK}EwsUrl").text for p in account.findall(f"{OUTLOOK}Protocol")}
    assert urls["EXCH"] == servers.ews_url and urls["EXPR"] == servers.ews_url
    _, unknown = autodiscover(servers, mailbox, "nobody@elsewhere.test")
    assert unknown.find(f"{AD}Response/{AD}Error/{AD}ErrorCode").text == "500"
    _, wrong_schema = autodiscover(servers, mailbox, mailbox, schema="2099z")
    assert wrong_schema.find(f"{AD}Response/{AD}Error/{AD}ErrorCode").text == "601"
    servers.control("ews", "POST", "/autodiscover", {"address": "alias@elsewhere.test", "redirectAddr": mailbox})
    _, redirected = autodiscover(servers, mailbox, "alias@elsewhere.test")
    assert redirected.find(f"{OUTLOOK}Response/{OUTLOOK}Account/{OUTLOOK}RedirectAddr").text == mailbox
    refused, _ = autodiscover(servers, mailbox, mailbox, password="wrong")
    assert refused.status == 401
