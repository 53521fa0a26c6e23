"""How request bodies are read: as JSON whatever the Content-Type says, or as a real form."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from flask import Request, g
from flask_smorest import Blueprint as SmorestBlueprint
from webargs import core
from webargs.flaskparser import FlaskParser, abort


class UnreadableBody(ValueError):
    """The body is neither JSON nor form-encoded fields."""


def read_body(request: Request) -> Any:
    """The request body as data, read once per request; ``None`` when there is none.

    The original service's curl examples send JSON labelled as a form, so the body is tried
    as JSON first, then as ``a=1&b=2``.
    """
    if "parsed_body" not in g:
        g.parsed_body = _parse(request.get_data(cache=True))
    return g.parsed_body


def _parse(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableBody("The body is not UTF-8 text.") from error
    try:
        return json.loads(text)
    except RecursionError as error:
        raise UnreadableBody("The JSON body is nested too deeply.") from error
    except json.JSONDecodeError as error:
        try:
            return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=True))
        except ValueError:
            raise UnreadableBody("The body is not valid JSON.") from error


class BodyParser(FlaskParser):
    """webargs parser with the contract's rules: any body is JSON, failures are 400."""

    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req: Request) -> Any:
        try:
            body = read_body(req)
        except UnreadableBody as error:
            abort(400, messages={"json": [str(error)]}, error_code="invalid_json")
        return core.missing if body is None else body


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = BodyParser()
    PAGINATION_ARGUMENTS_PARSER = ARGUMENTS_PARSER
