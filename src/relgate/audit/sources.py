"""Reading checkpoints back from where the sinks put them: a file, a git repository, a URL."""

from __future__ import annotations

import subprocess
from pathlib import Path

from relgate.audit.checkpoint import parse_line
from relgate.audit.sinks import CHECKPOINTS_FILE
from relgate.audit.verification import SourcedCheckpoint
from relgate.errors import BadInput, ExternalError


def read_source(source: str) -> tuple[list[SourcedCheckpoint], list[str]]:
    """Return the checkpoints in ``source`` and the problems of lines that are not checkpoints.

    ``source`` is an http(s) URL serving JSON lines, a git work tree whose
    committed audit-checkpoints.jsonl is read at HEAD, or a JSON-lines file.
    A line that is not a checkpoint is a problem (the file was altered), not
    an error. Raises BadInput when the source does not exist, ExternalError
    when it cannot be fetched.
    """
    if source.startswith(("http://", "https://")):
        return _parse(_fetch(source), source)
    path = Path(source)
    if path.is_dir():
        if not (path / ".git").exists():
            raise BadInput(f"{source} is a folder but not a git repository of checkpoints")
        return _parse(_committed(path), f"{source}:{CHECKPOINTS_FILE}")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise BadInput(f"checkpoint file {source} does not exist") from None
    except OSError as exc:
        raise BadInput(f"checkpoint file {source} cannot be read: {exc.strerror}") from None
    return _parse(text, source)


def _parse(text: str, name: str) -> tuple[list[SourcedCheckpoint], list[str]]:
    found: list[SourcedCheckpoint] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{name} line {number}"
        try:
            found.append(SourcedCheckpoint(where, parse_line(line, where=where)))
        except BadInput as exc:
            problems.append(f"{exc.message} (not a checkpoint)")
    return found, problems


def _fetch(url: str) -> str:
    import httpx

    try:
        response = httpx.get(url, timeout=30, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise ExternalError(f"cannot fetch checkpoints from {url}: {exc}") from None
    if not response.is_success:
        raise ExternalError(f"cannot fetch checkpoints from {url}: HTTP {response.status_code}")
    return response.text


def _committed(repository: Path) -> str:
    try:
        proc = subprocess.run(
            ["git", "show", f"HEAD:{CHECKPOINTS_FILE}"],
            cwd=repository,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise ExternalError("git is not installed (or not on PATH)") from None
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip()
        raise BadInput(f"{repository}: no committed {CHECKPOINTS_FILE} at HEAD ({message})")
    return proc.stdout.decode("utf-8", "replace")
