"""Admin look-ups of users and customers; POST and GET take the same parameters."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.entrypoints.api.paging import page_body, page_request
from app.entrypoints.api.parsing import Blueprint
from app.entrypoints.api.schemas import CustomerPageOut, PageIn, UserListIn, UserPageOut
from app.entrypoints.api.tokens import ADMIN, admin_required
from app.entrypoints.dependencies import services
from app.services import customers, users

blp = Blueprint("lookups", __name__, url_prefix="/api/lookup", description="Admin look-ups")


def _users(args: dict[str, Any]) -> dict[str, Any]:
    page = users.list_users(page_request(args), email_contains=args["email"],
                            uow=services().read_uow())
    return page_body("users", page)


def _customers(args: dict[str, Any]) -> dict[str, Any]:
    return page_body("customers", customers.list_customers(page_request(args),
                                                           uow=services().read_uow()))


@blp.route("/all-users/")
class AllUsers(MethodView):
    decorators = [admin_required]

    @blp.arguments(UserListIn)
    @blp.response(200, UserPageOut)
    @blp.doc(security=ADMIN)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """List users, newest first, optionally by part of their email"""
        return _users(args)

    @blp.arguments(UserListIn, location="query")
    @blp.response(200, UserPageOut)
    @blp.doc(security=ADMIN)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List users, newest first, optionally by part of their email"""
        return _users(args)


@blp.route("/all-customers/")
class AllCustomers(MethodView):
    decorators = [admin_required]

    @blp.arguments(PageIn, location="query")
    @blp.response(200, CustomerPageOut)
    @blp.doc(security=ADMIN)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List customers, newest first"""
        return _customers(args)

    @blp.arguments(PageIn)
    @blp.response(200, CustomerPageOut)
    @blp.doc(security=ADMIN)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """List customers, newest first"""
        return _customers(args)
