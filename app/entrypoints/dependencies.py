"""Where views find the services built by bootstrap for their app."""

from __future__ import annotations

from flask import Flask, current_app

from app.bootstrap import Services

EXTENSION_KEY = "customer_order_service"


def services(app: Flask | None = None) -> Services:
    return (app or current_app).extensions[EXTENSION_KEY]
