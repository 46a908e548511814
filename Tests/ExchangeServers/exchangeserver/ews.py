"""EWS operations (Exchange Server 2016/2019): GetFolder, FindFolder, FindItem, GetItem (with
MimeContent), SyncFolderItems, CreateItem (SaveOnly, SendOnly, SendAndSaveCopy), SendItem,
UpdateItem (IsRead), DeleteItem, MoveItem, ConvertId (as the version probe), and streaming
notifications (ews_stream.py). Per-item failures answer in ResponseMessages; request-wide ones as
SOAP faults, as Exchange does."""
from __future__ import annotations

import base64
import binascii
import time
import xml.etree.ElementTree as ET

from . import autodiscover, ews_stream
from .ews_xml import (EWSFault, ItemError, Shape, failure, folder_xml, item_id_xml, item_xml,
                      operation_response, restriction, soap_fault, success, t, m, text)
from .httpbase import Handler
from .store import NotFound, RangeSet, SyncState, synthesize_mime

MAX_SYNC_CHANGES = 512
DISTINGUISHED = {"inbox", "sentitems", "deleteditems", "drafts", "junkemail", "outbox", "msgfolderroot", "root", "archive"}


class Request:
    def __init__(self, handler, principal, header, op_el):
        self.h = handler
        self.store = handler.ctx.store
        self.principal = principal
        self.op = op_el
        self.impersonated = None
        if header is not None:
            self.impersonated = text(header, f"{t('ExchangeImpersonation')}/{t('ConnectingSID')}/{t('PrimarySmtpAddress')}")

    # Resolving mailboxes, folders and items ------------------------------------------------------

    def open_mailbox(self, address: str | None):
        address = address or self.impersonated or self.principal.user
        if not address:
            raise EWSFault("ErrorMissingEmailAddress",
                           "When making a request as an account that does not have a mailbox, you must specify the mailbox primary SMTP address for any distinguished folder Ids.")
        try:
            box = self.store.mailbox(address)
        except NotFound:
            raise ItemError("ErrorNonExistentMailbox", f"No mailbox with such guid or primary SMTP address {address}.")
        if not self.principal.may_open(box) and not self.impersonated:
            raise ItemError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return box

    def folder(self, el):
        """A FolderId or DistinguishedFolderId element -> (mailbox, folder)."""
        name = el.tag.split("}")[-1]
        if name == "DistinguishedFolderId":
            key = el.get("Id", "")
            if key not in DISTINGUISHED:
                raise ItemError("ErrorInvalidOperation", f"The distinguished folder id {key} is not supported.")
            box = self.open_mailbox(text(el, f"{t('Mailbox')}/{t('EmailAddress')}"))
            return box, self.store.folder(box, key)
        try:
            box, folder = self.store.find_folder_by_id(el.get("Id", ""))
        except ValueError:
            raise ItemError("ErrorInvalidIdMalformed", "Id is malformed.")
        except NotFound:
            raise ItemError("ErrorFolderNotFound", "The specified folder could not be found in the store.")
        if not self.principal.may_open(box) and not self.impersonated:
            raise ItemError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return box, folder

    def folders(self, container_tag: str):
        container = self.op.find(m(container_tag))
        if container is None:
            raise EWSFault("ErrorSchemaValidation", f"The request failed schema validation: {container_tag} is missing.")
        return list(container)

    def item(self, el):
        try:
            box, item = self.store.find_item(el.get("Id", ""))
        except ValueError:
            raise ItemError("ErrorInvalidIdMalformed", "Id is malformed.")
        except NotFound:
            raise ItemError("ErrorItemNotFound", "The specified object was not found in the store., The process failed to get the correct properties.")
        if not self.principal.may_open(box) and not self.impersonated:
            raise ItemError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return box, item

    def item_ids(self, tag: str = "ItemIds"):
        container = self.op.find(m(tag))
        if container is None:
            raise EWSFault("ErrorSchemaValidation", f"The request failed schema validation: {tag} is missing.")
        return list(container)


# Operations ------------------------------------------------------------------------------------------
# Each takes a Request and answers the list of ResponseMessage strings.

