"""The audit settings: where the key lives, which sinks, how often."""

from __future__ import annotations

from pathlib import Path

import pytest

from relgate.config import AuditSinkSetting, Settings, SinkKind, parse_audit_sinks
from relgate.errors import BadInput


def test_sinks_are_read_from_one_variable_separated_by_spaces() -> None:
    sinks = parse_audit_sinks(
        "file:/var/lib/relgate/cps.jsonl  git:audit-repo\nhttps://audit.example.com/hook "
        "webhook:http://127.0.0.1:9/x"
    )

    assert sinks == (
        AuditSinkSetting(SinkKind.FILE, "/var/lib/relgate/cps.jsonl"),
        AuditSinkSetting(SinkKind.GIT, "audit-repo"),
        AuditSinkSetting(SinkKind.WEBHOOK, "https://audit.example.com/hook"),
        AuditSinkSetting(SinkKind.WEBHOOK, "http://127.0.0.1:9/x"),
    )


@pytest.mark.parametrize("item", ["s3:bucket", "file:", "webhook:ftp://x", "cps.jsonl"])
def test_a_sink_of_no_known_kind_is_refused_naming_it(item: str) -> None:
    with pytest.raises(BadInput, match=f"RELGATE_AUDIT_SINKS: {item!r}"):
        parse_audit_sinks(item)


def test_the_key_file_is_beside_a_sqlite_database_by_default(tmp_path: Path) -> None:
    settings = Settings.from_env({"RELGATE_DATABASE_URL": f"sqlite:///{tmp_path}/state/main.db"})

    assert settings.audit_key_path() == tmp_path / "state" / "main-audit-key.pem"


def test_a_sqlite_url_with_a_driver_names_its_file_too(tmp_path: Path) -> None:
    settings = Settings.from_env({"RELGATE_DATABASE_URL": f"sqlite+pysqlite:///{tmp_path}/r.db"})

    assert settings.audit_key_path() == tmp_path / "r-audit-key.pem"


def test_the_key_file_is_in_the_data_folder_for_postgresql() -> None:
    settings = Settings.from_env(
        {"RELGATE_DATABASE_URL": "postgresql+psycopg://db/relgate", "HOME": "/home/relgate"}
    )
    chosen = Settings.from_env(
        {"RELGATE_DATABASE_URL": "postgresql+psycopg://db/relgate", "RELGATE_DATA_DIR": "/srv/rg"}
    )

    assert settings.audit_key_path() == Path("/home/relgate/.local/share/relgate/audit-key.pem")
    assert chosen.audit_key_path() == Path("/srv/rg/audit-key.pem")


def test_the_key_file_setting_wins() -> None:
    settings = Settings.from_env({"RELGATE_AUDIT_KEY_FILE": "/etc/relgate/key.pem"})

    assert settings.audit_key_path() == Path("/etc/relgate/key.pem")


def test_checkpoint_intervals_have_defaults_and_are_range_checked() -> None:
    defaults = Settings.from_env({})

    with pytest.raises(BadInput, match="RELGATE_AUDIT_CHECKPOINT_EVENTS='0' must be at least 1"):
        Settings.from_env({"RELGATE_AUDIT_CHECKPOINT_EVENTS": "0"})
    assert (defaults.audit_checkpoint_events, defaults.audit_checkpoint_minutes) == (100, 5.0)
