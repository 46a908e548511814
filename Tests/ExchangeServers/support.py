"""Plain HTTP access to the servers for the checks: control calls, Graph requests and EWS SOAP."""
from __future__ import annotations

import base64
import http.client
import json
import ssl
import urllib.parse
import xml.etree.ElementTree as ET

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def xml(self):
        return ET.fromstring(self.body)


class Servers:
    def __init__(self, env):
        self.graph_url = env["MAILROOM_TEST_GRAPH_URL"].rstrip("/")
        self.ews_url = env["MAILROOM_TEST_EWS_URL"]
        self.controls = {"graph": env["MAILROOM_TEST_GRAPH_CONTROL_URL"].rstrip("/"),
                         "ews": env["MAILROOM_TEST_EWS_CONTROL_URL"].rstrip("/")}
        self.token = env["MAILROOM_TEST_EXCHANGE_TOKEN"]
        self.password = env["MAILROOM_TEST_EXCHANGE_PASSWORD"]
        self.domain = env.get("MAILROOM_TEST_EXCHANGE_DOMAIN", "exchange.test")
        self.ca = env["MAILROOM_TEST_EXCHANGE_CA"]
        self.ssl = ssl.create_default_context(cafile=self.ca)

    def request(self, method, url, body=None, headers=None, timeout=60) -> Reply:
        parts = urllib.parse.urlsplit(url)
        conn = http.client.HTTPSConnection(parts.hostname, parts.port, context=self.ssl, timeout=timeout)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = dict(headers or {}, **{"Content-Type": "application/json"})
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            conn.close()

    def control(self, server, method, path, body=None):
        reply = self.request(method, self.controls[server] + path, body if body is not None else ({} if method == "POST" else None))
        assert reply.status == 200, reply.body
        return reply.json() if reply.headers.get("Content-Type", "").startswith("application/json") else reply.body

    def add_message(self, address, **fields):
        return self.control("graph", "POST", f"/mailboxes/{address}/messages", fields)

    def messages(self, address, folder="inbox"):
        return self.control("graph", "GET", f"/mailboxes/{address}/messages?folder={folder}")["messages"]

    def fault(self, server, **fault):
        return self.control(server, "POST", "/faults", fault)

    def graph(self, method, path, body=None, headers=None, token=None) -> Reply:
        url = path if path.startswith("https://") else self.graph_url + path
        headers = dict(headers or {}, Authorization=f"Bearer {token or self.token}")
        return self.request(method, url, body, headers)

    def ews(self, operation_xml: str, user: str | None = None, password: str | None = None, bearer: str | None = None,
            header: str = "") -> Reply:
        envelope = (f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP}" xmlns:m="{M}" xmlns:t="{T}">'
                    f'<s:Header><t:RequestServerVersion Version="Exchange2016"/>{header}</s:Header>'
                    f"<s:Body>{operation_xml}</s:Body></s:Envelope>").encode()
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        elif user:
            pair = f"{user}:{self.password if password is None else password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        return self.request("POST", self.ews_url, envelope, headers)


def find(el, path):
    """ElementTree find with m: and t: prefixes."""
    return el.find(path.replace("m:", f"{{{M}}}").replace("t:", f"{{{T}}}").replace("s:", f"{{{SOAP}}}"))


def findall(el, path):
    return el.findall(path.replace("m:", f"{{{M}}}").replace("t:", f"{{{T}}}").replace("s:", f"{{{SOAP}}}"))
