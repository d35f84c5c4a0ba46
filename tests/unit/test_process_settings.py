"""The shutdown and orphan graces are read from the environment, and checked."""

from __future__ import annotations

import pytest

from relgate.config import Settings
from relgate.errors import BadInput


def test_the_graces_default_to_30_seconds_and_are_read_from_the_environment() -> None:
    assert (Settings().shutdown_grace_seconds, Settings().orphan_grace_seconds) == (30.0, 30.0)
    settings = Settings.from_env(
        {"RELGATE_SHUTDOWN_GRACE_SECONDS": "5", "RELGATE_ORPHAN_GRACE_SECONDS": "12.5"}
    )
    assert (settings.shutdown_grace_seconds, settings.orphan_grace_seconds) == (5.0, 12.5)


@pytest.mark.parametrize("name", ["RELGATE_SHUTDOWN_GRACE_SECONDS", "RELGATE_ORPHAN_GRACE_SECONDS"])
def test_a_negative_or_unreadable_grace_is_refused_naming_the_variable(name: str) -> None:
    with pytest.raises(BadInput, match=f"{name}='-1' must be at least 0"):
        Settings.from_env({name: "-1"})
    with pytest.raises(BadInput, match=f"{name}='soon' is not a number"):
        Settings.from_env({name: "soon"})
