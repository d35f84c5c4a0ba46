"""The checkout of the demo payments service: which checkout a customer gets is a flag."""

from __future__ import annotations

import os
import sys

from relgate.sdk import FlagClient


def checkout_for(flags: FlagClient, user_id: str, tier: str) -> str:
    """Return which checkout this customer sees."""
    context = {"userId": user_id, "properties": {"userTier": tier}}
    if flags.is_enabled("express-checkout-v2", context):
        return "express checkout"
    return "classic checkout"


def main() -> None:
    url = os.environ.get("RELGATE_URL", "http://127.0.0.1:8700")
    token = os.environ["FLAGS_TOKEN"]  # a client token scoped to one environment
    with FlagClient(url, token, "payments-service") as flags:
        flags.wait_until_ready(5)
        for user_id, tier in (("u-1", "premium"), ("u-2", "free")):
            print(f"{tier} customer {user_id}: {checkout_for(flags, user_id, tier)}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
