"""Settings: the only module that reads the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from relgate.errors import BadInput

DEFAULT_PORT = 8700


@dataclass(frozen=True)
class Settings:
    """Server-side settings, read once by ``Settings.from_env``."""

    database_url: str = "sqlite:///relgate.db"
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    worker_threads: int = 2
    job_lease_seconds: float = 30.0
    poll_interval_seconds: float = 0.5
    auto_migrate_sqlite: bool = True
    # deployer definitions of the server's configuration (relgate.promotion.deployers)
    deployers_file: Path | None = None

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
            deployers_file=Path(env["RELGATE_DEPLOYERS_FILE"])
            if env.get("RELGATE_DEPLOYERS_FILE")
            else None,
        )


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


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadInput(f"{key}={raw!r} is not a whole number") from None


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise BadInput(f"{key}={raw!r} is not a number") from None
