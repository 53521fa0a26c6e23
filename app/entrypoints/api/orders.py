"""Admin work on orders: record, look up, confirm receipt, list."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Response
from flask.views import MethodView
from flask_jwt_extended import get_jwt

from app.entrypoints.api.errors import ErrorSchema as ErrorOut
from app.entrypoints.api.errors import error_response
from app.entrypoints.api.openapi import link, links
from app.entrypoints.api.paging import page_body, page_request
from app.entrypoints.api.parsing import Blueprint
from app.entrypoints.api.schemas import (
    ONE_CUSTOMER,
    UUID_TEXT,
    ConfirmOrderIn,
    CustomerOrdersIn,
    CustomerOrdersOut,
    CustomerOrdersQuery,
    IdempotencyKeyIn,
    OrderDetailEnvelope,
    OrderEnvelope,
    OrderListIn,
    OrderPageOut,
    PlacedOrderOut,
    PlaceOrderIn,
    names_a_customer,
)
from app.entrypoints.api.tokens import ADMIN, admin_required
from app.entrypoints.dependencies import services
from app.services import orders
from app.services.views import PlacedOrder

blp = Blueprint("orders", __name__, url_prefix="/api/orders", description="Orders")

CONFIRM_IT = link("confirmOrder", "The customer received it",
                  body={"customer_code": "$response.body#/order/customer_code",
                        "order_id": "$response.body#/order/id"})


@blp.route("/create/")
class CreateOrder(MethodView):
    decorators = [admin_required]

    @blp.arguments(IdempotencyKeyIn, location="headers")
    @blp.arguments(PlaceOrderIn)
    @blp.response(201, PlacedOrderOut)
    @blp.alt_response(404, schema=ErrorOut, description="No such customer")
    @blp.alt_response(409, schema=ErrorOut, description="Idempotency-Key reused with another body")
    @blp.alt_response(422, schema=ErrorOut,
                      description="A JSON number amount with more than two decimal places, or "
                                  "an item with nothing left once invisible characters go")
    @blp.doc(operationId="createOrder", security=ADMIN, **links(
        201,
        getOrder=link("getOrder", "The order, with its SMS",
                      parameters={"order_id": "$response.body#/order/id"}),
        confirmOrder=CONFIRM_IT,
    ))
    def post(self, headers: dict[str, Any], body: dict[str, Any]) -> PlacedOrder:
        """Record an order; its SMS is queued in the same transaction"""
        deps = services()
        cmd = orders.PlaceOrder(
            customer_code=body["customer_code"], item=body["item"], amount=body["amount"],
            currency=body["currency"] or deps.settings.default_currency,
            idempotency_key=headers.get("idempotency_key"), caller=get_jwt()["sub"],
        )
        return orders.place_order(cmd, uow=deps.uow(), clock=deps.clock, limits=deps.limits)


# A path names a resource: a path whose id is not a UUID names none, so it is a 404
# (not_found) like any other path that names nothing, and /api/orders/create/ is never
# read as an order id.
ORDER_ID_IN_PATH = {"in": "path", "name": "order_id", "required": True,
                    "schema": {"type": "string", "format": "uuid", "pattern": UUID_TEXT}}


@blp.route("/<uuid:order_id>/", parameters=[ORDER_ID_IN_PATH])
class OrderById(MethodView):
    decorators = [admin_required]

    @blp.response(200, OrderDetailEnvelope)
    @blp.alt_response(404, schema=ErrorOut, description="No such order")
    @blp.doc(operationId="getOrder", security=ADMIN, **links(200, confirmOrder=CONFIRM_IT))
    def get(self, order_id: UUID) -> dict[str, Any]:
        """Get one order, with its SMS state and the customer's replies"""
        return {"order": orders.get_order_details(str(order_id), uow=services().read_uow())}


@blp.route("/customer-order/confirm/")
class ConfirmOrder(MethodView):
    decorators = [admin_required]

    @blp.arguments(ConfirmOrderIn)
    @blp.response(200, OrderEnvelope)
    @blp.alt_response(404, schema=ErrorOut, description="No such order for that customer")
    @blp.alt_response(409, schema=ErrorOut, description="Already confirmed")
    @blp.doc(operationId="confirmOrder", security=ADMIN)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Mark an order received by its customer"""
        deps = services()
        order = orders.confirm_order(body["customer_code"], str(body["order_id"]),
                                     uow=deps.uow(), clock=deps.clock, limits=deps.limits)
        return {"order": order}


def _all_orders(args: dict[str, Any]) -> dict[str, Any]:
    page = orders.list_orders(page_request(args), customer_code=args.get("customer_code"),
                              status=args.get("status"), uow=services().read_uow())
    return page_body("orders", page)


ORDER_OF_A_LIST = link("getOrder", "The newest order listed",
                       parameters={"order_id": "$response.body#/orders/0/id"})


@blp.route("/all-orders/")
class AllOrders(MethodView):
    decorators = [admin_required]

    @blp.arguments(OrderListIn, required=False)
    @blp.response(200, OrderPageOut)
    @blp.doc(operationId="listOrders", security=ADMIN, **links(200, getOrder=ORDER_OF_A_LIST))
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """List orders, newest first, optionally one customer's or one status"""
        return _all_orders(args)

    @blp.arguments(OrderListIn, location="query")
    @blp.response(200, OrderPageOut)
    @blp.doc(operationId="getOrders", security=ADMIN, **links(200, getOrder=ORDER_OF_A_LIST))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List orders, newest first, optionally one customer's or one status"""
        return _all_orders(args)


def _customer_orders(args: dict[str, Any]) -> dict[str, Any]:
    customer_id = args.get("customer_id")
    customer, page = orders.list_customer_orders(
        page_request(args), customer_code=args.get("customer_code"),
        customer_id=str(customer_id) if customer_id else None, uow=services().read_uow(),
    )
    return {"customer": customer, **page_body("orders", page)}


@blp.route("/customer/all-orders/")
class CustomerOrders(MethodView):
    decorators = [admin_required]

    @blp.arguments(CustomerOrdersIn)
    @blp.response(200, CustomerOrdersOut)
    @blp.alt_response(404, schema=ErrorOut, description="No such customer")
    @blp.doc(operationId="listCustomerOrders", security=ADMIN,
             **links(200, getOrder=ORDER_OF_A_LIST))
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """One customer's orders, newest first; customer_code or customer_id names them"""
        return _customer_orders(args)

    @blp.arguments(CustomerOrdersQuery, location="query")
    @blp.response(200, CustomerOrdersOut)
    @blp.alt_response(404, schema=ErrorOut, description="No such customer")
    @blp.alt_response(422, schema=ErrorOut,
                      description="Neither customer_code nor customer_id given "
                                  "(customer_required)")
    @blp.doc(operationId="getCustomerOrders", security=ADMIN,
             **links(200, getOrder=ORDER_OF_A_LIST))
    def get(self, args: dict[str, Any]) -> dict[str, Any] | Response:
        """One customer's orders, newest first; customer_code or customer_id names them"""
        # Query parameters cannot state "one of the two" in OpenAPI 3.0, so the rule a
        # request body's schema states is a 422 here.
        if not names_a_customer(args):
            return error_response(422, ONE_CUSTOMER, "customer_required",
                                  {"customer_code": [ONE_CUSTOMER]})
        return _customer_orders(args)
