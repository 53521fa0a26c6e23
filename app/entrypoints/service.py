"""Health, readiness and the interactive API docs, served without internet access."""

from __future__ import annotations

from importlib.resources import files

from flask import Blueprint, Response, jsonify, render_template, send_from_directory

from app.entrypoints.dependencies import services

blp = Blueprint("service", __name__)
SWAGGER_ASSETS = {"swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"}
# Swagger UI's dist files as the flask-swagger-ui package ships them (its blueprint is unused).
SWAGGER_UI_DIST = str(files("flask_swagger_ui") / "dist")


@blp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@blp.get("/readyz")
def readyz() -> tuple[Response, int]:
    if services().database_answers():
        return jsonify(status="ready"), 200
    return jsonify(status="unavailable", error="The database does not answer.",
                   code="service_unavailable"), 503


@blp.get("/docs")
@blp.get("/docs/")
def docs() -> str:
    return render_template("docs.html")


@blp.get("/docs/assets/<path:filename>")
def docs_asset(filename: str) -> Response:
    if filename not in SWAGGER_ASSETS:
        return jsonify(error="Not found.", code="not_found"), 404  # type: ignore[return-value]
    return send_from_directory(SWAGGER_UI_DIST, filename, max_age=86400)
