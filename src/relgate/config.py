"""Settings: the only module that reads the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from relgate.errors import BadInput

DEFAULT_PORT = 8700


class SinkKind(StrEnum):
    FILE = "file"
    GIT = "git"
    WEBHOOK = "webhook"


@dataclass(frozen=True)
class AuditSinkSetting:
    """One place audit checkpoints are copied to: a file, a git repository or a webhook URL."""

    kind: SinkKind
    target: str


@dataclass(frozen=True)
class Settings:
    """Server-side settings, read once by ``Settings.from_env``."""

    database_url: str = "sqlite:///relgate.db"
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    worker_threads: int = 2
    job_lease_seconds: float = 30.0
    poll_interval_seconds: float = 0.5
    # [procs] SIGTERM: how long running deployments may finish before they are cancelled
    shutdown_grace_seconds: float = 30.0
    # [procs] how long past its lease a dead server's started deployment holds its
    # environment (its command is being stopped meanwhile): at least a kill_grace_seconds
    orphan_grace_seconds: float = 30.0
    auto_migrate_sqlite: bool = True
    # the audit signing key; empty: beside the SQLite database, else in the data folder
    audit_key_file: str = ""
    data_dir: str = ""
    audit_checkpoint_events: int = 100
    audit_checkpoint_minutes: float = 5.0
    audit_sinks: tuple[AuditSinkSetting, ...] = ()
    # deployer definitions of the server's configuration (relgate.promotion.deployers)
    deployers_file: Path | None = None
    # artifact registries relgate checks digests in and moves stable tags in
    # (relgate.deploy.registries); none: artifacts are recorded as given
    registries_file: Path | None = None
    # notifications (relgate.notify): the server's public address for links in messages,
    # and how deliveries are retried; see docs/notifications.md
    public_url: str = ""
    notify_threads: int = 2
    notify_max_attempts: int = 10
    notify_backoff_base_seconds: float = 2.0
    notify_backoff_cap_seconds: float = 600.0
    notify_lease_seconds: float = 60.0
    notify_connect_timeout_seconds: float = 5.0
    notify_read_timeout_seconds: float = 10.0
    # a token that may read GET /metrics only; empty: an unrestricted read token is needed
    metrics_token: str = ""
    # web UI sessions (relgate.auth.sessions): ended after this long idle, or this long at most
    web_session_idle_minutes: float = 60.0
    web_session_hours: float = 12.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from RELGATE_* variables; raises BadInput naming a bad variable."""
        env = os.environ if env is None else env
        return cls(
            database_url=env.get("RELGATE_DATABASE_URL", cls.database_url),
            host=env.get("RELGATE_HOST", cls.host),
            port=_int(env, "RELGATE_PORT", cls.port),
            worker_threads=_int(env, "RELGATE_WORKER_THREADS", cls.worker_threads),
            job_lease_seconds=_float(env, "RELGATE_JOB_LEASE_SECONDS", cls.job_lease_seconds),
            poll_interval_seconds=_float(
                env, "RELGATE_POLL_INTERVAL_SECONDS", cls.poll_interval_seconds
            ),
            shutdown_grace_seconds=_float(
                env, "RELGATE_SHUTDOWN_GRACE_SECONDS", cls.shutdown_grace_seconds, minimum=0
            ),
            orphan_grace_seconds=_float(
                env, "RELGATE_ORPHAN_GRACE_SECONDS", cls.orphan_grace_seconds, minimum=0
            ),
            audit_key_file=env.get("RELGATE_AUDIT_KEY_FILE", ""),
            data_dir=env.get("RELGATE_DATA_DIR") or _default_data_dir(env),
            audit_checkpoint_events=_int(
                env, "RELGATE_AUDIT_CHECKPOINT_EVENTS", cls.audit_checkpoint_events, minimum=1
            ),
            audit_checkpoint_minutes=_float(
                env, "RELGATE_AUDIT_CHECKPOINT_MINUTES", cls.audit_checkpoint_minutes, minimum=0.01
            ),
            audit_sinks=parse_audit_sinks(env.get("RELGATE_AUDIT_SINKS", "")),
            deployers_file=Path(env["RELGATE_DEPLOYERS_FILE"])
            if env.get("RELGATE_DEPLOYERS_FILE")
            else None,
            registries_file=Path(env["RELGATE_REGISTRIES_FILE"])
            if env.get("RELGATE_REGISTRIES_FILE")
            else None,
            public_url=_public_url(env.get("RELGATE_PUBLIC_URL", "")),
            notify_threads=_int(env, "RELGATE_NOTIFY_THREADS", cls.notify_threads, minimum=1),
            notify_max_attempts=_int(
                env, "RELGATE_NOTIFY_MAX_ATTEMPTS", cls.notify_max_attempts, minimum=1
            ),
            notify_backoff_base_seconds=_float(
                env,
                "RELGATE_NOTIFY_BACKOFF_BASE_SECONDS",
                cls.notify_backoff_base_seconds,
                minimum=0.001,
            ),
            notify_backoff_cap_seconds=_float(
                env,
                "RELGATE_NOTIFY_BACKOFF_CAP_SECONDS",
                cls.notify_backoff_cap_seconds,
                minimum=0.001,
            ),
            notify_lease_seconds=_float(
                env, "RELGATE_NOTIFY_LEASE_SECONDS", cls.notify_lease_seconds, minimum=1
            ),
            notify_connect_timeout_seconds=_float(
                env,
                "RELGATE_NOTIFY_CONNECT_TIMEOUT_SECONDS",
                cls.notify_connect_timeout_seconds,
                minimum=0.01,
            ),
            notify_read_timeout_seconds=_float(
                env,
                "RELGATE_NOTIFY_READ_TIMEOUT_SECONDS",
                cls.notify_read_timeout_seconds,
                minimum=0.01,
            ),
            metrics_token=env.get("RELGATE_METRICS_TOKEN", ""),
            web_session_idle_minutes=_float(
                env, "RELGATE_WEB_SESSION_IDLE_MINUTES", cls.web_session_idle_minutes, minimum=0.01
            ),
            web_session_hours=_float(
                env, "RELGATE_WEB_SESSION_HOURS", cls.web_session_hours, minimum=0.01
            ),
        )

    def audit_key_path(self) -> Path:
        """Return the audit signing key's file.

        RELGATE_AUDIT_KEY_FILE when set; else beside a SQLite database file
        (``relgate.db`` -> ``relgate-audit-key.pem``); else ``audit-key.pem`` in the
        data folder (RELGATE_DATA_DIR, default ``$XDG_DATA_HOME/relgate`` or
        ``~/.local/share/relgate``).
        """
        if self.audit_key_file:
            return Path(self.audit_key_file)
        database = _sqlite_file(self.database_url)
        if database is not None:
            return database.with_name(f"{database.stem}-audit-key.pem")
        return Path(self.data_dir or _default_data_dir(os.environ)) / "audit-key.pem"


