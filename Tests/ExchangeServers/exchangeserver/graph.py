"""The Microsoft Graph mail API, the part Mailroom uses: mail folders, messages and their MIME
($value), the folder delta query, deleting and moving, sendMail (JSON or base64 MIME), $batch and
change-notification subscriptions (graph_notify.py). Errors have Graph's shape and codes."""
from __future__ import annotations

import base64
import binascii
import concurrent.futures
import datetime as dt
import json
import re
import threading
import time
import urllib.parse
import uuid

from . import graph_notify
from .graph_filters import message_filter, received_filter
from .httpbase import Handler, Principal
from .store import NotFound, Store, SyncState, RangeSet, iso, now, synthesize_mime

JSON_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"
DEFAULT_PAGE = 10
MAX_PAGE = 1000
MAX_BATCH = 20
MESSAGE_PATH = re.compile(r"^/(users/([^/]+)|me)(/.*)?$")


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class Response:
    def __init__(self, status: int, body=None, content_type: str = JSON_TYPE, headers: dict | None = None,
                 mime: bool = False):
        self.status, self.body, self.content_type = status, body, content_type
        self.headers = headers or {}
        self.mime = mime  # a MIME download, which the "truncate" fault may cut

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


def error_body(code: str, message: str, request_id: str) -> dict:
    return {"error": {"code": code, "message": message,
                      "innerError": {"date": iso(now()), "request-id": request_id, "client-request-id": request_id}}}


def quoted_key(segment: str) -> str:
    """mailFolders('Inbox') and mailFolders/Inbox name the same folder."""
    m = re.match(r"^\('?(.*?)'?\)$", segment)
    return urllib.parse.unquote(m.group(1) if m else segment)