def each(name, elements, work):
    out = []
    for el in elements:
        try:
            out.append(success(name, work(el)))
        except ItemError as e:
            out.append(failure(name, e.code, e.message))
    return out


def op_get_folder(r: Request):
    def one(el):
        box, folder = r.folder(el)
        return f"<m:Folders>{folder_xml(r.store, box, folder)}</m:Folders>"
    return each("GetFolder", r.folders("FolderIds"), one)


def op_find_folder(r: Request):
    deep = r.op.get("Traversal", "Shallow") == "Deep"

    def one(el):
        box, parent = r.folder(el)
        with r.store.lock:
            found, todo = [], [parent.number]
            while todo:
                n = todo.pop(0)
                kids = [f for f in box.folders.values() if f.parent == n]
                found += kids
                if deep:
                    todo += [f.number for f in kids]
            body = "".join(folder_xml(r.store, box, f) for f in found)
        return (f'<m:RootFolder TotalItemsInView="{len(found)}" IncludesLastItemInRange="true">'
                f"<t:Folders>{body}</t:Folders></m:RootFolder>")
    return each("FindFolder", r.folders("ParentFolderIds"), one)


def op_find_item(r: Request):
    shape = Shape(r.op.find(m("ItemShape")))
    shape.mime = False  # FindItem never returns MIME content
    page = r.op.find(m("IndexedPageItemView"))
    limit = int(page.get("MaxEntriesReturned", "1000")) if page is not None else 1000
    offset = int(page.get("Offset", "0")) if page is not None else 0
    from_end = page is not None and page.get("BasePoint") == "End"
    predicate = restriction(r.op.find(m("Restriction")))
    order = r.op.find(f"{m('SortOrder')}/{t('FieldOrder')}")
    descending = order is None or order.get("Order", "Ascending") == "Descending"

    def one(el):
        box, folder = r.folder(el)
        with r.store.lock:
            items = [i for i in folder.items.values() if predicate is None or predicate(i)]
            items.sort(key=lambda i: (i.received, i.number), reverse=descending)
            if from_end:
                items.reverse()
            chosen = items[offset:offset + limit]
            body = "".join(item_xml(r.store, box, i, shape) for i in chosen)
        last = offset + len(chosen) >= len(items)
        return (f'<m:RootFolder IndexedPagingOffset="{offset + len(chosen)}" TotalItemsInView="{len(items)}" '
                f'IncludesLastItemInRange="{"true" if last else "false"}"><t:Items>{body}</t:Items></m:RootFolder>')
    return each("FindItem", r.folders("ParentFolderIds"), one)


def op_get_item(r: Request):
    shape = Shape(r.op.find(m("ItemShape")))
    vanish = r.h.ctx.faults.take("ews", "GetItem", "GetItem", kinds={"vanish"}, concerns=r.h.concerns)

    def one(el):
        nonlocal vanish
        box, item = r.item(el)
        if vanish:
            vanish = None  # the item is deleted between the sync that listed it and this fetch
            r.store.delete_item(box, item)
            raise ItemError("ErrorItemNotFound", "The specified object was not found in the store., The process failed to get the correct properties.")
        return f"<m:Items>{item_xml(r.store, box, item, shape)}</m:Items>"
    return each("GetItem", r.item_ids(), one)


