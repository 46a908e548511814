"""HTTP plumbing both servers share: TLS listener, request reading, authentication, the fault
switches the control API sets, and a log of recent requests for tests to count round trips."""
from __future__ import annotations

import base64
import collections
import http.server
import json
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass

from .store import Store

MAX_BODY = 200 * 1024 * 1024  # a 50 MB message travels base64-encoded inside XML or JSON


@dataclass
class Principal:
    """Who a request runs as. An application token (the static one) reaches every mailbox; a user
    (Basic, or a token issued for a user) reaches its own mailbox and the shared ones."""
    user: str | None  # None: application permissions

    def may_open(self, box) -> bool:
        return self.user is None or box.shared or box.address == self.user


class Faults:
    """Failures switched on through the control API, consumed in the order they were added.

    A fault: {"kind": ..., "server": "graph"|"ews"|None, "match": operation name or path part,
    "count": how many requests it hits, plus kind-specific values}. See README.md for the kinds.
    """

    # Kinds that only hit a response carrying MIME, or a request that reads one item.
    MIME_KINDS = {"truncate"}
    ITEM_KINDS = {"vanish"}

    def __init__(self):
        self.lock = threading.Lock()
        self.items: list[dict] = []

    def add(self, fault: dict) -> dict:
        fault = dict(fault)
        fault["count"] = int(fault.get("count", 1))
        with self.lock:
            self.items.append(fault)
        return fault

    def clear(self, mailbox: str | None = None):
        with self.lock:
            if mailbox:
                self.items = [f for f in self.items if str(f.get("mailbox", "")).lower() != mailbox.lower()]
            else:
                self.items.clear()

    def take(self, server: str, operation: str, path: str, kinds: set[str] | None = None,
             exclude: set[str] | None = None, concerns=None) -> dict | None:
        """The first armed fault this request matches. A fault with "mailbox" only hits requests
        that concern that mailbox (`concerns(address)`), so parallel tests never hit each
        other's faults."""
        with self.lock:
            for fault in self.items:
                if fault.get("server") not in (None, server):
                    continue
                kind = fault.get("kind")
                if kinds is not None and kind not in kinds:
                    continue
                if exclude is not None and kind in exclude:
                    continue
                match = fault.get("match")
                if match and match != operation and match not in path:
                    continue
                scope = fault.get("mailbox")
                if scope and (concerns is None or not concerns(str(scope).lower())):
                    continue
                fault["count"] -= 1
                if fault["count"] <= 0:
                    self.items.remove(fault)
                return dict(fault)
        return None


class Tokens:
    """Bearer tokens: the configured static token, tokens issued through the control API (with an
    expiry, optionally for one user), and, when configured, RFC 7662 introspection."""

    def __init__(self, static: str, introspection_url: str | None, client_id: str | None,
                 client_secret: str | None, cafile: str | None):
        self.static = static
        self.issued: dict[str, tuple[float, str | None]] = {}
        self.revoked: set[str] = set()
        self.introspection_url = introspection_url
        self.client = (client_id, client_secret)
        self.context = ssl.create_default_context(cafile=cafile) if cafile else ssl.create_default_context()
        self.lock = threading.Lock()

    def issue(self, expires_in: float, user: str | None) -> str:
        token = "issued-" + base64.urlsafe_b64encode(threading.get_ident().to_bytes(8, "big") +
                                                    time.time_ns().to_bytes(8, "big")).decode().rstrip("=")
        with self.lock:
            self.issued[token] = (time.time() + expires_in, user)
        return token

    def expire(self, token: str | None):
        with self.lock:
            if token:
                self.revoked.add(token)
                if token in self.issued:
                    self.issued[token] = (0, self.issued[token][1])
            else:
                self.issued = {t: (0, u) for t, (_, u) in self.issued.items()}

    def check(self, token: str) -> tuple[Principal | None, str]:
        """A principal, or None and the reason Graph would give."""
        if not token:
            return None, "Access token is empty."
        with self.lock:
            if token in self.revoked:
                return None, "Access token has expired or is not yet valid."
            if token == self.static:
                return Principal(None), ""
            if token in self.issued:
                expires, user = self.issued[token]
                if expires < time.time():
                    return None, "Access token has expired or is not yet valid."
                return Principal(user), ""
        if self.introspection_url:
            return self._introspect(token)
        return None, "IDX14100: JWT is not well formed."

    def _introspect(self, token: str) -> tuple[Principal | None, str]:
        data = urllib.parse.urlencode({"token": token, "token_type_hint": "access_token"}).encode()
        request = urllib.request.Request(self.introspection_url, data=data, method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded",
                                                  "Accept": "application/json"})
        if self.client[0]:
            pair = f"{urllib.parse.quote(self.client[0])}:{urllib.parse.quote(self.client[1] or '')}"
            request.add_header("Authorization", "Basic " + base64.b64encode(pair.encode()).decode())
        try:
            with urllib.request.urlopen(request, timeout=10, context=self.context) as response:
                answer = json.loads(response.read() or b"{}")
        except Exception:
            return None, "Access token validation failure."
        if not answer.get("active"):
            return None, "Access token has expired or is not yet valid."
        if "exp" in answer and float(answer["exp"]) < time.time():
            return None, "Access token has expired or is not yet valid."
        # A user token names its mailbox in "username" (or an e-mail-shaped "sub"); else app-only.
        user = answer.get("username") or (answer.get("sub") if "@" in str(answer.get("sub", "")) else None)
        return Principal(user.lower() if user else None), ""


