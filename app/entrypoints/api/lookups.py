"""Admin look-ups of users and customers; POST and GET take the same parameters."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.entrypoints.api.openapi import link, links
from app.entrypoints.api.paging import page_body, page_request
from app.entrypoints.api.parsing import Blueprint
from app.entrypoints.api.schemas import CustomerPageOut, PageIn, UserListIn, UserPageOut
from app.entrypoints.api.tokens import ADMIN, admin_required
from app.entrypoints.dependencies import services
from app.services import customers, users

blp = Blueprint("lookups", __name__, url_prefix="/api/lookup", description="Admin look-ups")


def _users(args: dict[str, Any]) -> dict[str, Any]:
    page = users.list_users(page_request(args), email_contains=args.get("email"),
                            uow=services().read_uow())
    return page_body("users", page)


# The newest user or customer listed, and what an administrator does next with them.
USER_LINKS = links(
    200,
    addUserNumber=link("addUserNumber", "Give the newest user listed a phone number",
                       body={"user_id": "$response.body#/users/0/id"}),
    createCustomer=link("createCustomer", "Make the newest user listed a customer",
                        body={"user_id": "$response.body#/users/0/id"}),
)
CUSTOMER_LINKS = links(
    200,
    createOrder=link("createOrder", "Record an order for the newest customer listed",
                     body={"customer_code": "$response.body#/customers/0/code"}),
    getCustomerOrders=link("getCustomerOrders", "The newest customer's orders",
                           parameters={"customer_id": "$response.body#/customers/0/id"}),
)


def _customers(args: dict[str, Any]) -> dict[str, Any]:
    return page_body("customers", customers.list_customers(page_request(args),
                                                           uow=services().read_uow()))


@blp.route("/all-users/")
class AllUsers(MethodView):
    decorators = [admin_required]

    @blp.arguments(UserListIn, required=False)
    @blp.response(200, UserPageOut)
    @blp.doc(operationId="listUsers", security=ADMIN, **USER_LINKS)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """List users, newest first, optionally by part of their email"""
        return _users(args)

    @blp.arguments(UserListIn, location="query")
    @blp.response(200, UserPageOut)
    @blp.doc(operationId="getUsers", security=ADMIN, **USER_LINKS)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List users, newest first, optionally by part of their email"""
        return _users(args)


@blp.route("/all-customers/")
class AllCustomers(MethodView):
    decorators = [admin_required]

    @blp.arguments(PageIn, location="query")
    @blp.response(200, CustomerPageOut)
    @blp.doc(operationId="getCustomers", security=ADMIN, **CUSTOMER_LINKS)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List customers, newest first"""
        return _customers(args)

    @blp.arguments(PageIn, required=False)
    @blp.response(200, CustomerPageOut)
    @blp.doc(operationId="listCustomers", security=ADMIN, **CUSTOMER_LINKS)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """List customers, newest first"""
        return _customers(args)
