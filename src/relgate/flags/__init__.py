"""Feature flags: the pure, Unleash-compatible evaluator shared by the server and the SDK.

Compile the Unleash client features document once into an immutable snapshot,
then evaluate flags against it::

    from relgate.flags import Context, Snapshot, get_variant, is_enabled

    snapshot = Snapshot.from_unleash_features(payload)
    context = Context(user_id="42", properties={"plan": "pro"})
    if is_enabled(snapshot, "new-checkout", context):
        variant = get_variant(snapshot, "new-checkout", context)

``relgate.flags.variants`` fixes variant weights and order when a flag is saved.
"""

from relgate.flags.evaluate import Variant, get_variant, is_enabled, select_variant
from relgate.flags.model import CompiledFlag, Context, Snapshot

__all__ = [
    "CompiledFlag",
    "Context",
    "Snapshot",
    "Variant",
    "get_variant",
    "is_enabled",
    "select_variant",
]
