"""The browser pages: sign-in, the customer's account, and the forms it posts."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from app.domain.errors import DomainError, LimitReached
from app.domain.users import PhoneState
from app.entrypoints.dependencies import services
from app.entrypoints.web import browser_session
from app.services import customers, orders, signin, users
from app.services.errors import StorageUnavailable, UserNotFound
from app.services.views import PageRequest, UserView

blp = Blueprint("web", __name__)
log = logging.getLogger(__name__)

ORDERS_PER_PAGE = 20
MAX_PAGE_DIGITS = 6
MAX_IDEMPOTENCY_KEY = 255
LABELS = {"google": "Google", "github": "GitHub", "facebook": "Facebook"}
# Which form shows an error about which field; an error about anything else shows at the top
# of the form that was sent.
FORM_FIELDS = {"phone": {"phone_number"}, "verify": {"code"}, "customer": set(),
               "order": {"item", "amount"}, "confirm": set()}
SIGN_IN_FAILURES: dict[type[Exception], tuple[int, str]] = {
    signin.ConsentDenied: (403, "Sign-in cancelled"),
    signin.StateMismatch: (400, "Sign-in expired"),
    signin.ProviderUnavailable: (504, "Sign-in provider unavailable"),
    signin.ProviderAnswerRejected: (502, "Sign-in failed"),
    signin.EmailMissing: (403, "An email address is needed"),
    signin.EmailNotVerified: (409, "This email address belongs to another account"),
}

Answer = Response | tuple[str, int]

blp.before_request(browser_session.refuse_forged_posts)
blp.add_app_template_global(browser_session.csrf_field, "csrf_field")


@blp.context_processor
def signed_in() -> dict[str, bool]:
    return {"signed_in": browser_session.signed_in_user() is not None}


@blp.after_request
def never_cache(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@blp.get("/")
def index() -> Answer:
    """One button per configured sign-in provider."""
    if browser_session.signed_in_user():
        return redirect(url_for("web.account"))
    labels = _labels()
    providers = [(name, labels[name]) for name in services().identity_provider.enabled()]
    next_path = browser_session.within_site(request.args.get("next"))
    return render_template("signin.html", providers=providers, next=next_path), 200


@blp.get("/login/<provider>/")
def login(provider: str) -> Response:
    """Send the browser to the provider; it comes back to the callback below."""
    identity_provider = _enabled(provider)
    session[browser_session.NEXT_KEY] = browser_session.within_site(request.args.get("next"))
    return redirect(identity_provider.authorization_url(provider, _callback_url(provider)))


@blp.get("/auth/<provider>/callback/")
def callback(provider: str) -> Response:
    """Finish the sign-in the provider sent the browser back from."""
    deps = services()
    identity = _enabled(provider).identity_from_callback(provider)
    user = signin.sign_in(identity, uow=deps.uow(), clock=deps.clock)
    next_path = session.get(browser_session.NEXT_KEY) or url_for("web.account")
    browser_session.start(user.id, user.session_version)
    log.info("user %s signed in with %s (request id %s)", user.id, provider, g.request_id)
    return redirect(next_path)


@blp.post("/logout/")
def logout() -> Response:
    user_id = browser_session.signed_in_user()
    if user_id is not None:
        users.end_browser_sessions(user_id, uow=services().uow())
    session.clear()
    return redirect(url_for("web.index"))


@blp.get("/account/")
def account() -> Answer:
    """The signed-in person's profile, phone number, customer status and orders."""
    user = _signed_in_user()
    if user is None:
        session.clear()
        return redirect(url_for("web.index"))
    return _account_page(user)


@blp.post("/account/phone/")
def set_phone() -> Answer:
    """Take the number the person typed and text it a code."""
    deps = services()
    return _act("phone", lambda user: users.request_phone_code(
        user.id, request.form.get("phone_number", ""), uow=deps.uow(), clock=deps.clock,
        codes=deps.phone_codes, limits=deps.limits))


@blp.post("/account/phone/verify/")
def verify_phone() -> Answer:
    """The code typed back proves the number."""
    deps = services()
    return _act("verify", lambda user: users.confirm_phone_code(
        user.id, request.form.get("code", ""), uow=deps.uow(), clock=deps.clock,
        codes=deps.phone_codes))


@blp.post("/account/customer/")
def become_customer() -> Answer:
    deps = services()
    return _act("customer", lambda user: customers.create_customer(
        user.id, uow=deps.uow(), clock=deps.clock))


