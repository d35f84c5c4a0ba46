"""Validation errors of relgate.yaml in relgate's own words, the same at every depth.

pydantic (the pipeline) and msgspec (the top level) each word their errors their
own way: ``Extra inputs are not permitted``, ``Object contains unknown field``,
``Input should be a valid boolean``, ``Expected `array | null`, got `object```.
Here each kind of error gets one wording, so ``notifications`` at the top and
``environments[0].notify`` deep down both read ``unknown key (a typo?)``; the
loader adds the file, the line and the dotted field path.

The path pydantic reports also holds parts that are not keys of the file (a
discriminated union's tag, a plain union's member such as ``str`` or
``list[str]``, a validator's name): :func:`real_path` drops them by walking the
document itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

Loc = tuple[str | int, ...]

UNKNOWN_KEY = "unknown key (a typo?)"
MISSING = "required, but missing"

# pydantic error type -> what the value must be
_MUST_BE = {
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "decimal_type": "a number",
    "decimal_parsing": "a number",
    "string_type": "a string",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "url_type": "a URL",
    "url_parsing": "a URL",
    "datetime_type": "a date and time",
    "datetime_parsing": "a date and time",
    "date_type": "a date",
    "date_parsing": "a date",
}

# msgspec's type names, in the words above
_MSGSPEC_TYPES = {
    "array": "a list",
    "object": "a mapping (key: value)",
    "str": "a string",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "null": "empty",
}


def shown(value: Any) -> str:
    """A short rendering of a value from the file, for ``(got …)``."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "nothing"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_tag(part: str, node: Mapping[Any, Any], following: Any = None) -> bool:
    # a discriminated union puts the tag's value in the path; `deployer: {ref: NAME}`
    # is the member tagged "ref" (relgate.deploy.config). A tag may equal a key (a
    # registered deployer's `gitops:` settings beside its `type: gitops`): then the part
    # after it is a key of that key's mapping, not of this one
    # (relgate.rollout.config tags its union by `strategy:`, every other one by `type:`)
    if node.get("type") == part or ("type" not in node and node.get("strategy") == part):
        inner = node.get(part)
        return not (isinstance(inner, Mapping) and following in inner and following not in node)
    return part == "ref" and "type" not in node and "ref" in node


def real_path(loc: Sequence[Any], data: Any) -> tuple[Loc, bool]:
    """Return ``loc`` without the parts that are not keys of the file, and whether a
    plain union's member label was among them."""
    path: Loc = ()
    node = data
    union = False
    tag_seen = False  # a union's tag comes once, right after the union's own key
    parts = [p for p in loc if isinstance(p, str | int)]
    for index, part in enumerate(parts):
        last = index + 1 == len(parts)
        if isinstance(part, str):
            if not isinstance(node, Mapping):
                # not a key: a member of a union (`str`, `list[str]`) or a validator
                union = union or not part.startswith("function-")
                continue
            following = None if last else parts[index + 1]
            if not tag_seen and _is_tag(part, node, following) and not (last and part in node):
                tag_seen = True
                continue
            if part not in node and (part.startswith("function-") or "[" in part):
                union = union or "[" in part
                continue
        path = (*path, part)
        tag_seen = False
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return path, union


def _strip(message: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    message = re.sub(r"^Input should be ", "must be ", message)
    message = re.sub(r"^Input ", "the value ", message)
    return message


def pydantic_message(error: Mapping[str, Any]) -> tuple[Loc, str]:
    """Return the extra path parts and the words for one pydantic error.

    The extra parts are appended to the error's real path: a missing ``type``
    of a tagged union is reported at ``….type``.
    """
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "extra_forbidden":
        return (), UNKNOWN_KEY
    if kind == "missing":
        return (), MISSING
    if kind == "union_tag_not_found":
        return (str(ctx.get("discriminator", "type")).strip("'"),), MISSING
    if kind == "union_tag_invalid":
        key = str(ctx.get("discriminator", "type")).strip("'")
        return (key,), f"must be one of {ctx.get('expected_tags', '')} (got {ctx.get('tag')!r})"
    if kind == "literal_error":
        return (), f"must be {ctx.get('expected', '')} (got {shown(value)})"
    if kind in _MUST_BE:
        return (), f"must be {_MUST_BE[kind]} (got {shown(value)})"
    message = _strip(str(error.get("msg", "invalid")))
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        message += f" (got {shown(value)})"
    return (), message


def union_message(errors: Sequence[Mapping[str, Any]], data: Any, path: Loc) -> str:
    """Words for a value that matched no member of a plain union (``str | list[str]``)."""
    forms: list[str] = []
    for error in errors:
        loc, _ = real_path(error["loc"], data)
        if loc[: len(path)] != path:
            continue
        _, words = pydantic_message(error)
        inner = loc[len(path) :]
        where = " ".join(f"item {p}" if isinstance(p, int) else str(p) for p in inner)
        forms.append(f"{where} {words}".strip())
    unique = list(dict.fromkeys(forms))
    return "matches none of its allowed forms: " + "; or ".join(unique)


def msgspec_message(message: str) -> str:
    """Return msgspec's words for a type error (``Expected `array`, got ...``) in relgate's."""
    match = re.match(r"^Expected `([^`]+)`, got `([^`]+)`\Z", message)
    if match is None:
        return message
    wanted = [
        _MSGSPEC_TYPES.get(name.strip(), name.strip())
        for name in match[1].split("|")
        if name.strip() != "null"
    ]
    return f"must be {' or '.join(wanted)} (got {_MSGSPEC_TYPES.get(match[2], match[2])})"