class GraphAPI:
    """Routes one request (also each request inside a $batch) to an answer."""

    def __init__(self, handler: Handler, principal: Principal, base_url: str):
        self.h = handler
        self.ctx = handler.ctx
        self.store: Store = handler.ctx.store
        self.principal = principal
        self.base = base_url.rstrip("/")
        self.request_id = str(uuid.uuid4())

    # Entry -----------------------------------------------------------------------------------------

    def route(self, method: str, path: str, query: dict, headers, body: bytes, in_batch: bool = False) -> Response:
        operation = operation_name(method, path)
        self.concerns = lambda address: f"/users/{address}/" in path.lower() + "/" or address == self.principal.user
        fault = self.ctx.faults.take("graph", operation, path, concerns=self.concerns, exclude={"truncate", "vanish", "slow", "malformed", "disconnect"}
                                     if in_batch else {"truncate", "vanish"})
        if fault:
            answer = self.fault_response(fault)
            if answer is not None:
                return answer
        try:
            return self._route(method, path, query, headers, body, operation)
        except GraphError as e:
            return Response(e.status, error_body(e.code, e.message, self.request_id), headers=e.headers)
        except NotFound:
            return Response(404, error_body("ErrorItemNotFound", "The specified object was not found in the store.", self.request_id))
        except (ValueError, TypeError, AttributeError, KeyError) as e:
            # Mostly a body that is not the JSON the call takes; Graph says 400 for those.
            return Response(400, error_body("BadRequest", f"Invalid request: {type(e).__name__}.", self.request_id))
        except Exception as e:
            return Response(500, error_body("generalException", f"{type(e).__name__} in the test server.", self.request_id))

    def fault_response(self, fault: dict) -> Response | None:
        kind = fault["kind"]
        retry = str(int(fault.get("retryAfter", 1)))
        if kind == "throttle":
            body = error_body(fault.get("code", "TooManyRequests"), "Please retry again later.", self.request_id)
            body["error"]["innerError"].update({"code": "429", "status": "429", "message": "Please retry after"})
            return Response(429, body, headers={"Retry-After": retry})
        if kind == "unavailable":
            return Response(503, error_body(fault.get("code", "serviceNotAvailable"),
                                            "The service is temporarily unavailable.", self.request_id),
                            headers={"Retry-After": retry})
        if kind == "unauthorized":
            return unauthorized(self.request_id, "Access token has expired or is not yet valid.")
        if kind == "status":
            status = int(fault.get("status", 500))
            return Response(status, error_body(fault.get("code", "generalException"),
                                               fault.get("message", "An internal server error occurred."), self.request_id))
        if kind == "malformed":
            return Response(200, b'{"value": [{"id": "AAMk', JSON_TYPE)
        if kind == "slow":
            time.sleep(float(fault.get("delay", 5)))
            return None
        if kind == "disconnect":
            return Response(-1)
        return None

    def _route(self, method, path, query, headers, body, operation) -> Response:
        self.path = path
        if path == "/$batch" and method == "POST":
            return self.batch(body)
        if path.startswith("/subscriptions"):
            return graph_notify.route(self, method, path, body)
        m = MESSAGE_PATH.match(path)
        if not m:
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{path.strip('/').split('/')[0]}'.")
        box = self.mailbox(m.group(2), me=m.group(1) == "me")
        rest = [s for s in (m.group(3) or "").split("/") if s]
        if not rest:
            if method == "GET":
                return Response(200, {"id": str(uuid.UUID(int=box.number)), "mail": box.address,
                                      "userPrincipalName": box.address, "displayName": box.display_name})
            raise GraphError(405, "BadRequest", "Method not allowed.")
        head, args = rest[0], rest[1:]
        if head == "sendMail" and method == "POST":
            return self.send_mail(box, headers, body)
        if head.startswith("mailFolders"):
            key = quoted_key(head[len("mailFolders"):]) if head != "mailFolders" else (args.pop(0) if args else None)
            if key is None:
                return self.folders(box, method, None, body, query)
            folder = self.folder(box, key)
            if not args:
                return self.folders(box, method, folder, body, query)
            if args[0] == "childFolders":
                return self.folders(box, method, folder, body, query, children=True)
            if args[0] == "messages":
                if args[1:] == ["delta"] or args[1:] == ["delta()"]:
                    return self.delta(box, folder, query, headers)
                return self.messages(box, method, args[1:], query, body, folder)
        if head == "messages":
            return self.messages(box, method, args, query, body, None)
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{head}'.")

    # Mailboxes and folders -------------------------------------------------------------------------

    def mailbox(self, key: str | None, me: bool):
        if me:
            if self.principal.user is None:
                raise GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
            key = self.principal.user
        key = urllib.parse.unquote(key or "")
        try:
            box = self.store.mailbox(key)
        except NotFound:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{key}' is invalid.")
        if not self.principal.may_open(box):
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return box

    def folder(self, box, key: str):
        try:
            return self.store.folder(box, key)
        except NotFound:
            pass
        try:
            m, n = decode_folder(key)
        except ValueError:
            raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")
        if m != box.number or n not in box.folders:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return box.folders[n]

    def folder_json(self, box, folder) -> dict:
        parent = box.folders.get(folder.parent) if folder.parent else None
        children = sum(1 for f in box.folders.values() if f.parent == folder.number)
        return {"id": self.store.folder_id(box, folder, urlsafe=True), "displayName": folder.name,
                "parentFolderId": self.store.folder_id(box, parent, urlsafe=True) if parent else None,
                "childFolderCount": children, "unreadItemCount": sum(1 for i in folder.items.values() if not i.is_read),
                "totalItemCount": len(folder.items), "isHidden": False,
                **({"wellKnownName": folder.well_known} if folder.well_known else {})}

    def folders(self, box, method, folder, body, query, children=False) -> Response:
        if method == "GET" and folder is not None and not children:
            return Response(200, self.folder_json(box, folder))
        parent = folder or self.store.folder(box, "msgfolderroot")
        if method == "POST":
            name = (json.loads(body or b"{}") or {}).get("displayName", "").strip()
            if not name:
                raise GraphError(400, "ErrorInvalidRequest", "The displayName property is required.")
            return Response(201, self.folder_json(box, self.store.create_folder(box, name, parent)))
        if method != "GET":
            raise GraphError(405, "BadRequest", "Method not allowed.")
        with self.store.lock:
            found = [self.folder_json(box, f) for f in box.folders.values() if f.parent == parent.number]
        return Response(200, {"value": found})

    # Messages --------------------------------------------------------------------------------------

    def message_json(self, box, item, select: list[str] | None = None) -> dict:
        def people(header):
            return [{"emailAddress": {"name": n or a, "address": a}} for n, a in item.addresses(header)]

        sender = people("From")
        sent = item.header("Date")
        try:
            sent_at = iso(parse_date(sent)) if sent else iso(item.received)
        except Exception:
            sent_at = iso(item.received)
        full = {
            "@odata.etag": f'W/"{self.store.change_key(item)}"',
            "id": self.store.item_id(box, item, urlsafe=True),
            "createdDateTime": iso(item.received), "lastModifiedDateTime": iso(item.received),
            "changeKey": self.store.change_key(item),
            "receivedDateTime": iso(item.received), "sentDateTime": sent_at,
            "hasAttachments": b"multipart/mixed" in item.mime[:65536].lower(),
            "internetMessageId": item.header("Message-ID"), "subject": item.header("Subject"),
            "bodyPreview": "", "importance": "normal",
            "parentFolderId": self.store.folder_id(box, box.folders[item.folder], urlsafe=True),
            "conversationId": base64.urlsafe_b64encode(item.header("Subject").encode()[:24]).decode(),
            "isRead": item.is_read, "isDraft": False, "inferenceClassification": "focused",
            "from": sender[0] if sender else None, "sender": sender[0] if sender else None,
            "toRecipients": people("To"), "ccRecipients": people("Cc"), "bccRecipients": people("Bcc"),
            "replyTo": people("Reply-To"),
        }
        if select:
            return {k: v for k, v in full.items() if k in select or k in ("id", "@odata.etag")}
        return full

    def item(self, box, key: str):
        try:
            owner, item = self.store.find_item(urllib.parse.unquote(key))
        except ValueError:
            raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")
        if owner is not box:
            raise NotFound(key)
        return item

    def messages(self, box, method, args, query, body, folder) -> Response:
        select = split_list(query.get("$select"))
        if not args:
            if method != "GET":
                raise GraphError(405, "BadRequest", "Method not allowed.")
            return self.list_messages(box, folder, query, select)
        item = self.item(box, args[0])
        if folder is not None and item.folder != folder.number:
            raise NotFound(args[0])
        action = args[1] if len(args) > 1 else None
        if action == "$value" and method == "GET":
            fault = self.ctx.faults.take("graph", "mime", "$value", kinds={"vanish"}, concerns=self.concerns)
            if fault:
                self.store.delete_item(box, item)
                raise NotFound(args[0])
            return Response(200, item.mime, "text/plain", mime=True)
        if action is None and method == "GET":
            return Response(200, self.message_json(box, item, select))
        if action is None and method == "PATCH":
            change = json.loads(body or b"{}")
            self.store.update_item(box, item, is_read=change.get("isRead"))
            return Response(200, self.message_json(box, item))
        if action is None and method == "DELETE":
            # Graph's DELETE moves to Deleted Items; from Deleted Items the message leaves the view.
            deleted = self.store.folder(box, "deleteditems")
            if item.folder == deleted.number:
                self.store.delete_item(box, item)
            else:
                self.store.move_item(box, item, deleted)
            return Response(204)
        if action == "permanentDelete" and method == "POST":
            self.store.delete_item(box, item)
            return Response(204)
        if action == "move" and method == "POST":
            target = (json.loads(body or b"{}") or {}).get("destinationId")
            if not target:
                raise GraphError(400, "ErrorInvalidRequest", "The destinationId parameter is required.")
            moved = self.store.move_item(box, item, self.folder(box, target))
            return Response(201, self.message_json(box, moved))
        raise GraphError(405, "BadRequest", "Method not allowed.")

    def list_messages(self, box, folder, query, select) -> Response:
        top = min(int(query.get("$top", DEFAULT_PAGE)), MAX_PAGE)
        skip = int(query.get("$skip", 0))
        accept = message_filter(query.get("$filter"))
        with self.store.lock:
            items = list((folder.items if folder else box.items).values())
            items = [i for i in items if accept is None or accept(i)]
            items.sort(key=lambda i: (i.received, i.number), reverse=True)
            page = [self.message_json(box, i, select) for i in items[skip:skip + top]]
        answer = {"value": page}
        if skip + top < len(items):
            q = dict(query, **{"$skip": str(skip + top), "$top": str(top)})
            answer["@odata.nextLink"] = f"{self.base}{urllib.parse.quote(self.path)}?{urllib.parse.urlencode(q)}"
        return Response(200, answer)

    # Delta -----------------------------------------------------------------------------------------

    def delta(self, box, folder, query, headers) -> Response:
        token = query.get("$deltatoken") or query.get("$skiptoken")
        if token:
            state = self.store.state("graph", token)
            if state is None:
                raise GraphError(410, "syncStateNotFound",
                                 "The sync state generation is not found. The delta token is expired and data must be synchronized again.")
            if state.mailbox != box.address or state.folder != folder.number:
                raise GraphError(400, "ErrorInvalidUrlQuery", "The delta token does not belong to this folder.")
        else:
            change_type = query.get("changeType")
            if change_type not in (None, "created", "updated", "deleted"):
                raise GraphError(400, "ErrorInvalidUrlQuery", f"Invalid changeType '{change_type}'.")
            filter_text = query.get("$filter")
            received_filter(filter_text)  # rejects what it cannot apply now, not on a later page
            state = SyncState(box.address, folder.number, 0, RangeSet(),
                              {"changeType": change_type, "$select": query.get("$select"), "$filter": filter_text})
        size = DEFAULT_PAGE
        m = re.search(r"odata\.maxpagesize=(\d+)", headers.get("Prefer", "") or "")
        if m:
            size = max(1, min(int(m.group(1)), MAX_PAGE))
        accept = received_filter(state.options.get("$filter"))
        changes, after, more = self.store.changes(box, state, size, accept)
        select = split_list(state.options.get("$select"))
        wanted = state.options.get("changeType")
        value = []
        for kind, number, item in changes:
            if kind == "delete":
                if wanted in (None, "deleted"):
                    value.append({"@odata.type": "#microsoft.graph.message",
                                  "id": self.store.item_id(box, _Number(number), urlsafe=True),
                                  "@removed": {"reason": "deleted"}})
            elif wanted is None or (wanted == "created") == (kind == "create") and wanted != "deleted":
                value.append({"@odata.type": "#microsoft.graph.message", **self.message_json(box, item, select)})
        new_token = self.store.new_state("graph", after)
        link = f"{self.base}/users/{urllib.parse.quote(box.address)}/mailFolders/{self.store.folder_id(box, folder, urlsafe=True)}/messages/delta"
        answer = {"@odata.context": f"{self.base}/$metadata#Collection(message)", "value": value}
        if more:
            answer["@odata.nextLink"] = f"{link}?$skiptoken={new_token}"
        else:
            answer["@odata.deltaLink"] = f"{link}?$deltatoken={new_token}"
        return Response(200, answer, headers={"Preference-Applied": f"odata.maxpagesize={size}"} if m else {})

    # Sending ---------------------------------------------------------------------------------------

    def send_mail(self, box, headers, body) -> Response:
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type == "text/plain":
            try:
                mime = base64.b64decode(body.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise GraphError(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")
            if not mime.strip():
                raise GraphError(400, "ErrorMimeContentInvalid", "The MIME content is empty.")
            save = True  # MIME sendMail always saves to Sent Items (documented by Microsoft)
            recipients = None
        else:
            try:
                # Action parameters are matched without regard to case (the SDK sends "Message").
                request = {k.lower(): v for k, v in json.loads(body or b"{}").items()}
                message = request["message"]
            except (ValueError, KeyError, TypeError):
                raise GraphError(400, "ErrorInvalidRequest", "The message parameter is required.")
            save = request.get("savetosentitems", True) not in (False, "false")

            def addrs(key):
                return [r["emailAddress"]["address"] for r in message.get(key) or []]

            to, cc, bcc = addrs("toRecipients"), addrs("ccRecipients"), addrs("bccRecipients")
            content = message.get("body") or {}
            mime = synthesize_mime(box.address, to, cc, message.get("subject", ""), content.get("content", ""),
                                   str(content.get("contentType", "text")).lower() == "html", bcc)
            recipients = to + cc + bcc
        try:
            self.store.send(box, mime, recipients, self.store.folder(box, "sentitems") if save else None)
        except ValueError as e:
            raise GraphError(400, "ErrorInvalidRecipients", f"At least one recipient is not valid., {e}")
        return Response(202)

    # $batch ----------------------------------------------------------------------------------------

    def batch(self, body: bytes) -> Response:
        """JSON batching as Microsoft documents it: each request answered with its own id, status,
        headers and body (non-JSON bodies base64); the batch itself answers 200. Without dependsOn
        Graph gives no order: up to four requests run at once (as Graph dispatches them to Outlook)
        and the answers come in the order they finish, so clients must match them by id."""
        try:
            requests = json.loads(body)["requests"]
            assert isinstance(requests, list) and all(isinstance(r, dict) for r in requests)
        except Exception:
            raise GraphError(400, "BadRequest", "Invalid batch payload format.")
        if len(requests) > MAX_BATCH:
            raise GraphError(400, "BadRequest", f"Limit of {MAX_BATCH} requests exceeded.")
        ids = [r.get("id") for r in requests]
        if any(not isinstance(i, str) or not i for i in ids) or len(set(ids)) != len(ids):
            raise GraphError(400, "BadRequest", "Batch requests need unique, non-empty string ids.")
        if any("dependsOn" in r for r in requests):
            raise GraphError(400, "BadRequest", "dependsOn is not supported by this test server.")
        results = []
        lock = threading.Lock()
        inner = []

        def run(r):
            url = urllib.parse.urlsplit(r.get("url", ""))
            path = urllib.parse.unquote(url.path)
            if path.startswith("/v1.0"):
                path = path[len("/v1.0"):]
            if not path.startswith("/"):
                path = "/" + path
            query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            sub_headers = {k: v for k, v in (r.get("headers") or {}).items()}
            raw = r.get("body")
            if isinstance(raw, (dict, list)):
                data = json.dumps(raw).encode()
            elif isinstance(raw, str):
                data = raw.encode()
            else:
                data = b""
            method = str(r.get("method", "GET")).upper()
            api = GraphAPI(self.h, self.principal, self.base)
            answer = api.route(method, path, query, _Headers(sub_headers), data, in_batch=True)
            entry = {"id": r["id"], "status": answer.status,
                     "headers": {"Content-Type": answer.content_type, **answer.headers} if answer.body is not None else answer.headers}
            if isinstance(answer.body, bytes):
                entry["body"] = base64.b64encode(answer.body).decode()
            elif answer.body is not None:
                entry["body"] = answer.body
            with lock:
                results.append(entry)
                inner.append({"method": method, "path": "/v1.0" + path, "operation": operation_name(method, path),
                              "status": answer.status, "mime": answer.mime})

        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            for future in [pool.submit(run, r) for r in requests]:
                future.result()
        answer = Response(200, {"responses": results})
        answer.inner = inner
        return answer

class _Number:
    """An item that no longer exists, for its id in a delta's @removed entry."""
    def __init__(self, number):
        self.number = number


class _Headers(dict):
    def get(self, key, default=None):
        for k, v in self.items():
            if k.lower() == key.lower():
                return v
        return default


def decode_folder(key: str):
    from .store import decode_id
    return decode_id(key, "folder")


def split_list(text: str | None) -> list[str] | None:
    return [s.strip() for s in text.split(",") if s.strip()] if text else None


def parse_date(text: str) -> dt.datetime:
    import email.utils
    return email.utils.parsedate_to_datetime(text)


def operation_name(method: str, path: str) -> str:
    if path.startswith("/v1.0/"):
        path = path[len("/v1.0"):]
    if path.endswith("/delta") or path.endswith("/delta()"):
        return "delta"
    if path.endswith("/$value"):
        return "mime"
    if path.endswith("/sendMail"):
        return "sendMail"
    if path == "/$batch":
        return "batch"
    if path.startswith("/subscriptions"):
        return "subscriptions"
    if path.endswith("/move"):
        return "move"
    if method == "DELETE" or path.endswith("/permanentDelete"):
        return "delete"
    if "/messages" in path:
        return "messages"
    return "folders"


def unauthorized(request_id: str, message: str) -> Response:
    return Response(401, error_body("InvalidAuthenticationToken", message, request_id),
                    headers={"WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"'})


class GraphHandler(Handler):
    server_name = "graph"

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method: str):
        started = time.monotonic()
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        self.status_sent = None
        if path.startswith("/_control"):
            self.handle_control(method, path[len("/_control"):], query)
            return
        if self.ctx.extra.get("latency"):
            time.sleep(self.ctx.extra["latency"])
        request_id = self.headers.get("client-request-id") or str(uuid.uuid4())
        try:
            body = self.read_body()
        except ValueError as e:
            self.send_json(413, error_body("RequestEntityTooLarge", str(e), request_id))
            return
        if not path.startswith("/v1.0/") and path != "/v1.0":
            answer = Response(400, error_body("BadRequest", f"Invalid version: {path.strip('/').split('/')[0]}", request_id))
        else:
            principal, reason = self.bearer()
            if principal is None:
                answer = unauthorized(request_id, reason)
            else:
                api = GraphAPI(self, principal, f"https://{self.headers.get('Host', 'localhost')}/v1.0")
                api.request_id = request_id
                answer = api.route(method, path[len("/v1.0"):] or "/", query, self.headers, body)
                if answer.mime:
                    truncate = self.ctx.faults.take("graph", "mime", path, kinds={"truncate"}, concerns=api.concerns)
                    answer.truncate = truncate is not None
                inner = getattr(answer, "inner", None)
                if inner and any(i["mime"] for i in inner):
                    # A batch carrying MIME is cut like a download, by a truncate fault on "mime"
                    # scoped to a mailbox one of its downloads concerns.
                    paths = [i["path"].lower() + "/" for i in inner if i["mime"]]
                    truncate = self.ctx.faults.take("graph", "mime", " ".join(paths), kinds={"truncate"},
                                                    concerns=lambda address: any(f"/users/{address}/" in p for p in paths))
                    answer.truncate = truncate is not None
        operation = operation_name(method, path)
        if answer.status == -1:
            self.disconnect()
        else:
            headers = {"request-id": request_id, "client-request-id": request_id, **answer.headers}
            self.send(answer.status, answer.payload(), answer.content_type if answer.body is not None else "text/plain",
                      headers, truncate=getattr(answer, "truncate", False))
        entry = {"server": "graph", "method": method, "path": path, "operation": operation,
                 "status": answer.status, "ms": int((time.monotonic() - started) * 1000)}
        if getattr(answer, "inner", None):
            entry["requests"] = [{k: v for k, v in i.items() if k != "mime"} for i in answer.inner]
        self.ctx.record(entry)