@blp.post("/account/orders/")
def place_order() -> Answer:
    deps = services()
    return _act("order", lambda user: orders.place_order(orders.PlaceOrder(
        customer_code=user.customer_code or "", item=request.form.get("item", ""),
        amount=request.form.get("amount", "").strip(), currency=deps.settings.default_currency,
        # A second click on "Place order" sends the same key: it gets the same order back.
        idempotency_key=request.form.get("idempotency_key", "")[:MAX_IDEMPOTENCY_KEY] or None,
        placed_by=user.id, caller=str(user.id),
    ), uow=deps.uow(), clock=deps.clock, limits=deps.limits))


@blp.post("/account/orders/<order_id>/confirm/")
def confirm_order(order_id: str) -> Answer:
    deps = services()
    return _act("confirm", lambda user: orders.confirm_order(
        user.customer_code or "", order_id, uow=deps.uow(), clock=deps.clock,
        limits=deps.limits))


@blp.errorhandler(signin.SignInError)
@blp.errorhandler(signin.EmailMissing)
@blp.errorhandler(signin.EmailNotVerified)
def sign_in_failed(error: Exception) -> tuple[str, int]:
    status, title = SIGN_IN_FAILURES[type(error)]
    log.warning("sign-in refused: %s: %s (request id %s)", type(error).__name__,
                error.__cause__ or error, g.get("request_id"))
    return _problem(status, title, str(error))


@blp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> tuple[str, int]:
    status = error.code or 500
    message = "There is no such page." if status == 404 else error.description or ""
    return _problem(status, error.name, message)


@blp.errorhandler(Exception)
def unexpected(error: Exception) -> tuple[str, int]:
    if isinstance(error, StorageUnavailable):
        log.warning("database unavailable (request id %s): %s", g.get("request_id"),
                    error.__cause__ or error)
        return _problem(503, "Temporarily unavailable", "Please try again in a moment.")
    log.exception("unhandled error (request id %s)", g.get("request_id"))
    return _problem(500, "Something went wrong", "It has been logged; please try again.")


def _enabled(provider: str) -> signin.IdentityProvider:
    identity_provider = services().identity_provider
    if provider not in identity_provider.enabled():
        abort(404)
    return identity_provider


def _callback_url(provider: str) -> str:
    base_url = services().settings.public_base_url.rstrip("/")
    if base_url:
        return base_url + url_for("web.callback", provider=provider)
    return url_for("web.callback", provider=provider, _external=True)


def _signed_in_user() -> UserView | None:
    """The user this browser is signed in as, unless the session ended (logged out, or the
    user is gone)."""
    user_id = browser_session.signed_in_user()
    if user_id is None:
        return None
    try:
        user = users.get_user(user_id, uow=services().read_uow())
    except UserNotFound:
        return None
    return user if browser_session.is_current(user.session_version) else None


def _act(form: str, action: Callable[[UserView], Any]) -> Answer:
    """Run a form's use case for the signed-in user, then show the account page again."""
    user = _signed_in_user()
    if user is None:
        session.clear()
        return redirect(url_for("web.index"))
    try:
        action(user)
    except UserNotFound:
        session.clear()
        return redirect(url_for("web.index"))
    except DomainError as error:
        slot = error.field if error.field in FORM_FIELDS[form] else form
        # Read again: a refused form may still have changed something (a wrong code's try).
        again = users.get_user(user.id, uow=services().read_uow())
        if not isinstance(error, LimitReached):
            return _account_page(again, errors={slot: error.message}, status=400)
        page, status = _account_page(again, errors={slot: error.message}, status=429)
        return Response(page, status, {"Retry-After": str(error.retry_after)})
    return redirect(url_for("web.account"))


def _account_page(user: UserView, *, errors: dict[str, str] | None = None,
                  status: int = 200) -> tuple[str, int]:
    uow = services().uow
    placed = None
    if user.customer_code:
        paging = PageRequest(page=_page_number(), per_page=ORDERS_PER_PAGE)
        _, placed = orders.list_customer_orders(paging, customer_code=user.customer_code,
                                                uow=uow())
    values = request.form if request.method == "POST" else {}
    return render_template("account.html", user=user, orders=placed, errors=errors or {},
                           values=values, labels=_labels(), order_key=secrets.token_urlsafe(24),
                           phone=user.phone_state(services().clock()), PhoneState=PhoneState,
                           expected_number=services().limits.numbers.expected,
                           currency=services().settings.default_currency), status


def _labels() -> dict[str, str]:
    return {**LABELS, "dev": services().settings.oidc_provider_name}


def _page_number() -> int:
    raw = request.args.get("page", "")
    return int(raw) if raw.isdecimal() and len(raw) <= MAX_PAGE_DIGITS and int(raw) else 1


def _problem(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("problem.html", title=title, message=message,
                           request_id=g.get("request_id")), status
