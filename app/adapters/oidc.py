"""Browser sign-in through authlib's Flask client: Google, GitHub, Facebook and any OIDC issuer.

State, nonce and PKCE verifier live in the Flask session between the two legs of the flow,
so both flow methods must run inside the browser's requests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import FlaskIntegration, FlaskOAuth2App
from joserfc.errors import JoseError

from app.config import Settings
from app.services.signin import (
    ConsentDenied,
    IdentityProvider,
    ProviderAnswerRejected,
    ProviderUnavailable,
    SignedInIdentity,
    StateMismatch,
)

GOOGLE_DISCOVERY_URL = "https://accounts.google.com/.well-known/openid-configuration"
OIDC_SCOPE = "openid email profile"

Profile = Callable[[str, FlaskOAuth2App, dict[str, Any]], SignedInIdentity]


class OnePendingSignIn(FlaskIntegration):
    """Keeps one unfinished sign-in per provider in the session cookie.

    authlib adds a state to the cookie at every start and drops it only when that sign-in
    finishes: started and abandoned twenty times, the cookie outgrows what browsers keep
    (4 KB) and the browser stops sending it. The latest start is the one that counts.
    """

    def set_state_data(self, session: Any, state: str, data: Any) -> None:
        prefix = f"_state_{self.name}_"
        for key in [key for key in session if key.startswith(prefix)]:
            session.pop(key)
        super().set_state_data(session, state, data)


class AuthlibIdentityProvider(IdentityProvider):
    def __init__(self, settings: Settings) -> None:
        self._clients: dict[str, tuple[FlaskOAuth2App, Profile]] = {}
        for name, configure, profile in PROVIDERS:
            config = configure(settings)
            if config is not None:
                self._add(name, profile, settings.oauth_timeout_seconds, **config)

    def _add(self, name: str, profile: Profile, timeout: int, **config: Any) -> None:
        # Built directly rather than through ``OAuth(app)``: the configuration comes from
        # Settings, not app.config, and this adapter exists before the Flask app does.
        # PKCE everywhere (a provider that ignores it loses nothing); ``default_timeout`` is
        # the name authlib's requests session gives the timeout of each of its calls.
        config["client_kwargs"].update({
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_post",
            "default_timeout": timeout,
        })
        client = FlaskOAuth2App(OnePendingSignIn(name), name, **config)
        self._clients[name] = (client, profile)

    def enabled(self) -> list[str]:
        return list(self._clients)

    def authorization_url(self, provider: str, redirect_uri: str) -> str:
        client, _ = self._clients[provider]
        with _translated_errors():
            found = client.create_authorization_url(redirect_uri)
            client.save_authorize_data(redirect_uri=redirect_uri, **found)
        return str(found["url"])

    def identity_from_callback(self, provider: str) -> SignedInIdentity:
        client, profile = self._clients[provider]
        with _translated_errors():
            token = client.authorize_access_token()
            return profile(provider, client, token)


def _google(settings: Settings) -> dict[str, Any] | None:
    if not (settings.google_client_id and settings.google_client_secret):
        return None
    return {"client_id": settings.google_client_id,
            "client_secret": settings.google_client_secret,
            "server_metadata_url": GOOGLE_DISCOVERY_URL,
            "client_kwargs": {"scope": OIDC_SCOPE}}


def _github(settings: Settings) -> dict[str, Any] | None:
    if not (settings.github_client_id and settings.github_client_secret):
        return None
    return {"client_id": settings.github_client_id,
            "client_secret": settings.github_client_secret,
            "authorize_url": f"{settings.github_base_url}/login/oauth/authorize",
            "access_token_url": f"{settings.github_base_url}/login/oauth/access_token",
            "api_base_url": f"{settings.github_api_base_url.rstrip('/')}/",
            "client_kwargs": {"scope": "user:email"}}


def _facebook(settings: Settings) -> dict[str, Any] | None:
    if not (settings.facebook_client_id and settings.facebook_client_secret):
        return None
    graph = settings.facebook_graph_url.rstrip("/")
    return {"client_id": settings.facebook_client_id,
            "client_secret": settings.facebook_client_secret,
            "authorize_url": f"{settings.facebook_base_url}/dialog/oauth",
            "access_token_url": f"{graph}/oauth/access_token",
            "api_base_url": f"{graph}/",  # without the slash, urljoin drops the version
            "client_kwargs": {"scope": "email public_profile"}}


def _any_issuer(settings: Settings) -> dict[str, Any] | None:
    if not (settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret):
        return None
    issuer = settings.oidc_issuer.rstrip("/")
    return {"client_id": settings.oidc_client_id,
            "client_secret": settings.oidc_client_secret,
            "server_metadata_url": f"{issuer}/.well-known/openid-configuration",
            "client_kwargs": {"scope": OIDC_SCOPE}}


@contextmanager
def _translated_errors() -> Iterator[None]:
    """authlib's and requests' failures, as the sign-in errors the services know."""
    try:
        yield
    except MismatchingStateError as error:
        raise StateMismatch() from error
    except OAuthError as error:
        if error.error == "access_denied":
            raise ConsentDenied() from error
        raise ProviderAnswerRejected() from error
    except requests.RequestException as error:
        raise ProviderUnavailable() from error
    except (AuthlibBaseError, JoseError, KeyError, ValueError) as error:
        raise ProviderAnswerRejected() from error


def _oidc_profile(provider: str, client: FlaskOAuth2App, token: dict[str, Any]
                  ) -> SignedInIdentity:
    """The ID token (its signature, issuer, audience and nonce checked) plus userinfo."""
    claims = dict(token["userinfo"])
    userinfo = client.userinfo(token=token)
    if userinfo.get("sub") != claims["sub"]:
        raise ProviderAnswerRejected()
    claims.update(userinfo)
    return SignedInIdentity(
        provider=provider,
        subject=str(claims["sub"]),
        email=claims.get("email"),
        email_verified=claims.get("email_verified") in (True, "true"),
        name=claims.get("name"),
    )


def _github_profile(provider: str, client: FlaskOAuth2App, token: dict[str, Any]
                    ) -> SignedInIdentity:
    """``/user`` may hide the email: the primary one comes from ``/user/emails``."""
    user = _get_json(client, "user", token)
    emails = _get_json(client, "user/emails", token)
    primary: dict[str, Any] = next((entry for entry in emails if entry.get("primary")), {})
    return SignedInIdentity(
        provider=provider,
        subject=str(user["id"]),
        email=primary.get("email"),
        email_verified=primary.get("verified") is True,
        name=user.get("name") or user.get("login"),
    )


def _facebook_profile(provider: str, client: FlaskOAuth2App, token: dict[str, Any]
                      ) -> SignedInIdentity:
    """Facebook returns only confirmed addresses, and none when the person withheld it."""
    me = _get_json(client, "me", token, params={"fields": "id,name,email"})
    return SignedInIdentity(
        provider=provider,
        subject=str(me["id"]),
        email=me.get("email"),
        email_verified=bool(me.get("email")),
        name=me.get("name"),
    )


def _get_json(client: FlaskOAuth2App, path: str, token: dict[str, Any], **kwargs: Any) -> Any:
    response = client.get(path, token=token, **kwargs)
    response.raise_for_status()
    return response.json()


# Offered in this order; each only when its configuration function finds it configured.
PROVIDERS: list[tuple[str, Callable[[Settings], dict[str, Any] | None], Profile]] = [
    ("google", _google, _oidc_profile),
    ("github", _github, _github_profile),
    ("facebook", _facebook, _facebook_profile),
    ("dev", _any_issuer, _oidc_profile),
]
