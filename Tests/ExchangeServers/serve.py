#!/usr/bin/env python3
"""Starts the Graph and EWS test servers over one shared mailbox store, on loopback HTTPS.

    serve.py --cert CERT --key KEY --token TOKEN --password PASSWORD --ready-file FILE

Ports are chosen by the system (port 0) unless given; when both listen, FILE receives
{"graph": port, "ews": port, "pid": pid} as JSON. RFC 7662 introspection of bearer tokens that
are neither the static token nor issued by the control API: MAILROOM_TEST_EXCHANGE_INTROSPECTION_URL
(with _CLIENT_ID and _CLIENT_SECRET for the introspection endpoint's own Basic authentication,
and _CA for its certificate)."""
import argparse
import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from exchangeserver.autodiscover import Redirections  # noqa: E402
from exchangeserver.ews import EWSHandler  # noqa: E402
from exchangeserver.ews_stream import Streams  # noqa: E402
from exchangeserver.graph import GraphHandler  # noqa: E402
from exchangeserver.graph_notify import Subscriptions  # noqa: E402
from exchangeserver.httpbase import Context, Server, Tokens, make_ssl_context  # noqa: E402
from exchangeserver.store import Store  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--graph-port", type=int, default=0)
    parser.add_argument("--ews-port", type=int, default=0)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--domain", default="exchange.test")
    parser.add_argument("--ready-file")
    args = parser.parse_args()

    env = os.environ.get
    store = Store(args.domain)
    tokens = Tokens(args.token, env("MAILROOM_TEST_EXCHANGE_INTROSPECTION_URL"),
                    env("MAILROOM_TEST_EXCHANGE_INTROSPECTION_CLIENT_ID"),
                    env("MAILROOM_TEST_EXCHANGE_INTROSPECTION_CLIENT_SECRET"),
                    env("MAILROOM_TEST_EXCHANGE_INTROSPECTION_CA"))
    ssl_context = make_ssl_context(args.cert, args.key)
    servers = {}
    for name, handler, port in (("graph", GraphHandler, args.graph_port), ("ews", EWSHandler, args.ews_port)):
        # One context per server (its own faults and request log) over the one store.
        context = Context(store, tokens, args.password)
        servers[name] = Server((args.host, port), handler, context, ssl_context)
    subscriptions, streams = Subscriptions(store), Streams(store)
    autodiscover_redirections = Redirections()
    for server in servers.values():
        server.context.extra.update(subscriptions=subscriptions, streams=streams, autodiscover=autodiscover_redirections)
    # Faults are per server, but a control call may name the other server; share one switchboard.
    servers["ews"].context.faults = servers["graph"].context.faults
    for server in servers.values():
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ready = {name: s.server_address[1] for name, s in servers.items()}
    ready["pid"] = os.getpid()
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w") as f:
            json.dump(ready, f)
        os.replace(args.ready_file + ".tmp", args.ready_file)
    print(json.dumps(ready), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
