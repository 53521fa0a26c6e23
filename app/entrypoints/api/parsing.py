"""How request bodies are read: as JSON whatever the Content-Type says, or as a real form."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from flask import Request, g
from flask_smorest import Blueprint as SmorestBlueprint
from marshmallow import Schema
from webargs import core
from webargs.flaskparser import FlaskParser, abort

from app.entrypoints.api.errors import errors_any_operation_may_answer
from app.entrypoints.api.tokens import admin_required


class UnreadableBody(ValueError):
    """The body is neither JSON nor form-encoded fields."""


# No body at all (webargs' own marker for "nothing there"). A body of JSON ``null`` is read
# as ``None``: a body, and not the object the document asks for.
NO_BODY = core.missing


def read_body(request: Request) -> Any:
    """The request body as data, read once per request; ``NO_BODY`` when there is none.

    The original service's curl examples send JSON labelled as a form, so the body is tried
    as JSON first, then as ``a=1&b=2``.
    """
    if "parsed_body" not in g:
        g.parsed_body = _parse(request.get_data(cache=True))
    return g.parsed_body


def _parse(raw: bytes) -> Any:
    if not raw:  # whitespace alone is not JSON, nor a form either
        return NO_BODY
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableBody("The body is not UTF-8 text.") from error
    try:
        return json.loads(text, object_pairs_hook=_without_repeats)
    except RecursionError as error:
        raise UnreadableBody("The JSON body is nested too deeply.") from error
    except UnreadableBody:
        raise
    except json.JSONDecodeError as error:
        try:
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
        except ValueError:
            raise UnreadableBody("The body is not valid JSON.") from error
        return _without_repeats(pairs)
    except ValueError as error:  # Python reads no integer of more than 4300 digits
        raise UnreadableBody("The JSON body has a number too long to read.") from error


def _without_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The fields as a dict; a name given twice is ambiguous, so it is refused."""
    fields: dict[str, Any] = {}
    for name, value in pairs:
        if name in fields:
            raise UnreadableBody(f"The body gives {name!r} more than once.")
        fields[name] = value
    return fields


class BodyParser(FlaskParser):
    """webargs parser with the contract's rules: any body is JSON, failures are 400."""

    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req: Request) -> Any:
        try:
            body = read_body(req)
        except UnreadableBody as error:
            abort(400, messages={"json": [str(error)]}, error_code="invalid_json")
        return body

    def load_querystring(self, req: Request, schema: Schema) -> Any:
        """The query parameters; one the schema knows given twice is ambiguous, so refused."""
        known = {field.data_key or name for name, field in schema.fields.items()}
        repeated = sorted(name for name, values in req.args.lists()
                          if name in known and len(values) > 1)
        if repeated:
            abort(400, messages={"query": {name: ["Given more than once."]
                                           for name in repeated}})
        return super().load_querystring(req, schema)


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = BodyParser()
    PAGINATION_ARGUMENTS_PARSER = ARGUMENTS_PARSER

    def _store_endpoint_docs(self, endpoint: str, obj: Any, parameters: Any, tags: Any,
                             **options: Any) -> None:
        """Each operation's docs, with the errors any operation may answer added here."""
        super()._store_endpoint_docs(endpoint, obj, parameters, tags, **options)
        admin_only = admin_required in getattr(obj, "decorators", ())
        for method, doc in self._docs[endpoint].items():
            if method == "parameters":
                continue
            arguments = doc.get("arguments", {}).get("parameters", [])
            statuses = errors_any_operation_may_answer(
                reads_body=any(argument["in"] == "json" for argument in arguments),
                authenticated="security" in doc.get("manual_doc", {}),
                admin_only=admin_only,
            )
            responses = doc.setdefault("response", {}).setdefault("responses", {})
            for status in statuses:  # by name: flask-smorest's shared response of each status
                responses.setdefault(int(status), [status.name])
