from __future__ import annotations

import pytest

from relgate.errors import Conflict
from relgate.promotion.model import FINAL_STATES, TRANSITIONS, DeploymentState, moved


def test_an_allowed_transition_returns_the_stored_value_of_the_new_state() -> None:
    assert moved("verifying", DeploymentState.SUCCEEDED, 7) == "succeeded"


def test_a_finished_deployment_cannot_start_again() -> None:
    with pytest.raises(Conflict, match="deployment 7 is failed; it cannot become verifying"):
        moved("failed", DeploymentState.VERIFYING, 7)


def test_only_a_rollback_leaves_a_final_state() -> None:
    for state in FINAL_STATES:
        assert TRANSITIONS[state] <= {DeploymentState.ROLLED_BACK}
