"""EWS XML: namespaces, the envelope, item and folder elements, response messages, SOAP faults,
and the FindItem restriction subset. Requests are read with ElementTree; answers are written
as text with every value escaped."""
from __future__ import annotations

import base64
from xml.sax.saxutils import escape, quoteattr

from .store import Store, iso, parse_iso

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"

# Exchange Server 2019 CU14; the Version attribute is what 2016 and 2019 send.
SERVER_VERSION = ('<h:ServerVersionInfo MajorVersion="15" MinorVersion="2" MajorBuildNumber="1544" '
                  'MinorBuildNumber="4" Version="V2017_07_11" xmlns:h="%s" xmlns="%s"/>' % (T, T))


class EWSFault(Exception):
    """A request the server refuses as a whole: answered as a SOAP fault (HTTP 500)."""

    def __init__(self, code: str, message: str, back_off_ms: int | None = None):
        super().__init__(message)
        self.code, self.message, self.back_off_ms = code, message, back_off_ms


class ItemError(Exception):
    """One item's failure, answered in its own ResponseMessage with ResponseClass Error."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def t(name: str) -> str:
    return f"{{{T}}}{name}"


def m(name: str) -> str:
    return f"{{{M}}}{name}"


def text(el, path: str, default: str | None = None) -> str | None:
    found = el.find(path) if el is not None else None
    return found.text if found is not None and found.text is not None else default


def envelope(body: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP}"><s:Header>{SERVER_VERSION}'
            f'</s:Header><s:Body xmlns:xsi="{XSI}" xmlns:xsd="{XSD}">{body}</s:Body></s:Envelope>').encode()


def operation_response(operation: str, messages: list[str]) -> bytes:
    return envelope(f'<m:{operation}Response xmlns:m="{M}" xmlns:t="{T}"><m:ResponseMessages>'
                    + "".join(messages) + f"</m:ResponseMessages></m:{operation}Response>")


def success(operation: str, inner: str = "") -> str:
    return (f'<m:{operation}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
            f"{inner}</m:{operation}ResponseMessage>")


def failure(operation: str, code: str, message: str, back_off_ms: int | None = None, inner: str = "") -> str:
    xml = ""
    if back_off_ms is not None:
        xml = f'<m:MessageXml><t:Value Name="BackOffMilliseconds">{int(back_off_ms)}</t:Value></m:MessageXml>'
    return (f'<m:{operation}ResponseMessage ResponseClass="Error"><m:MessageText>{escape(message)}</m:MessageText>'
            f"<m:ResponseCode>{escape(code)}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
            f"{xml}{inner}</m:{operation}ResponseMessage>")


def soap_fault(code: str, message: str, back_off_ms: int | None = None) -> bytes:
    xml = ""
    if back_off_ms is not None:
        xml = f'<t:MessageXml xmlns:t="{T}"><t:Value Name="BackOffMilliseconds">{int(back_off_ms)}</t:Value></t:MessageXml>'
    return (f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP}"><s:Body><s:Fault>'
            f'<faultcode xmlns:a="{T}">a:{escape(code)}</faultcode><faultstring xml:lang="en-US">{escape(message)}</faultstring>'
            f'<detail><e:ResponseCode xmlns:e="{E}">{escape(code)}</e:ResponseCode>'
            f'<e:Message xmlns:e="{E}">{escape(message)}</e:Message>{xml}</detail>'
            f"</s:Fault></s:Body></s:Envelope>").encode()


# Items and folders ------------------------------------------------------------------------------

def folder_id_xml(store: Store, box, folder, tag: str = "FolderId") -> str:
    return f'<t:{tag} Id={quoteattr(store.folder_id(box, folder))} ChangeKey="AQAAAA=="/>'


def item_id_xml(store: Store, box, item, tag: str = "ItemId") -> str:
    return f'<t:{tag} Id={quoteattr(store.item_id(box, item))} ChangeKey={quoteattr(store.change_key(item))}/>'


def folder_xml(store: Store, box, folder) -> str:
    parent = box.folders.get(folder.parent) if folder.parent else None
    children = sum(1 for f in box.folders.values() if f.parent == folder.number)
    unread = sum(1 for i in folder.items.values() if not i.is_read)
    return (f"<t:Folder>{folder_id_xml(store, box, folder)}"
            + (folder_id_xml(store, box, parent, "ParentFolderId") if parent else "")
            + f"<t:FolderClass>IPF.Note</t:FolderClass><t:DisplayName>{escape(folder.name)}</t:DisplayName>"
            f"<t:TotalCount>{len(folder.items)}</t:TotalCount><t:ChildFolderCount>{children}</t:ChildFolderCount>"
            f"<t:UnreadCount>{unread}</t:UnreadCount></t:Folder>")


def mailbox_xml(name: str, address: str) -> str:
    return (f"<t:Mailbox><t:Name>{escape(name or address)}</t:Name><t:EmailAddress>{escape(address)}</t:EmailAddress>"
            "<t:RoutingType>SMTP</t:RoutingType><t:MailboxType>OneOff</t:MailboxType></t:Mailbox>")


DEFAULT_FIELDS = ["ItemId", "ParentFolderId", "ItemClass", "Subject", "DateTimeReceived", "Size", "HasAttachments",
                  "ToRecipients", "From", "IsRead"]
ALL_FIELDS = ["ItemId", "ParentFolderId", "ItemClass", "Subject", "DateTimeReceived", "Size", "HasAttachments",
              "DateTimeSent", "DateTimeCreated", "ToRecipients", "CcRecipients", "From", "Sender",
              "InternetMessageId", "IsRead", "ConversationTopic"]
# FieldURI -> element; what is not listed is not produced (a client asking for more gets less).
FIELD_URIS = {"item:Subject": "Subject", "item:DateTimeReceived": "DateTimeReceived", "item:Size": "Size",
              "item:ItemClass": "ItemClass", "item:HasAttachments": "HasAttachments", "item:DateTimeSent": "DateTimeSent",
              "item:DateTimeCreated": "DateTimeCreated", "item:ParentFolderId": "ParentFolderId",
              "message:ToRecipients": "ToRecipients", "message:CcRecipients": "CcRecipients",
              "message:From": "From", "message:Sender": "Sender", "message:InternetMessageId": "InternetMessageId",
              "message:IsRead": "IsRead", "message:ConversationTopic": "ConversationTopic",
              "item:MimeContent": "MimeContent", "item:ItemId": "ItemId"}


class Shape:
    def __init__(self, el):
        base = text(el, t("BaseShape"), "Default") if el is not None else "Default"
        fields = {"IdOnly": ["ItemId"], "Default": DEFAULT_FIELDS, "AllProperties": ALL_FIELDS}.get(base, DEFAULT_FIELDS)
        self.fields = list(fields)
        self.mime = el is not None and (text(el, t("IncludeMimeContent"), "false").lower() == "true")
        extra = el.find(t("AdditionalProperties")) if el is not None else None
        for uri in (extra.findall(t("FieldURI")) if extra is not None else []):
            name = FIELD_URIS.get(uri.get("FieldURI", ""))
            if name == "MimeContent":
                self.mime = True
            elif name and name not in self.fields:
                self.fields.append(name)


def item_xml(store: Store, box, item, shape: Shape, mime_limit: int | None = None) -> str:
    out = ["<t:Message>"]
    if shape.mime:
        data = base64.b64encode(item.mime).decode()
        out.append(f'<t:MimeContent CharacterSet="UTF-8">{data}</t:MimeContent>')
    values = {
        "ItemId": lambda: item_id_xml(store, box, item),
        "ParentFolderId": lambda: folder_id_xml(store, box, box.folders[item.folder], "ParentFolderId"),
        "ItemClass": lambda: "<t:ItemClass>IPM.Note</t:ItemClass>",
        "Subject": lambda: f"<t:Subject>{escape(item.header('Subject'))}</t:Subject>",
        "DateTimeReceived": lambda: f"<t:DateTimeReceived>{iso(item.received)}</t:DateTimeReceived>",
        "Size": lambda: f"<t:Size>{len(item.mime)}</t:Size>",
        "HasAttachments": lambda: "<t:HasAttachments>%s</t:HasAttachments>" % ("true" if b"multipart/mixed" in item.mime[:65536].lower() else "false"),
        "DateTimeSent": lambda: f"<t:DateTimeSent>{sent(item)}</t:DateTimeSent>",
        "DateTimeCreated": lambda: f"<t:DateTimeCreated>{iso(item.received)}</t:DateTimeCreated>",
        "Sender": lambda: people(item, "From", "Sender", single=True),
        "ToRecipients": lambda: people(item, "To", "ToRecipients"),
        "CcRecipients": lambda: people(item, "Cc", "CcRecipients"),
        "ConversationTopic": lambda: f"<t:ConversationTopic>{escape(item.header('Subject'))}</t:ConversationTopic>",
        "From": lambda: people(item, "From", "From", single=True),
        "InternetMessageId": lambda: f"<t:InternetMessageId>{escape(item.header('Message-ID'))}</t:InternetMessageId>",
        "IsRead": lambda: "<t:IsRead>%s</t:IsRead>" % ("true" if item.is_read else "false"),
    }
    # Schema order: item fields first, then message fields.
    for name in ["ItemId", "ParentFolderId", "ItemClass", "Subject", "DateTimeReceived", "Size", "HasAttachments",
                 "DateTimeSent", "DateTimeCreated", "Sender", "ToRecipients", "CcRecipients", "ConversationTopic",
                 "From", "InternetMessageId", "IsRead"]:
        if name in shape.fields:
            out.append(values[name]())
    out.append("</t:Message>")
    return "".join(out)


def sent(item) -> str:
    import email.utils
    try:
        return iso(email.utils.parsedate_to_datetime(item.header("Date")))
    except Exception:
        return iso(item.received)


def people(item, header: str, tag: str, single: bool = False) -> str:
    found = item.addresses(header)
    if not found:
        return ""
    if single:
        return f"<t:{tag}>{mailbox_xml(*found[0])}</t:{tag}>"
    return f"<t:{tag}>" + "".join(mailbox_xml(n, a) for n, a in found) + f"</t:{tag}>"


# Restrictions (FindItem) -------------------------------------------------------------------------

COMPARISONS = {"IsEqualTo": lambda a, b: a == b, "IsNotEqualTo": lambda a, b: a != b,
               "IsGreaterThan": lambda a, b: a > b, "IsGreaterThanOrEqualTo": lambda a, b: a >= b,
               "IsLessThan": lambda a, b: a < b, "IsLessThanOrEqualTo": lambda a, b: a <= b}


def field_value(item, uri: str):
    if uri == "item:Subject":
        return item.header("Subject")
    if uri == "item:DateTimeReceived":
        return item.received
    if uri == "message:InternetMessageId":
        return item.header("Message-ID")
    if uri == "message:IsRead":
        return item.is_read
    if uri == "item:Size":
        return len(item.mime)
    raise EWSFault("ErrorUnsupportedPathForQuery", f"The property {uri} is not supported in a restriction here.")


def constant(uri: str, value: str):
    if uri == "item:DateTimeReceived":
        return parse_iso(value)
    if uri == "message:IsRead":
        return value.lower() == "true"
    if uri == "item:Size":
        return int(value)
    return value


def restriction(el):
    """A predicate over items for the restriction subset: comparisons, Contains, And, Or, Not."""
    if el is None:
        return None
    children = list(el)
    if not children:
        return None
    return _predicate(children[0])


def _predicate(el):
    name = el.tag.split("}")[-1]
    if name in ("And", "Or"):
        parts = [_predicate(c) for c in el]
        return (lambda i: all(p(i) for p in parts)) if name == "And" else (lambda i: any(p(i) for p in parts))
    if name == "Not":
        inner = _predicate(list(el)[0])
        return lambda i: not inner(i)
    uri_el = el.find(t("FieldURI"))
    if uri_el is None:
        raise EWSFault("ErrorUnsupportedPathForQuery", "Only FieldURI properties are supported in restrictions here.")
    uri = uri_el.get("FieldURI", "")
    const_el = el.find(f"{t('FieldURIOrConstant')}/{t('Constant')}")
    if const_el is None:
        const_el = el.find(t("Constant"))
    if const_el is None:
        raise EWSFault("ErrorInvalidRestriction", "The restriction has no constant.")
    value = constant(uri, const_el.get("Value", ""))
    if name == "Contains":
        needle = str(value).lower()
        return lambda i: needle in str(field_value(i, uri)).lower()
    if name not in COMPARISONS:
        raise EWSFault("ErrorInvalidRestriction", f"The restriction {name} is not supported here.")
    compare = COMPARISONS[name]
    return lambda i: compare(field_value(i, uri), value)
