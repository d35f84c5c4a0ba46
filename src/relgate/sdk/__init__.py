"""relgate's Python flag SDK: local evaluation of relgate (or Unleash) feature flags.

    from relgate.sdk import FlagClient

    with FlagClient("https://relgate.example.com", token, "checkout") as flags:
        if flags.is_enabled("new-checkout", {"userId": "42"}):
            ...

It imports nothing of relgate's server: only the pure evaluator
(``relgate.flags``) and httpx. The OpenFeature provider lives in
``relgate.sdk.openfeature`` (it needs the ``openfeature`` extra).
"""

from relgate.flags.evaluate import Variant
from relgate.flags.model import Context
from relgate.sdk.client import (
    DISABLED_VARIANT,
    FlagClient,
    ImpressionCallback,
    ImpressionEvent,
    ImpressionLogger,
    log_impression,
)

__all__ = [
    "DISABLED_VARIANT",
    "Context",
    "FlagClient",
    "ImpressionCallback",
    "ImpressionEvent",
    "ImpressionLogger",
    "Variant",
    "log_impression",
]