class Context:
    """What every handler needs: the store, the switches and the credentials."""

    def __init__(self, store: Store, tokens: Tokens, password: str):
        self.store = store
        self.tokens = tokens
        self.password = password
        self.faults = Faults()
        self.requests = collections.deque(maxlen=2000)
        self.request_lock = threading.Lock()
        self.request_counter = 0
        self.extra = {}

    def record(self, entry: dict):
        with self.request_lock:
            self.request_counter += 1
            entry["n"] = self.request_counter
            self.requests.append(entry)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, handler, context: Context, ssl_context: ssl.SSLContext | None):
        super().__init__(address, handler)
        self.context = context
        self.ssl_context = ssl_context

    def get_request(self):
        sock, addr = super().get_request()
        # Headers and body go out in separate writes; without this, Nagle and the client's delayed
        # ACK hold every answer back 40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context is not None:
            # The handshake runs in the handler's thread (do_handshake_on_connect=False), so a
            # client that connects and says nothing cannot stall the accept loop.
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_name = "?"  # "graph" or "ews"
    timeout = 300

    def log_message(self, format, *args):  # the request log replaces stderr noise
        pass

    def setup(self):
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                self.connection.settimeout(30)
                self.connection.do_handshake()
                self.connection.settimeout(None)
            except (ssl.SSLError, OSError):
                self.close_connection = True
                raise

    @property
    def ctx(self) -> Context:
        return self.server.context

    # Reading ---------------------------------------------------------------------------------

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(100)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1000) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise ValueError("request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(10)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    # Writing ---------------------------------------------------------------------------------

    def send(self, status: int, body: bytes, content_type: str, headers: dict | None = None,
             truncate: bool = False):
        """Writes a whole response; `truncate` promises the full length and closes halfway, as a
        dropped connection does mid-download."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body[: len(body) // 2] if truncate else body)
        if truncate:
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.status_sent = status

    def send_json(self, status: int, value, headers: dict | None = None):
        self.send(status, json.dumps(value).encode(), "application/json", headers)

    def disconnect(self):
        """Closes without a response, as a reset connection looks to a client."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.status_sent = 0

    # Authentication ------------------------------------------------------------------------------

    def authorization(self) -> tuple[str, str]:
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        return scheme.lower(), value.strip()

    def bearer(self) -> tuple[Principal | None, str]:
        scheme, value = self.authorization()
        if scheme != "bearer":
            return None, "Access token is empty."
        return self.ctx.tokens.check(value)

    def basic(self) -> Principal | None:
        """Any user mailbox at the server's domain with the one password, like the Dovecot server;
        shared mailboxes cannot log in (their accounts are disabled in Exchange)."""
        scheme, value = self.authorization()
        if scheme != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except Exception:
            return None
        user = user.split("\\")[-1].strip().lower()
        if password != self.ctx.password or not user:
            return None
        store = self.ctx.store
        if "@" not in user:
            user = f"{user}@{store.domain}"
        try:
            box = store.mailbox(user)
        except Exception:
            return None
        if box.shared:
            return None
        return Principal(user)

    # Control ---------------------------------------------------------------------------------------

    def handle_control(self, method: str, path: str, query: dict):
        from . import control

        try:
            body = self.read_body()
            status, value, content_type = control.dispatch(self, method, path, query, body)
        except control.ControlError as e:
            status, value, content_type = e.status, {"error": str(e)}, "application/json"
        except Exception as e:  # a broken control call must say why, not kill the thread
            status, value, content_type = 500, {"error": f"{type(e).__name__}: {e}"}, "application/json"
        if content_type == "application/json":
            self.send_json(status, value)
        else:
            self.send(status, value, content_type)


def make_ssl_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context
