"""Fake GitHub and Facebook on loopback, answering the way the real ones do.

Each serves the authorization page (which consents at once, or refuses when ``consent`` is
false), the token endpoint (which checks the client's credentials, the code, the redirect URI
and the PKCE verifier) and the user API the sign-in reads:

    with FakeGitHub() as github:
        github.user = {"id": 583231, "login": "octocat", "name": None, "email": None}
        github.emails = [{"email": "octo@example.com", "primary": True, "verified": True}]
        settings = ... github_base_url=github.base_url, github_api_base_url=github.api_url
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.integration.loopback import LoopbackServer

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"


@dataclass(frozen=True)
class _Grant:
    redirect_uri: str
    code_challenge: str


class FakeOAuthServer:
    """What GitHub and Facebook have in common; subclasses name the paths and the user API."""

    authorize_path = ""
    token_path = ""

    def __init__(self) -> None:
        self.reset()
        self._grants: dict[str, _Grant] = {}
        self._tokens: set[str] = set()
        self._closing = threading.Event()
        self._server = LoopbackServer(self, _Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def reset(self) -> None:
        """Back to a person who consents and an API that answers at once."""
        self.consent = True
        self.api_delay = 0.0
        self.token_requests: list[dict[str, str]] = []

    def authorize(self, query: dict[str, str]) -> str:
        """Where the person's browser goes next: back to the client, with a code or an error."""
        assert query["client_id"] == CLIENT_ID
        assert query["response_type"] == "code"
        assert query["code_challenge_method"] == "S256"
        answer = {"state": query["state"]}
        if self.consent:
            code = secrets.token_urlsafe(16)
            self._grants[code] = _Grant(query["redirect_uri"], query["code_challenge"])
            answer["code"] = code
        else:
            answer.update(self.denial())
        return f"{query['redirect_uri']}?{urlencode(answer)}"

    def token(self, form: dict[str, str]) -> tuple[int, Any]:
        self.token_requests.append(form)
        grant = self._grants.pop(form.get("code", ""), None)
        if (grant is None or form.get("client_id") != CLIENT_ID
                or form.get("client_secret") != CLIENT_SECRET
                or form.get("redirect_uri") != grant.redirect_uri
                or _s256(form.get("code_verifier", "")) != grant.code_challenge):
            return self.token_refused()
        access_token = secrets.token_urlsafe(16)
        self._tokens.add(access_token)
        return 200, {"access_token": access_token, "token_type": "bearer"}

    def api(self, path: str, query: dict[str, str], authorization: str) -> tuple[int, Any]:
        self._closing.wait(self.api_delay)
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() not in {"bearer", "token"} or token not in self._tokens:
            return 401, {"message": "Bad credentials"}
        return self.user_api(path, query)

    def denial(self) -> dict[str, str]:
        raise NotImplementedError

    def token_refused(self) -> tuple[int, Any]:
        raise NotImplementedError

    def user_api(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        raise NotImplementedError


class FakeGitHub(FakeOAuthServer):
    """github.com's OAuth app endpoints, and api.github.com under ``/api/v3`` (as on GHE)."""

    authorize_path = "/login/oauth/authorize"
    token_path = "/login/oauth/access_token"

    def reset(self) -> None:
        super().reset()
        self.user: dict[str, Any] = {"id": 583231, "login": "octocat", "name": None,
                                     "email": None}
        self.emails: list[dict[str, Any]] = []

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v3"

    def denial(self) -> dict[str, str]:
        return {"error": "access_denied",
                "error_description": "The user has denied your application access."}

    def token_refused(self) -> tuple[int, Any]:
        # GitHub answers a bad code with 200 and an error in the body.
        return 200, {"error": "bad_verification_code",
                     "error_description": "The code passed is incorrect or expired."}

    def user_api(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        routes = {"/api/v3/user": self.user, "/api/v3/user/emails": self.emails}
        return (200, routes[path]) if path in routes else (404, {"message": "Not Found"})


class FakeFacebook(FakeOAuthServer):
    """www.facebook.com's login dialog and graph.facebook.com, both under ``/v23.0``."""

    authorize_path = "/v23.0/dialog/oauth"
    token_path = "/v23.0/oauth/access_token"

    def reset(self) -> None:
        super().reset()
        self.me: dict[str, Any] = {"id": "10158", "name": "Amina Njeri"}

    @property
    def url(self) -> str:
        return f"{self.base_url}/v23.0"

    def denial(self) -> dict[str, str]:
        return {"error": "access_denied", "error_code": "200",
                "error_description": "Permissions error", "error_reason": "user_denied"}

    def token_refused(self) -> tuple[int, Any]:
        return 400, {"error": {"message": "Invalid verification code format.",
                               "type": "OAuthException", "code": 100}}

    def user_api(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        if path != "/v23.0/me":
            return 404, {"error": {"message": "Unknown path", "type": "OAuthException"}}
        fields = query.get("fields", "id,name").split(",")
        return 200, {name: self.me[name] for name in fields if name in self.me}


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def fake(self) -> FakeOAuthServer:
        return cast(LoopbackServer, self.server).fake

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        if url.path == self.fake.authorize_path:
            self._send(302, b"", headers={"Location": self.fake.authorize(query)})
        else:
            self._send_json(*self.fake.api(url.path, query,
                                           self.headers.get("Authorization", "")))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode()))
        if urlsplit(self.path).path == self.fake.token_path:
            self._send_json(*self.fake.token(form))
        else:
            self._send_json(404, {"message": "Not Found"})

    def _send_json(self, status: int, body: Any) -> None:
        self._send(status, json.dumps(body).encode(), {"Content-Type": "application/json"})

    def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass
