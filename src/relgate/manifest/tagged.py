"""relgate.yaml blocks chosen by their ``type:`` key: deployers, verifiers, routers, providers."""

from __future__ import annotations

from typing import Any

from pydantic import Discriminator


def type_of(value: Any) -> Any:
    """The ``type`` key of a spec, as data or as a model (the discriminator)."""
    if isinstance(value, dict):
        return value.get("type")
    return getattr(value, "type", None)


def by_type(*types: str) -> Discriminator:
    """A discriminator on ``type`` whose error, for a missing or unknown type, lists ``types``."""
    return Discriminator(
        type_of,
        custom_error_type="invalid_type",
        custom_error_message=f"type must be one of: {', '.join(types)}",
    )
