"""What the signed session cookie holds for a browser: who signed in, and the CSRF token."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit
from uuid import UUID

from flask import abort, request, session
from markupsafe import Markup, escape

USER_KEY = "user_id"
VERSION_KEY = "session_version"
NEXT_KEY = "next"
CSRF_KEY = "csrf_token"
CSRF_FIELD = "csrf_token"


def start(user_id: UUID, version: int) -> None:
    """Sign the browser in with a fresh session, so nothing set before sign-in survives it.

    ``version`` is the user's session version now: logging out moves it on, and a session
    whose version is behind is over, even if someone kept a copy of its cookie.
    """
    session.clear()
    session[USER_KEY] = str(user_id)
    session[VERSION_KEY] = version
    session[CSRF_KEY] = secrets.token_urlsafe(32)


def is_current(version: int) -> bool:
    """Whether this session began at the user's current session version."""
    return session.get(VERSION_KEY) == version


def signed_in_user() -> UUID | None:
    try:
        return UUID(session.get(USER_KEY, ""))
    except ValueError:
        return None


def csrf_token() -> str:
    token = session.get(CSRF_KEY)
    if not token:
        token = session[CSRF_KEY] = secrets.token_urlsafe(32)
    return str(token)


def csrf_field() -> Markup:
    """The hidden input every form of ours carries."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        CSRF_FIELD, escape(csrf_token()))


def refuse_forged_posts() -> None:
    """A POST must carry this session's token: another site cannot read it to send it."""
    if request.method != "POST":
        return
    expected = str(session.get(CSRF_KEY, ""))
    sent = request.form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, "This form has expired or did not come from this site. "
                   "Go back, reload the page and try again.")


def within_site(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else ``None`` (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 or c == "\\" for c in target):
        return None
    return target
