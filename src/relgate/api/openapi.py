"""The OpenAPI document as the server really answers: relgate's errors, raw bodies, no 422.

FastAPI documents 422 for every operation with parameters; relgate answers
400 in its own error shape (``api/errors.py``). ``install(app)`` replaces the
document's builder so that every operation, including routes added later by
any module, gets the standard error responses it can answer:

- 400 when it takes parameters or a body (a parse error, a field too long);
- 401 and 403 when it needs a token (``api.limits.needs_token``);
- 404 when it takes parameters or a body (what they name may not exist);
- 409 for writes of the REST API (a conflict, a gate that fails, a busy environment);
- 413 when it takes a body (the limit of ``api.limits.BODY_RULES`` named).

Bodies that routes read raw (evidence, Unleash register/metrics, OFREP) are
declared with their content types from the same table. A route's own
``responses=`` entries win over these defaults.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from relgate.api.limits import DEFAULT_RULE, describe_size, needs_token, rule_for
from relgate.flags.metrics import ClientMetrics, ClientRegistration


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable code: bad_input, unauthorized, not_found, ...")
    message: str = Field(description="What is wrong, naming the field, file or limit.")
    gates: list[dict[str, Any]] | None = Field(
        default=None, description="The gates that failed (gate_failed only)."
    )


class ErrorBody(BaseModel):
    """Every error relgate answers (but OFREP's evaluation errors) has this shape."""

    error: ErrorDetail


_OFREP_ERROR: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["errorCode"],
    "properties": {
        "key": {"type": ["string", "null"]},
        "errorCode": {"type": "string"},
        "errorDetails": {"type": "string"},
    },
}

_DESCRIPTIONS: Final = {
    "400": "Bad input: the message names the field or parameter that is wrong.",
    "401": "No API token, or an unknown or revoked one.",
    "403": "The token's role or scope does not allow this.",
    "404": "What the request names does not exist.",
    "409": "A conflict: an immutable binding, a busy environment, or a gate that fails.",
}

_TOKEN_HEADERS: Final = {"authorization", "x-api-key"}
_SECURITY: Final = {
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token: `Authorization: Bearer rg_...`.",
    },
    "clientToken": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "A flag client token, as Unleash SDKs send it (`Bearer` optional); "
        "OFREP also takes it in X-API-Key.",
    },
    "frontendToken": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "A frontend token (browser and mobile apps, /api/frontend), as "
        "Unleash's frontend SDKs send it (`Bearer` optional).",
    },
}

_WRITES: Final = {"post", "put", "patch", "delete"}
_METHODS: Final = {"get", "head", "options", *_WRITES}


def _error(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/ErrorBody"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def document(app: FastAPI) -> dict[str, Any]:
    """Return (and cache on ``app``) the OpenAPI document with the standard errors added."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorDetail, ErrorBody, ClientRegistration, ClientMetrics):
        extra = model.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True)
        for name, definition in extra.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components[model.__name__] = extra
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    schema["components"]["securitySchemes"] = _SECURITY
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in _METHODS:
                _complete(operation, method.upper(), path)
    app.openapi_schema = schema
    return schema


def _complete(operation: dict[str, Any], method: str, path: str) -> None:
    # the token is a security scheme, not a parameter of each operation
    parameters = [
        p
        for p in operation.get("parameters", ())
        if not (p.get("in") == "header" and p.get("name", "").lower() in _TOKEN_HEADERS)
    ]
    if parameters:
        operation["parameters"] = parameters
    else:
        operation.pop("parameters", None)
    if needs_token(path):
        client = path.startswith(("/api/client/", "/ofrep/"))
        operation["security"] = [{"clientToken": []}] if client else [{"bearerToken": []}]
        if path == "/api/frontend" or path.startswith("/api/frontend/"):
            operation["security"] = [{"frontendToken": []}]
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    rule = rule_for(method, path)
    if rule is not None and rule.raw:
        operation["requestBody"] = {
            "required": not path.startswith("/ofrep/"),
            "description": rule.description,
            "content": dict(rule.raw),
        }
    takes_body = "requestBody" in operation
    takes_input = takes_body or bool(operation.get("parameters"))
    ofrep = path.startswith("/ofrep/")
    wanted: list[str] = []
    if takes_input:
        wanted += ["400", "404"]
    if needs_token(path):
        wanted += ["401", "403"]
        if method.lower() in _WRITES and path.startswith("/api/v1/"):
            wanted.append("409")
    for status in wanted:
        if status in responses:
            entry = responses[status]
            if "content" not in entry:
                # a route's own description (OFREP's codes) with the shapes it can take
                shapes: list[dict[str, Any]] = [{"$ref": "#/components/schemas/ErrorBody"}]
                if ofrep and status in ("400", "404"):
                    shapes.insert(0, _OFREP_ERROR)
                entry["content"] = {"application/json": {"schema": {"anyOf": shapes}}}
            continue
        responses[status] = _error(_DESCRIPTIONS[status])
    if takes_body:
        limit = (rule or DEFAULT_RULE).max_bytes
        responses.setdefault(
            "413",
            _error(
                f"The request body is larger than this endpoint's limit of {describe_size(limit)}."
            ),
        )
    for entry in responses.values():
        entry.setdefault("description", "")
    operation["responses"] = dict(sorted(responses.items()))


def install(app: FastAPI) -> None:
    """Make ``app.openapi`` build the completed document (call once, in create_app)."""

    def openapi() -> dict[str, Any]:
        return document(app)

    app.openapi = openapi  # type: ignore[method-assign]
