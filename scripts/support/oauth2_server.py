"""A local OAuth 2.0 authorization server for Mailroom's tests, built on Authlib.

Started by scripts/services/oauth2 on loopback. What it does, and refuses, is what a real provider
does: authorization code with PKCE (RFC 7636, required for every client), refresh tokens (rotated
on every use when configured, the old one then revoked), introspection (RFC 7662, for Dovecot's
oauth2 passdb), revocation (RFC 7009), user info, and an ID token (HS256 under the client secret)
with the signed-in address. A consent page that a browser can submit stands in for the sign-in.

Endpoints under /control/ are for tests only: register a redirect URI, change the lifetimes and
the rotation (for everyone, or for one user's address so that tests running at the same time do
not disturb each other), revoke or expire a user's tokens, make the next authorization fail, take
the token endpoint down, and count the token requests.

Everything is kept in memory: a restart forgets every grant, as a test wants.
"""

import argparse
import base64
import hashlib
import hmac
import html
import json
import threading
import time

from flask import Flask, Response, g, has_request_context, jsonify, redirect, request

from authlib.common.security import generate_token
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

LOCK = threading.RLock()


class Config:
    access_token_seconds = 3600
    rotate_refresh_tokens = True
    omit_refresh_token = False
    next_authorize_error = None
    token_endpoint_down = False
    # Seconds the token endpoint waits before it answers (to make two refreshes overlap).
    token_delay = 0.0


CONFIG = Config()
# Settings for one user (by address), over CONFIG: tests that run at the same time each change
# only their own user's behaviour.
USER_CONFIG = {}


def conf(attribute):
    email = g.get("email") if has_request_context() else None
    with LOCK:
        return USER_CONFIG.get(email, {}).get(attribute, getattr(CONFIG, attribute))
STATS = {"authorization_code": 0, "refresh_token": 0, "refused": 0}
STATS_BY_USER = {}


class Client(ClientMixin):
    def __init__(self, client_id, client_secret, scopes):
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = set()
        self.scopes = set(scopes)

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        if not scope:
            return ""
        return " ".join(s for s in scope_to_list(scope) if s in self.scopes)

    def check_redirect_uri(self, redirect_uri):
        with LOCK:
            return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in ("authorization_code", "refresh_token")


class User:
    def __init__(self, email):
        self.email = email

    def get_user_id(self):
        return self.email


class AuthorizationCode:
    def __init__(self, code, client_id, redirect_uri, scope, user, challenge, method, nonce):
        self.code = code
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.scope = scope
        self.user = user
        self.code_challenge = challenge
        self.code_challenge_method = method
        self.nonce = nonce
        self.expires_at = time.time() + 300

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return None


class Token:
    def __init__(self, client_id, user, scope, access_token, refresh_token, expires_in):
        self.client_id = client_id
        self.user = user
        self.scope = scope
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.issued_at = time.time()
        self.expires_in = expires_in
        self.access_revoked = False
        self.refresh_revoked = False

    def check_client(self, client):
        return client.get_client_id() == self.client_id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self):
        return self.access_revoked

    def get_user(self):
        return self.user

    def get_client(self):
        return CLIENTS.get(self.client_id)


CLIENTS = {}
CODES = {}
TOKENS = []


def find_token(access=None, refresh=None):
    with LOCK:
        for token in TOKENS:
            if access is not None and token.access_token == access:
                return token
            if refresh is not None and token.refresh_token == refresh:
                return token
    return None


def save_token(token, oauth_request):
    with LOCK:
        omit = conf("omit_refresh_token")
        refresh = None if omit else token.get("refresh_token")
        if omit:
            token.pop("refresh_token", None)
        previous = getattr(oauth_request, "refresh_token", None)
        if refresh is None and previous is not None and not omit:
            # Not rotating: the refresh token in use stays valid, on the new record.
            refresh = previous.refresh_token
            previous.refresh_token = None
        TOKENS.append(Token(oauth_request.client.get_client_id(), oauth_request.user, token.get("scope", ""),
                            token["access_token"], refresh, token.get("expires_in", conf("access_token_seconds"))))


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def save_authorization_code(self, code, oauth_request):
        payload = oauth_request.payload
        with LOCK:
            CODES[code] = AuthorizationCode(code, oauth_request.client.get_client_id(), payload.redirect_uri,
                                            payload.scope, oauth_request.user, payload.data.get("code_challenge"),
                                            payload.data.get("code_challenge_method"), payload.data.get("nonce"))

    def query_authorization_code(self, code, client):
        with LOCK:
            item = CODES.get(code)
        if item and item.client_id == client.get_client_id() and time.time() < item.expires_at:
            return item
        return None

    def delete_authorization_code(self, authorization_code):
        with LOCK:
            CODES.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code):
        return authorization_code.user


class RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    @property
    def INCLUDE_NEW_REFRESH_TOKEN(self):  # noqa: N802 (Authlib's name)
        return conf("rotate_refresh_tokens") and not conf("omit_refresh_token")

    def authenticate_refresh_token(self, refresh_token):
        token = find_token(refresh=refresh_token)
        if token and not token.refresh_revoked:
            return token
        return None

    def authenticate_user(self, refresh_token):
        return refresh_token.user

    def revoke_old_credential(self, refresh_token):
        # The old access token stays valid until it expires, as at Microsoft and Google.
        with LOCK:
            if conf("rotate_refresh_tokens") and not conf("omit_refresh_token"):
                refresh_token.refresh_revoked = True


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string, token_type_hint):
        if token_type_hint == "refresh_token":
            return find_token(refresh=token_string)
        return find_token(access=token_string) or find_token(refresh=token_string)

    def check_permission(self, token, client, oauth_request):
        return True

    def introspect_token(self, token):
        return {
            "active": True,
            "client_id": token.client_id,
            "token_type": "Bearer",
            "username": token.user.email,
            "email": token.user.email,
            "scope": token.scope,
            "sub": token.user.email,
            "exp": int(token.issued_at + token.expires_in),
            "iat": int(token.issued_at),
        }


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string, token_type_hint):
        return find_token(access=token_string) or find_token(refresh=token_string)

    def revoke_token(self, token, oauth_request):
        with LOCK:
            token.access_revoked = True
            token.refresh_revoked = True


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def id_token(client, user, nonce, issuer):
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    now = int(time.time())
    claims = {"iss": issuer, "sub": user.email, "aud": client.client_id, "iat": now, "exp": now + 3600,
              "email": user.email, "preferred_username": user.email}
    if nonce:
        claims["nonce"] = nonce
    body = b64url(json.dumps(claims).encode())
    signature = hmac.new(client.client_secret.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64url(signature)}"


