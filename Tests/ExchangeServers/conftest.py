"""The servers under test: the ones scripts/services/exchange started (MAILROOM_TEST_* variables),
or, when those are absent, a pair this session starts itself with a throwaway certificate, so
`python -m pytest Tests/ExchangeServers` works on its own too."""
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import support  # noqa: E402


def _start_own():
    state = tempfile.mkdtemp(prefix="exchange-servers-")
    subprocess.run([os.path.join(HERE, "make-cert.sh"), state], check=True, stdout=subprocess.DEVNULL)
    token, password = "static-" + secrets.token_hex(8), "pw-" + secrets.token_hex(6)
    ready = os.path.join(state, "ready.json")
    process = subprocess.Popen([sys.executable, os.path.join(HERE, "serve.py"), "--cert", f"{state}/cert.pem",
                                "--key", f"{state}/key.pem", "--token", token, "--password", password,
                                "--ready-file", ready], stdout=subprocess.DEVNULL)
    for _ in range(100):
        if os.path.exists(ready):
            break
        time.sleep(0.1)
    ports = json.load(open(ready))
    env = {
        "MAILROOM_TEST_GRAPH_URL": f"https://127.0.0.1:{ports['graph']}/v1.0",
        "MAILROOM_TEST_GRAPH_CONTROL_URL": f"https://127.0.0.1:{ports['graph']}/_control",
        "MAILROOM_TEST_EWS_URL": f"https://127.0.0.1:{ports['ews']}/EWS/Exchange.asmx",
        "MAILROOM_TEST_EWS_CONTROL_URL": f"https://127.0.0.1:{ports['ews']}/_control",
        "MAILROOM_TEST_EXCHANGE_TOKEN": token,
        "MAILROOM_TEST_EXCHANGE_PASSWORD": password,
        "MAILROOM_TEST_EXCHANGE_DOMAIN": "exchange.test",
        "MAILROOM_TEST_EXCHANGE_CA": f"{state}/ca.pem",
    }
    return env, process


@pytest.fixture(scope="session")
def servers():
    process = None
    if os.environ.get("MAILROOM_TEST_GRAPH_URL") and os.environ.get("MAILROOM_TEST_EWS_URL"):
        env = os.environ
    else:
        env, process = _start_own()
    yield support.Servers(env)
    if process is not None:
        process.terminate()


@pytest.fixture
def mailbox(servers):
    """A fresh user mailbox, so tests never share state and may run in any order."""
    return f"user-{uuid.uuid4().hex[:12]}@{servers.domain}"


@pytest.fixture(autouse=True)
def no_leftover_faults(servers, mailbox):
    yield
    # Faults are scoped to the test's mailbox, so tests running beside these (Swift tests against
    # the same servers) never meet them; one armed but unused is cleared here.
    servers.control("graph", "DELETE", f"/faults?mailbox={mailbox}")