def parse_audit_sinks(raw: str) -> tuple[AuditSinkSetting, ...]:
    """Read RELGATE_AUDIT_SINKS: sinks separated by spaces, each ``file:PATH``, ``git:PATH``
    or ``webhook:URL`` (a bare ``http(s)://`` URL is a webhook).

    Raises BadInput naming the item that is none of these.
    """
    sinks: list[AuditSinkSetting] = []
    for item in raw.split():
        if item.startswith(("http://", "https://")):
            sinks.append(AuditSinkSetting(SinkKind.WEBHOOK, item))
            continue
        kind, _, target = item.partition(":")
        try:
            sink_kind = SinkKind(kind)
        except ValueError:
            sink_kind = None
        if sink_kind is None or not target:
            raise BadInput(
                f"RELGATE_AUDIT_SINKS: {item!r} is not file:PATH, git:PATH or webhook:URL"
            )
        if sink_kind is SinkKind.WEBHOOK and not target.startswith(("http://", "https://")):
            raise BadInput(f"RELGATE_AUDIT_SINKS: {item!r}: a webhook needs an http(s) URL")
        sinks.append(AuditSinkSetting(sink_kind, target))
    return tuple(sinks)


def _public_url(raw: str) -> str:
    """Read RELGATE_PUBLIC_URL (links in notifications); raises BadInput for a non-http(s) URL."""
    raw = raw.strip().rstrip("/")
    if raw and not raw.startswith(("http://", "https://")):
        raise BadInput(f"RELGATE_PUBLIC_URL={raw!r} is not an http(s) URL")
    return raw


def _default_data_dir(env: Mapping[str, str]) -> str:
    base = env.get("XDG_DATA_HOME") or str(
        Path(env.get("HOME", "~")).expanduser() / ".local" / "share"
    )
    return str(Path(base) / "relgate")


def _sqlite_file(url: str) -> Path | None:
    """Return the file of a ``sqlite:///FILE`` URL; None for another database or memory."""
    scheme, separator, rest = url.partition(":///")
    if not separator or scheme.split("+", 1)[0] != "sqlite":
        return None
    path = rest.split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path)


def server_environment() -> Mapping[str, str]:
    """Return the server's own environment, where ``--secret-env`` values of deployers are read."""
    return os.environ


@dataclass(frozen=True)
class ClientSettings:
    """Where the CLI finds the server.

    Flags first, then RELGATE_URL and RELGATE_TOKEN, then what `relgate login` stored.
    """

    url: str
    token: str | None

    @classmethod
    def resolve(
        cls, url: str | None, token: str | None, env: Mapping[str, str] | None = None
    ) -> ClientSettings:
        env = os.environ if env is None else env
        stored = read_login(env)
        return cls(
            url=(
                url
                or env.get("RELGATE_URL")
                or stored.get("url")
                or f"http://127.0.0.1:{DEFAULT_PORT}"
            ).rstrip("/"),
            token=token or env.get("RELGATE_TOKEN") or stored.get("token"),
        )


def login_path(env: Mapping[str, str] | None = None) -> Path:
    """Return the file `relgate login` writes: $XDG_CONFIG_HOME/relgate/login.json."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "relgate" / "login.json"


def read_login(env: Mapping[str, str] | None = None) -> dict[str, str]:
    import json

    path = login_path(env)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def write_login(url: str, token: str, env: Mapping[str, str] | None = None) -> Path:
    """Store the server URL and token with mode 0600; return the file's path."""
    import json

    path = login_path(env)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": url, "token": token}, handle)
    os.chmod(path, 0o600)
    return path


def _int(env: Mapping[str, str], key: str, default: int, *, minimum: int | None = None) -> int:
    raw = env.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadInput(f"{key}={raw!r} is not a whole number") from None
    if minimum is not None and value < minimum:
        raise BadInput(f"{key}={raw!r} must be at least {minimum}")
    return value


def _float(
    env: Mapping[str, str], key: str, default: float, *, minimum: float | None = None
) -> float:
    raw = env.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(f"{key}={raw!r} is not a number") from None
    if minimum is not None and not value >= minimum:
        raise BadInput(f"{key}={raw!r} must be at least {minimum}")
    return value
