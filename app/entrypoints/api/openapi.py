"""How the OpenAPI document spells the schemas: in the shapes code generators handle well.

apispec's defaults trip generators up in two places, both fixed here: a nullable nested
object (``anyOf`` of the object and a nullable empty object) and an enumeration (written out
again wherever it is used). A request body whose rule binds several fields ("customer_code
or customer_id") is described as any of the schemas in its ``ANY_OF``, which generators turn
into a union of typed models.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from marshmallow import fields

from app.entrypoints.api.schemas import Choice

_NULLABLE_ANYTHING = {"type": "object", "nullable": True}


class ServiceMarshmallowPlugin(MarshmallowPlugin):
    """apispec's marshmallow plugin, writing enumerations once and nullable objects as
    ``allOf`` of the object with ``nullable: true``."""

    def init_spec(self, spec: APISpec) -> None:
        super().init_spec(spec)
        assert self.converter is not None
        self.converter.add_attribute_function(enumeration_by_reference)
        self.converter.add_attribute_function(nullable_object)

    # MarshmallowPlugin's signature, which already departs from apispec's BasePlugin's.
    def schema_helper(self, name: str, _: Any, schema: Any = None,  # type: ignore[override]
                      **kwargs: Any) -> Any:
        json_schema = super().schema_helper(name, _, schema=schema, **kwargs)
        alternatives = getattr(resolve_schema_cls(schema), "ANY_OF", ()) if schema else ()
        if not alternatives:
            return json_schema
        assert self.converter is not None
        return {"anyOf": [self.converter.resolve_nested_schema(alternative)
                          for alternative in alternatives]}


def enumeration_by_reference(converter: Any, field: fields.Field, ret: dict[str, Any],
                             **kwargs: Any) -> dict[str, Any]:
    """A ``Choice`` field refers to one schema for its enumeration, made on first use."""
    if not isinstance(field, Choice):
        return {}
    name = field.enum.__name__
    components = converter.spec.components
    if name not in components.schemas:
        components.schema(name, {"type": "string", "enum": [m.value for m in field.enum]})
    reference = {"$ref": f"#/components/schemas/{name}"}
    ret.clear()
    return {"allOf": [reference], "nullable": True} if field.allow_none else reference


def nullable_object(converter: Any, field: fields.Field, ret: dict[str, Any],
                    **kwargs: Any) -> dict[str, Any]:
    """A nullable nested object: ``allOf`` of it and ``nullable``, not an ``anyOf`` with an
    empty object, which generators turn into a model of its own."""
    alternatives = ret.get("anyOf")
    if not alternatives or _NULLABLE_ANYTHING not in alternatives:
        return {}
    del ret["anyOf"]
    return {"allOf": [a for a in alternatives if a != _NULLABLE_ANYTHING], "nullable": True}


def links(status: int, **named: dict[str, Any]) -> dict[str, Any]:
    """``@blp.doc`` keywords giving the response of ``status`` these OpenAPI links: what a
    client (or a stateful test) can do next with the ids it was just given."""
    return {"responses": {status: {"links": named}}}


def link(operation_id: str, description: str, *, parameters: dict[str, str] | None = None,
         body: dict[str, str] | None = None) -> dict[str, Any]:
    """One link to the operation ``operation_id``; values are runtime expressions such as
    ``$response.body#/order/id``."""
    return {"operationId": operation_id, "description": description,
            **({"parameters": parameters} if parameters else {}),
            **({"requestBody": body} if body else {})}
