"""An OpenFeature provider backed by a ``FlagClient`` (needs the ``openfeature`` extra).

    from openfeature import api
    from relgate.sdk import FlagClient
    from relgate.sdk.openfeature import RelgateProvider

    api.set_provider(RelgateProvider(FlagClient(url, token, "checkout")))
    api.get_client().get_boolean_value("new-checkout", False)

Booleans are the flag's on/off answer; strings, numbers and objects are the
payload of the variant the context gets, read by the payload's type
(``string``/``csv``, ``number``, ``json``). The evaluation context maps to
Unleash's: ``targeting_key`` is ``userId``; attributes named like Unleash's
standard fields (``sessionId``, ``remoteAddress``...) fill them, others
become properties. No resolution raises: a problem gives the default value
with an OpenFeature error code.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from relgate.flags.evaluate import Variant
from relgate.sdk.client import FlagClient

__all__ = ["RelgateProvider"]

T = TypeVar("T")
ObjectValue = Sequence[FlagValueType] | Mapping[str, FlagValueType]


class _Mismatch(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _context(evaluation_context: EvaluationContext | None) -> dict[str, Any]:
    if evaluation_context is None:
        return {}
    context: dict[str, Any] = dict(evaluation_context.attributes)
    if evaluation_context.targeting_key is not None:
        context["userId"] = evaluation_context.targeting_key
    return context


def _error(default: T, code: ErrorCode, message: str) -> FlagResolutionDetails[T]:
    return FlagResolutionDetails(
        value=default, error_code=code, error_message=message, reason=Reason.ERROR
    )


class RelgateProvider(AbstractProvider):
    """Resolves OpenFeature flags with a relgate ``FlagClient`` (local evaluation).

    ``shutdown`` closes the client only when ``close_client_on_shutdown`` is set:
    by default the application that made the client owns it.
    """

    def __init__(self, client: FlagClient, *, close_client_on_shutdown: bool = False) -> None:
        super().__init__()
        self.client = client
        self._close_client = close_client_on_shutdown

    def get_metadata(self) -> Metadata:
        """Return the provider's name, ``relgate``."""
        return Metadata(name="relgate")

    def shutdown(self) -> None:
        """Close the client if the provider was asked to own it."""
        if self._close_client:
            self.client.close()

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        """Return whether the flag is on; ``FLAG_NOT_FOUND`` with the default when unknown."""
        try:
            flag = self.client.snapshot.flag(flag_key)
            if flag is None:
                return _error(default_value, ErrorCode.FLAG_NOT_FOUND, f"no flag {flag_key!r}")
            value = self.client.is_enabled(flag_key, _context(evaluation_context), default_value)
        except Exception as exc:
            return _error(default_value, ErrorCode.GENERAL, str(exc))
        if value:
            reason = Reason.TARGETING_MATCH
        else:
            reason = Reason.DEFAULT if flag.enabled else Reason.DISABLED
        return FlagResolutionDetails(value=value, reason=reason)

    def resolve_string_details(
        self,
        flag_key: str,
        default_value: str,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[str]:
        """Return the variant's ``string`` or ``csv`` payload (the variant name if it has none)."""

        def read(variant: Variant) -> str:
            payload = variant.payload
            if payload is None:
                return variant.name
            if payload.get("type") not in ("string", "csv"):
                raise _Mismatch(
                    ErrorCode.TYPE_MISMATCH, f"the payload is of type {payload.get('type')!r}"
                )
            return str(payload.get("value", ""))

        return self._resolve(flag_key, default_value, evaluation_context, read)

    def resolve_integer_details(
        self,
        flag_key: str,
        default_value: int,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[int]:
        """Return the variant's ``number`` payload, which must be a whole number."""

        def read(variant: Variant) -> int:
            number = _number(variant)
            if not number.is_integer():
                raise _Mismatch(ErrorCode.TYPE_MISMATCH, f"{number} is not an integer")
            return int(number)

        return self._resolve(flag_key, default_value, evaluation_context, read)

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        """Return the variant's ``number`` payload."""
        return self._resolve(flag_key, default_value, evaluation_context, _number)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: ObjectValue,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[ObjectValue]:
        """Return the variant's ``json`` payload, which must be an object or a list."""

        def read(variant: Variant) -> ObjectValue:
            payload = _payload(variant, "json")
            try:
                value = json.loads(payload)
            except ValueError as exc:
                raise _Mismatch(ErrorCode.PARSE_ERROR, f"the json payload: {exc}") from exc
            if not isinstance(value, dict | list):
                raise _Mismatch(
                    ErrorCode.TYPE_MISMATCH, f"the json payload is a {type(value).__name__}"
                )
            result: ObjectValue = value
            return result

        return self._resolve(flag_key, default_value, evaluation_context, read)

    def _resolve(
        self,
        flag_key: str,
        default_value: T,
        evaluation_context: EvaluationContext | None,
        read: Any,
    ) -> FlagResolutionDetails[T]:
        try:
            flag = self.client.snapshot.flag(flag_key)
            if flag is None:
                return _error(default_value, ErrorCode.FLAG_NOT_FOUND, f"no flag {flag_key!r}")
            variant = self.client.variant(flag_key, _context(evaluation_context))
            if not variant.enabled:
                reason = Reason.DEFAULT if variant.feature_enabled else Reason.DISABLED
                return FlagResolutionDetails(value=default_value, reason=reason)
            value: T = read(variant)
        except _Mismatch as mismatch:
            return _error(default_value, mismatch.code, f"flag {flag_key!r}: {mismatch.message}")
        except Exception as exc:
            return _error(default_value, ErrorCode.GENERAL, f"flag {flag_key!r}: {exc}")
        return FlagResolutionDetails(
            value=value, reason=Reason.TARGETING_MATCH, variant=variant.name
        )


def _payload(variant: Variant, expected: str) -> str:
    payload = variant.payload
    if payload is None:
        raise _Mismatch(ErrorCode.TYPE_MISMATCH, f"variant {variant.name!r} has no payload")
    if payload.get("type") != expected:
        raise _Mismatch(
            ErrorCode.TYPE_MISMATCH,
            f"the payload is of type {payload.get('type')!r}, not {expected!r}",
        )
    return str(payload.get("value", ""))


def _number(variant: Variant) -> float:
    text = _payload(variant, "number")
    try:
        number = float(text)
    except ValueError as exc:
        raise _Mismatch(ErrorCode.PARSE_ERROR, f"{text!r} is not a number") from exc
    if not math.isfinite(number):
        raise _Mismatch(ErrorCode.PARSE_ERROR, f"{text!r} is not a finite number")
    return number