def op_sync_folder_items(r: Request):
    shape = Shape(r.op.find(m("ItemShape")))
    target = r.op.find(m("SyncFolderId"))
    try:
        max_changes = int(text(r.op, m("MaxChangesReturned"), "0"))
    except ValueError:
        max_changes = 0
    if not 1 <= max_changes <= MAX_SYNC_CHANGES:
        raise EWSFault("ErrorSchemaValidation", "The request failed schema validation: MaxChangesReturned must be between 1 and 512.")
    ignored = {el.get("Id") for el in r.op.findall(f"{m('Ignore')}/{t('ItemId')}")}
    try:
        if target is None or not list(target):
            raise ItemError("ErrorInvalidSyncStateData", "SyncFolderId is missing.")
        box, folder = r.folder(list(target)[0])
        token = text(r.op, m("SyncState"))
        if token:
            state = r.store.state("ews", token)
            if state is None or state.mailbox != box.address or state.folder != folder.number:
                raise ItemError("ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid.")
        else:
            state = SyncState(box.address, folder.number, 0, RangeSet(), {})
        changes, after, more = r.store.changes(box, state, max_changes)
    except ItemError as e:
        return [failure("SyncFolderItems", e.code, e.message)]
    parts = []
    for kind, number, item in changes:
        if kind == "delete":
            from .store import encode_id
            raw = base64.b64encode(encode_id("item", box.number, number)).decode()
            parts.append(f'<t:Delete><t:ItemId Id="{raw}" ChangeKey="AQAAAA=="/></t:Delete>')
        elif r.store.item_id(box, item) in ignored:
            continue
        else:
            tag = "Create" if kind == "create" else "Update"
            parts.append(f"<t:{tag}>{item_xml(r.store, box, item, shape)}</t:{tag}>")
    token = r.store.new_state("ews", after)
    return [success("SyncFolderItems", f"<m:SyncState>{token}</m:SyncState><m:IncludesLastItemInRange>"
                    f"{'false' if more else 'true'}</m:IncludesLastItemInRange><m:Changes>{''.join(parts)}</m:Changes>")]


def _recipients(msg_el, tag):
    return [text(mb, t("EmailAddress"), "") for mb in msg_el.findall(f"{t(tag)}/{t('Mailbox')}")]