def make_app(client_id, client_secret, scopes):
    app = Flask(__name__)
    app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True
    app.config["OAUTH2_SCOPES_SUPPORTED"] = scopes
    CLIENTS[client_id] = Client(client_id, client_secret, scopes)

    def expires_in(client, grant_type):
        return conf("access_token_seconds")

    server = AuthorizationServer(app, query_client=CLIENTS.get, save_token=save_token)
    server.register_token_generator("default", BearerTokenGenerator(
        lambda *a, **k: generate_token(42), lambda *a, **k: generate_token(48), expires_in))

    def add_id_token(grant, result):
        status, body, _ = result
        if status == 200 and "openid" in scope_to_list(body.get("scope", "")) and grant.GRANT_TYPE == "authorization_code":
            code = grant.request.authorization_code
            body["id_token"] = id_token(grant.request.client, grant.request.user, code.nonce, request.host_url.rstrip("/"))

    code_grant_hooks = [CodeChallenge(required=True)]
    server.register_grant(CodeGrant, code_grant_hooks)
    server.register_grant(RefreshGrant)
    server.register_endpoint(Introspection)
    server.register_endpoint(Revocation)

    # Authlib registers grant classes; the ID token is added on every code grant it makes.
    original = server.get_token_grant

    def get_token_grant(oauth_request):
        grant = original(oauth_request)
        if isinstance(grant, CodeGrant):
            grant.register_hook("after_create_token_response", add_id_token)
        return grant

    server.get_token_grant = get_token_grant

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize():
        with LOCK:
            forced, CONFIG.next_authorize_error = CONFIG.next_authorize_error, None
        if not request.values.get("code_challenge"):
            return Response("PKCE is required: send code_challenge and code_challenge_method=S256\n", status=400)
        if request.method == "GET":
            try:
                grant = server.get_consent_grant(end_user=None)
            except Exception as error:  # an invalid request is shown, not redirected (RFC 6749 4.1.2.1)
                return Response(f"invalid authorization request: {html.escape(str(error))}\n", status=400)
            hint = html.escape(request.args.get("login_hint", ""))
            scope = html.escape(grant.request.payload.scope or "")
            if forced:
                with LOCK:
                    CONFIG.next_authorize_error = forced
            return Response(f"""<!doctype html><html><head><title>Local provider: consent</title></head><body>
<h1>Local provider</h1><p>{html.escape(grant.client.client_id)} asks for: <code>{scope}</code></p>
<form method="post" id="consent"><label>Signed in as <input name="email" id="email" value="{hint}"></label>
<button type="submit" name="decision" value="allow" id="allow">Allow</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button></form></body></html>""",
                            mimetype="text/html")
        grant = server.get_consent_grant(end_user=None)
        redirect_uri = grant.request.payload.redirect_uri
        state = grant.request.payload.state
        if forced:
            params = {"error": forced, "error_description": f"the test asked for {forced}"}
            if state:
                params["state"] = state
            from authlib.common.urls import add_params_to_uri
            return redirect(add_params_to_uri(redirect_uri, list(params.items())), code=302)
        email = request.form.get("email", "").strip()
        if request.form.get("decision") != "allow" or not email:
            return server.create_authorization_response(grant_user=None, grant=grant)
        return server.create_authorization_response(grant_user=User(email), grant=grant)

    @app.route("/token", methods=["POST"])
    def token():
        # Whose token this is, for the per-user settings.
        if request.form.get("grant_type") == "refresh_token":
            item = find_token(refresh=request.form.get("refresh_token", ""))
            g.email = item.user.email if item else None
        else:
            with LOCK:
                code = CODES.get(request.form.get("code", ""))
            g.email = code.user.email if code else None
        if conf("token_delay"):
            time.sleep(conf("token_delay"))
        if conf("token_endpoint_down"):
            return Response("down for a test\n", status=503)
        grant_type = request.form.get("grant_type", "")
        response = server.create_token_response()
        with LOCK:
            mine = STATS_BY_USER.setdefault(g.email, {"authorization_code": 0, "refresh_token": 0, "refused": 0})
            for counts in (STATS, mine):
                if response.status_code == 200 and grant_type in counts:
                    counts[grant_type] += 1
                elif response.status_code != 200:
                    counts["refused"] += 1
        return response

    @app.route("/introspect", methods=["POST"])
    def introspect():
        return server.create_endpoint_response(Introspection.ENDPOINT_NAME)

    @app.route("/revoke", methods=["POST"])
    def revoke():
        return server.create_endpoint_response(Revocation.ENDPOINT_NAME)

    @app.route("/userinfo", methods=["GET", "POST"])
    def userinfo():
        header = request.headers.get("Authorization", "")
        item = find_token(access=header[7:]) if header.startswith("Bearer ") else None
        if not item or item.is_expired() or item.is_revoked():
            return Response('{"error":"invalid_token"}', status=401, mimetype="application/json",
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return jsonify({"sub": item.user.email, "email": item.user.email})

    @app.route("/control/redirect-uris", methods=["POST"])
    def add_redirect_uri():
        uri = request.get_json(force=True).get("uri", "")
        with LOCK:
            CLIENTS[client_id].redirect_uris.add(uri)
        return jsonify({"ok": True})

    @app.route("/control/config", methods=["POST"])
    def set_config():
        body = request.get_json(force=True)
        with LOCK:
            target = CONFIG
            if body.get("email"):
                target = USER_CONFIG.setdefault(body["email"], {})
            for key, attribute in (("accessTokenSeconds", "access_token_seconds"),
                                   ("rotateRefreshTokens", "rotate_refresh_tokens"),
                                   ("omitRefreshToken", "omit_refresh_token"),
                                   ("nextAuthorizeError", "next_authorize_error"),
                                   ("tokenEndpointDown", "token_endpoint_down"),
                                   ("tokenDelaySeconds", "token_delay")):
                if key in body:
                    if isinstance(target, dict):
                        target[attribute] = body[key]
                    else:
                        setattr(target, attribute, body[key])
        return jsonify({"ok": True})

    @app.route("/control/revoke", methods=["POST"])
    def control_revoke():
        email = request.get_json(force=True).get("email", "")
        count = 0
        with LOCK:
            for item in TOKENS:
                if item.user.email == email:
                    item.access_revoked = item.refresh_revoked = True
                    count += 1
        return jsonify({"revoked": count})

    @app.route("/control/expire", methods=["POST"])
    def control_expire():
        email = request.get_json(force=True).get("email", "")
        count = 0
        with LOCK:
            for item in TOKENS:
                if item.user.email == email:
                    item.expires_in = 0
                    count += 1
        return jsonify({"expired": count})

    @app.route("/control/issue", methods=["POST"])
    def control_issue():
        # A grant without the browser: for tests of the IMAP/POP3 login alone.
        body = request.get_json(force=True)
        user = User(body.get("email", ""))
        with LOCK:
            item = Token(client_id, user, body.get("scope", " ".join(scopes)), generate_token(42), generate_token(48),
                         body.get("expiresIn", CONFIG.access_token_seconds))
            TOKENS.append(item)
        return jsonify({"access_token": item.access_token, "refresh_token": item.refresh_token,
                        "expires_in": item.expires_in})

    @app.route("/control/stats", methods=["GET", "POST"])
    def stats():
        email = request.args.get("email")
        with LOCK:
            if request.method == "POST":
                for key in STATS:
                    STATS[key] = 0
                STATS_BY_USER.clear()
            if email:
                return jsonify(dict(STATS_BY_USER.get(email, {"authorization_code": 0, "refresh_token": 0, "refused": 0})))
            return jsonify(dict(STATS))

    @app.route("/healthz")
    def healthz():
        return jsonify({"ok": True})

    return app


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--scopes", default="openid email offline_access mail")
    args = parser.parse_args()
    app = make_app(args.client_id, args.client_secret, args.scopes.split())
    app.run(host="127.0.0.1", port=args.port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
