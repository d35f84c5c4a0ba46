"""Where a command's relative program is found (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from relgate.deploy.command import command_for


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("./deploy.sh prod", "/srv/deploy.sh prod"),
        ("ops/deploy.sh", "/srv/ops/deploy.sh"),
        ("X=1 ./deploy.sh&&echo ok", "X=1 /srv/deploy.sh&&echo ok"),
        ("kubectl apply -f k.yaml", "kubectl apply -f k.yaml"),
        ("/opt/deploy.sh", "/opt/deploy.sh"),
        ("echo ./not-a-program", "echo ./not-a-program"),
    ],
)
def test_a_relative_program_without_cwd_is_the_one_in_the_server_folder(
    command: str, expected: str
) -> None:
    assert command_for(command, None, Path("/srv")) == expected
    assert command_for(command, "ops", Path("/srv")) == command


def test_a_relative_program_of_an_argv_is_made_absolute_too() -> None:
    assert command_for(["./deploy.sh", "./x"], None, Path("/srv")) == ["/srv/deploy.sh", "./x"]
    assert command_for(["kubectl", "apply"], None, Path("/srv")) == ["kubectl", "apply"]