def _mime_of(r: Request, box, msg_el) -> bytes:
    mime_el = msg_el.find(t("MimeContent"))
    if mime_el is not None:
        try:
            return base64.b64decode((mime_el.text or "").strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ItemError("ErrorMimeContentInvalidBase64String", "The MIME content is not a valid Base64 string.")
    body = msg_el.find(t("Body"))
    return synthesize_mime(box.address, _recipients(msg_el, "ToRecipients"), _recipients(msg_el, "CcRecipients"),
                           text(msg_el, t("Subject"), ""), body.text or "" if body is not None else "",
                           body is not None and body.get("BodyType") == "HTML", _recipients(msg_el, "BccRecipients"))


def _explicit_recipients(msg_el):
    found = _recipients(msg_el, "ToRecipients") + _recipients(msg_el, "CcRecipients") + _recipients(msg_el, "BccRecipients")
    return found or None


def op_create_item(r: Request):
    disposition = r.op.get("MessageDisposition", "SaveOnly")
    saved = r.op.find(m("SavedItemFolderId"))
    items = r.op.find(m("Items"))
    if items is None:
        raise EWSFault("ErrorSchemaValidation", "The request failed schema validation: Items is missing.")

    def one(msg_el):
        if saved is not None and list(saved):
            box, folder = r.folder(list(saved)[0])
        else:
            box = r.open_mailbox(None)
            folder = r.store.folder(box, "sentitems" if disposition == "SendAndSaveCopy" else "drafts")
        mime = _mime_of(r, box, msg_el)
        if disposition == "SaveOnly":
            item = r.store.add_item(box, folder, mime, is_read=True)
            return f"<m:Items><t:Message>{item_id_xml(r.store, box, item)}</t:Message></m:Items>"
        try:
            r.store.send(box, mime, _explicit_recipients(msg_el), folder if disposition == "SendAndSaveCopy" else None)
        except ValueError:
            raise ItemError("ErrorInvalidRecipients", "At least one recipient isn't valid.")
        return "<m:Items/>"
    return each("CreateItem", list(items), one)


def op_send_item(r: Request):
    save = r.op.get("SaveItemToFolder", "true").lower() == "true"
    saved = r.op.find(m("SavedItemFolderId"))

    def one(el):
        box, item = r.item(el)
        target = None
        if save:
            target = r.folder(list(saved)[0])[1] if saved is not None and list(saved) else r.store.folder(box, "sentitems")
        try:
            r.store.send(box, item.mime, None, target)
        except ValueError:
            raise ItemError("ErrorInvalidRecipients", "At least one recipient isn't valid.")
        r.store.delete_item(box, item)
        return ""
    return each("SendItem", r.item_ids(), one)


def op_update_item(r: Request):
    changes = r.op.find(m("ItemChanges"))

    def one(change):
        box, item = r.item(change.find(t("ItemId")))
        value = change.find(f".//{t('Message')}/{t('IsRead')}")
        r.store.update_item(box, item, is_read=None if value is None else value.text == "true")
        return f"<m:Items><t:Message>{item_id_xml(r.store, box, item)}</t:Message></m:Items><m:ConflictResults><t:Count>0</t:Count></m:ConflictResults>"
    return each("UpdateItem", list(changes) if changes is not None else [], one)


def op_delete_item(r: Request):
    kind = r.op.get("DeleteType", "MoveToDeletedItems")

    def one(el):
        box, item = r.item(el)
        if kind == "MoveToDeletedItems":
            r.store.move_item(box, item, r.store.folder(box, "deleteditems"))
        else:  # HardDelete, or SoftDelete into the dumpster, which no client sees
            r.store.delete_item(box, item)
        return ""
    return each("DeleteItem", r.item_ids(), one)


def op_move_item(r: Request):
    target = r.op.find(m("ToFolderId"))
    if target is None or not list(target):
        raise EWSFault("ErrorSchemaValidation", "The request failed schema validation: ToFolderId is missing.")

    def one(el):
        box, item = r.item(el)
        dest_box, dest = r.folder(list(target)[0])
        if dest_box is not box:
            raise ItemError("ErrorCrossMailboxMoveCopy", "Cross-mailbox moves are not supported here.")
        moved = r.store.move_item(box, item, dest)
        return f"<m:Items><t:Message>{item_id_xml(r.store, box, moved)}</t:Message></m:Items>"
    return each("MoveItem", r.item_ids(), one)


def op_convert_id(r: Request):
    # exchangelib probes the server version with a ConvertId of a dummy id; the header answers it.
    ids = r.op.find(m("SourceIds"))
    return [failure("ConvertId", "ErrorInvalidIdMalformed", "Id is malformed.") for _ in (list(ids) if ids is not None else [None])]


OPERATIONS = {
    "GetFolder": op_get_folder, "FindFolder": op_find_folder, "FindItem": op_find_item, "GetItem": op_get_item,
    "SyncFolderItems": op_sync_folder_items, "CreateItem": op_create_item, "SendItem": op_send_item,
    "UpdateItem": op_update_item, "DeleteItem": op_delete_item, "MoveItem": op_move_item, "ConvertId": op_convert_id,
    "Subscribe": ews_stream.op_subscribe, "Unsubscribe": ews_stream.op_unsubscribe,
}


class EWSHandler(Handler):
    server_name = "ews"

    def do_GET(self):
        path = self.path.split("?")[0]
        if path.startswith("/_control"):
            self.handle_control("GET", path[len("/_control"):], _query(self.path))
            return
        self.send(404, b"", "text/html")

    def do_DELETE(self):
        path = self.path.split("?")[0]
        if path.startswith("/_control"):
            self.handle_control("DELETE", path[len("/_control"):], _query(self.path))
            return
        self.send(405, b"", "text/html")

    def do_POST(self):
        started = time.monotonic()
        path = self.path.split("?")[0]
        if path.startswith("/_control"):
            self.handle_control("POST", path[len("/_control"):], _query(self.path))
            return
        status = self.answer(path)
        self.ctx.record({"server": "ews", "method": "POST", "path": path, "operation": self.operation,
                         "status": status, "ms": int((time.monotonic() - started) * 1000)})

    def answer(self, path) -> int:
        self.operation = "?"
        try:
            body = self.read_body()
        except ValueError:
            self.send(413, b"", "text/html")
            return 413
        if path.lower() not in ("/ews/exchange.asmx", "/autodiscover/autodiscover.xml"):
            self.send(404, b"", "text/html")
            return 404
        principal = self.basic()
        if principal is None:
            p, _ = self.bearer()
            principal = p
        if principal is None:
            # Exchange answers 401 with an empty body and its schemes.
            self.send(401, b"", "text/html", {"WWW-Authenticate": 'Basic realm="127.0.0.1"'})
            self.close_connection = False
            return 401
        if path.lower() == "/autodiscover/autodiscover.xml":
            self.operation = "Autodiscover"
            status, payload = autodiscover.answer(self, body, principal)
            self.send(status, payload, "text/xml; charset=utf-8")
            return status
        try:
            root = ET.fromstring(body)
            header = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Header")
            op_el = list(root.find("{http://schemas.xmlsoap.org/soap/envelope/}Body"))[0]
        except Exception:
            self.send(500, soap_fault("ErrorSchemaValidation", "The request failed schema validation."), "text/xml; charset=utf-8")
            return 500
        name = op_el.tag.split("}")[-1]
        self.operation = name
        lowered = body.lower()
        self.concerns = lambda address: address == principal.user or address.encode() in lowered
        fault = self.ctx.faults.take("ews", name, path, exclude={"truncate", "vanish"}, concerns=self.concerns)
        if fault:
            status = self.fault(fault, name)
            if status is not None:
                return status
        if name == "GetStreamingEvents":
            return ews_stream.stream(self, principal, op_el)
        handler = OPERATIONS.get(name)
        if handler is None:
            self.send(500, soap_fault("ErrorInvalidRequest", f"The operation {name} is not supported by this test server."),
                      "text/xml; charset=utf-8")
            return 500
        try:
            messages = handler(Request(self, principal, header, op_el))
        except EWSFault as e:
            self.send(500, soap_fault(e.code, e.message, e.back_off_ms), "text/xml; charset=utf-8")
            return 500
        except ItemError as e:
            messages = [failure(name, e.code, e.message)]
        except Exception as e:  # a request this server did not expect: say so rather than drop it
            self.send(500, soap_fault("ErrorInternalServerError", f"{type(e).__name__} in the test server ({name})."),
                      "text/xml; charset=utf-8")
            return 500
        payload = operation_response(name, messages)
        truncate = False
        if name == "GetItem" and b"MimeContent" in payload[:1 << 20] or (name == "GetItem" and len(payload) > 1 << 20):
            truncate = self.ctx.faults.take("ews", "GetItem", path, kinds={"truncate"}, concerns=self.concerns) is not None
        self.send(200, payload, "text/xml; charset=utf-8", truncate=truncate)
        return 200

    def fault(self, fault: dict, name: str) -> int | None:
        kind = fault["kind"]
        if kind == "throttle":
            ms = int(fault.get("backOffMs", float(fault.get("retryAfter", 1)) * 1000))
            self.send(500, soap_fault("ErrorServerBusy", "The server cannot service this request right now. Try again later.", ms),
                      "text/xml; charset=utf-8")
            return 500
        if kind == "responseCode":
            code = fault.get("code", "ErrorInternalServerTransientError")
            ms = fault.get("backOffMs")
            self.send(200, operation_response(name, [failure(name, code, fault.get("message", code), ms)]), "text/xml; charset=utf-8")
            return 200
        if kind == "soapFault":
            self.send(500, soap_fault(fault.get("code", "ErrorInternalServerError"),
                                      fault.get("message", "An internal server error occurred. The operation failed.")),
                      "text/xml; charset=utf-8")
            return 500
        if kind == "unavailable":
            self.send(503, b"", "text/html", {"Retry-After": str(int(fault.get("retryAfter", 1)))})
            return 503
        if kind == "unauthorized":
            self.send(401, b"", "text/html", {"WWW-Authenticate": 'Basic realm="127.0.0.1"'})
            return 401
        if kind == "status":
            status = int(fault.get("status", 500))
            self.send(status, fault.get("body", "").encode(), "text/html")
            return status
        if kind == "malformed":
            self.send(200, b'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:', "text/xml; charset=utf-8")
            return 200
        if kind == "disconnect":
            self.disconnect()
            return 0
        if kind == "slow":
            time.sleep(float(fault.get("delay", 5)))
        return None


def _query(path: str) -> dict:
    import urllib.parse
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query, keep_blank_values=True))
