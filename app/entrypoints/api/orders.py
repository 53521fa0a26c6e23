"""Admin work on orders: record, look up, confirm receipt, list."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_jwt_extended import get_jwt

from app.domain.orders import OrderStatus
from app.entrypoints.api.errors import ErrorSchema as ErrorOut
from app.entrypoints.api.paging import page_body, page_request
from app.entrypoints.api.parsing import Blueprint
from app.entrypoints.api.schemas import (
    ConfirmOrderIn,
    CustomerOrdersIn,
    CustomerOrdersOut,
    IdempotencyKeyIn,
    OrderDetailEnvelope,
    OrderEnvelope,
    OrderListIn,
    OrderPageOut,
    PlacedOrderOut,
    PlaceOrderIn,
)
from app.entrypoints.api.tokens import ADMIN, admin_required
from app.entrypoints.dependencies import services
from app.services import orders
from app.services.views import PlacedOrder

blp = Blueprint("orders", __name__, url_prefix="/api/orders", description="Orders")


@blp.route("/create/")
class CreateOrder(MethodView):
    decorators = [admin_required]

    @blp.arguments(IdempotencyKeyIn, location="headers")
    @blp.arguments(PlaceOrderIn)
    @blp.response(201, PlacedOrderOut)
    @blp.alt_response(404, schema=ErrorOut, description="No such customer")
    @blp.alt_response(409, schema=ErrorOut, description="Idempotency-Key reused with another body")
    @blp.doc(security=ADMIN)
    def post(self, headers: dict[str, Any], body: dict[str, Any]) -> PlacedOrder:
        """Record an order; its SMS is queued in the same transaction"""
        deps = services()
        cmd = orders.PlaceOrder(
            customer_code=body["customer_code"], item=body["item"], amount=body["amount"],
            currency=body["currency"] or deps.settings.default_currency,
            idempotency_key=headers["idempotency_key"], caller=get_jwt()["sub"],
        )
        return orders.place_order(cmd, uow=deps.uow(), clock=deps.clock, limits=deps.limits)


@blp.route("/<string:order_id>/")
class OrderById(MethodView):
    decorators = [admin_required]

    @blp.response(200, OrderDetailEnvelope)
    @blp.alt_response(404, schema=ErrorOut, description="No such order")
    @blp.doc(security=ADMIN)
    def get(self, order_id: str) -> dict[str, Any]:
        """Get one order, with its SMS state and the customer's replies"""
        return {"order": orders.get_order_details(order_id, uow=services().read_uow())}


@blp.route("/customer-order/confirm/")
class ConfirmOrder(MethodView):
    decorators = [admin_required]

    @blp.arguments(ConfirmOrderIn)
    @blp.response(200, OrderEnvelope)
    @blp.alt_response(404, schema=ErrorOut, description="No such order for that customer")
    @blp.alt_response(409, schema=ErrorOut, description="Already confirmed")
    @blp.doc(security=ADMIN)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Mark an order received by its customer"""
        deps = services()
        order = orders.confirm_order(body["customer_code"], body["order_id"], uow=deps.uow(),
                                     clock=deps.clock, limits=deps.limits)
        return {"order": order}


def _all_orders(args: dict[str, Any]) -> dict[str, Any]:
    status = OrderStatus(args["status"]) if args["status"] else None
    page = orders.list_orders(page_request(args), customer_code=args["customer_code"],
                              status=status, uow=services().read_uow())
    return page_body("orders", page)


@blp.route("/all-orders/")
class AllOrders(MethodView):
    decorators = [admin_required]

    @blp.arguments(OrderListIn)
    @blp.response(200, OrderPageOut)
    @blp.doc(security=ADMIN)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """List orders, newest first, optionally one customer's or one status"""
        return _all_orders(args)

    @blp.arguments(OrderListIn, location="query")
    @blp.response(200, OrderPageOut)
    @blp.doc(security=ADMIN)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List orders, newest first, optionally one customer's or one status"""
        return _all_orders(args)


def _customer_orders(args: dict[str, Any]) -> dict[str, Any]:
    customer, page = orders.list_customer_orders(
        page_request(args), customer_code=args["customer_code"],
        customer_id=args["customer_id"], uow=services().read_uow(),
    )
    return {"customer": customer, **page_body("orders", page)}


@blp.route("/customer/all-orders/")
class CustomerOrders(MethodView):
    decorators = [admin_required]

    @blp.arguments(CustomerOrdersIn)
    @blp.response(200, CustomerOrdersOut)
    @blp.alt_response(404, schema=ErrorOut, description="No such customer")
    @blp.doc(security=ADMIN)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """One customer's orders, newest first"""
        return _customer_orders(args)

    @blp.arguments(CustomerOrdersIn, location="query")
    @blp.response(200, CustomerOrdersOut)
    @blp.alt_response(404, schema=ErrorOut, description="No such customer")
    @blp.doc(security=ADMIN)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """One customer's orders, newest first"""
        return _customer_orders(args)
