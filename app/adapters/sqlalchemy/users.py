"""Users and the sign-in identities linked to them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Select, bindparam, delete, func, select, update

from app.adapters.sqlalchemy import row_counts
from app.adapters.sqlalchemy.batch import Batch
from app.adapters.sqlalchemy.paging import PageQuery, rows_counted
from app.adapters.sqlalchemy.tables import customers, identities, users
from app.domain.users import Identity, PendingPhone, Role, User
from app.domain.values import Email, PhoneNumber
from app.services import ports
from app.services.views import Page, PageRequest, UserView

# A user's columns with one identity of theirs per row (none: one row of NULLs).
_WITH_IDENTITIES = select(*users.c, identities.c.provider, identities.c.subject).outerjoin(
    identities, identities.c.user_id == users.c.id)
_BY_ID = _WITH_IDENTITIES.where(users.c.id == bindparam("user_id"))
_BY_EMAIL = _WITH_IDENTITIES.where(users.c.email == bindparam("email"))
_BY_PHONE_NUMBER = _WITH_IDENTITIES.where(users.c.phone_number == bindparam("phone_number"))
_BY_IDENTITY = _WITH_IDENTITIES.where(users.c.id == select(identities.c.user_id).where(
    identities.c.provider == bindparam("provider"),
    identities.c.subject == bindparam("subject")).scalar_subquery())
_EXISTS = select(users.c.id).where(users.c.id == bindparam("user_id"))
_UPDATE = (update(users).where(users.c.id == bindparam("new_id"))
           .values({c.name: bindparam(f"new_{c.name}") for c in users.c if c.name != "id"}))
_UNLINK = delete(identities).where(identities.c.provider == bindparam("old_provider"),
                                   identities.c.subject == bindparam("old_subject"))

# A user as admins see them; each user's providers come aggregated in the same statement.
_VIEWS = select(
    *users.c, customers.c.code.label("customer_code"),
    select(func.aggregate_strings(identities.c.provider, ","))
    .where(identities.c.user_id == users.c.id).scalar_subquery().label("providers"),
).outerjoin(customers, customers.c.user_id == users.c.id)
_VIEW_BY_ID = _VIEWS.where(users.c.id == bindparam("user_id"))
_NEWEST_FIRST = (users.c.created_at.desc(), users.c.id.desc())
_ALL = PageQuery.of(
    _VIEWS.order_by(*_NEWEST_FIRST).limit(bindparam("limit")).offset(bindparam("offset")),
    row_counts.total(row_counts.USERS))
_EMAIL_MATCHES = users.c.email.like(bindparam("pattern"), escape="/")
_MATCHING = PageQuery.of(
    _VIEWS.where(_EMAIL_MATCHES).order_by(*_NEWEST_FIRST)
    .limit(bindparam("limit")).offset(bindparam("offset")),
    rows_counted(users, _EMAIL_MATCHES))


class SqlAlchemyUserRepository(ports.UserRepository):
    def __init__(self, batch: Batch) -> None:
        self._batch = batch
        # Users this unit of work loaded or added, with the identities stored for them:
        # asked for again they cost no statement, and saving one knows what is new.
        self._loaded: dict[UUID, tuple[User, set[Identity]]] = {}

    def remember(self, user: User) -> User:
        """Keep a user loaded by another repository's statement (a customer's user)."""
        kept, _ = self._loaded.setdefault(user.id, (user, set(user.identities)))
        return kept

    def add(self, user: User) -> None:
        """Insert a new user, or write back the state of an existing one."""
        stored = self._loaded.get(user.id)
        if stored is None and self._batch.run(_EXISTS, {"user_id": user.id}).first() is None:
            self._batch.insert(users, user_values(user))
            self._batch.count(row_counts.USERS, +1)
            known: set[Identity] = set()
        else:
            known = stored[1] if stored else set(self._identities_of(user.id))
            self._batch.change(_UPDATE, {f"new_{k}": v for k, v in user_values(user).items()})
        for identity in known - set(user.identities):
            self._batch.change(_UNLINK, {"old_provider": identity.provider,
                                         "old_subject": identity.subject})
        for identity in user.identities:
            if identity not in known:
                self._batch.insert(identities, {"provider": identity.provider,
                                                "subject": identity.subject, "user_id": user.id})
        self._loaded[user.id] = (user, set(user.identities))

    def get(self, user_id: UUID) -> User | None:
        if user_id in self._loaded:
            return self._loaded[user_id][0]
        return self._one(_BY_ID, user_id=user_id)

    def get_by_email(self, email: Email) -> User | None:
        return self._one(_BY_EMAIL, email=email.value)

    def get_by_identity(self, provider: str, subject: str) -> User | None:
        return self._one(_BY_IDENTITY, provider=provider, subject=subject)

    def get_by_phone_number(self, phone_number: PhoneNumber) -> User | None:
        return self._one(_BY_PHONE_NUMBER, phone_number=phone_number.e164)

    def view(self, user_id: UUID) -> UserView | None:
        found = self._batch.run(_VIEW_BY_ID, {"user_id": user_id}).first()
        return user_view(found) if found else None

    def list(self, request: PageRequest, *, email_contains: str | None) -> Page[UserView]:
        if email_contains:
            found, total = _MATCHING.run(self._batch, request,
                                         pattern=like_pattern(email_contains.lower()))
        else:
            found, total = _ALL.run(self._batch, request)
        return Page(items=[user_view(row) for row in found], request=request, total=total)

    def _one(self, query: Select[Any], **params: Any) -> User | None:
        rows = self._batch.run(query, params).all()
        if not rows:
            return None
        return self.remember(user_from_rows(rows))

    def _identities_of(self, user_id: UUID) -> Iterable[Identity]:
        rows = self._batch.run(_BY_ID, {"user_id": user_id}).all()
        return [Identity(r.provider, r.subject) for r in rows if r.provider is not None]


def user_from_rows(rows: Sequence[Any]) -> User:
    """A user from rows of its columns, one per identity (as ``_WITH_IDENTITIES`` gives)."""
    row = rows[0]
    return User(
        id=row.id,
        email=Email(row.email),
        name=row.name,
        role=Role(row.role),
        phone_number=PhoneNumber(row.phone_number) if row.phone_number else None,
        password_hash=row.password_hash,
        email_verified=row.email_verified,
        identities=sorted((Identity(r.provider, r.subject) for r in rows
                           if r.provider is not None), key=lambda i: (i.provider, i.subject)),
        created_at=row.created_at,
        pending_phone=_pending_phone(row),
        session_version=row.session_version,
    )


def user_values(user: User) -> dict[str, Any]:
    pending = user.pending_phone
    return {
        "id": user.id,
        "email": user.email.value,
        "name": user.name,
        "role": user.role.value,
        "phone_number": user.phone_number.e164 if user.phone_number else None,
        "password_hash": user.password_hash,
        "email_verified": user.email_verified,
        "created_at": user.created_at,
        "pending_phone_number": pending.number.e164 if pending else None,
        "pending_code_digest": pending.code_digest if pending else None,
        "pending_code_sent_at": pending.code_sent_at if pending else None,
        "pending_code_wrong_tries": pending.wrong_tries if pending else 0,
        "session_version": user.session_version,
    }


def _pending_phone(row: Any) -> PendingPhone | None:
    if row.pending_phone_number is None:
        return None
    return PendingPhone(number=PhoneNumber(row.pending_phone_number),
                        code_digest=row.pending_code_digest,
                        code_sent_at=row.pending_code_sent_at,
                        wrong_tries=row.pending_code_wrong_tries)


def user_view(row: Any) -> UserView:
    """A user from a row of ``_VIEWS``."""
    return UserView(
        id=row.id,
        email=row.email,
        name=row.name,
        role=row.role,
        phone_number=row.phone_number,
        providers=sorted(set(row.providers.split(","))) if row.providers else [],
        customer_code=row.customer_code,
        created_at=row.created_at,
        pending_phone=_pending_phone(row),
        email_verified=row.email_verified,
        session_version=row.session_version,
    )


def like_pattern(text: str) -> str:
    """``%text%`` for LIKE ... ESCAPE '/', matching the text's own % and _ literally."""
    return "%" + text.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
