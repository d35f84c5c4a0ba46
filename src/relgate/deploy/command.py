"""The command deployer: a deploy or verify command, its environment, folder and user.

The command itself runs as a supervised process group (relgate.deploy.process).

A command sees a minimal environment (:func:`request_environment`), never the
server's own: relgate's database URL and settings, and whatever else the
server was started with, stay out of a deploy script's reach.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shlex
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from relgate.deploy.config import CommandDeployerSpec, CommandVerifySpec
from relgate.deploy.ports import DeployRequest, LogSink, StepOutcome
from relgate.deploy.process import RunAs, program_name, run_command

__all__ = ["CommandDeployer", "RunAs", "command_for", "program_name", "run_command", "run_spec"]

# what a command inherits from the server, whatever its definition says: enough to
# find programs, a home and the locale; LC_* follow LANG, TZ the clock's zone
BASE_VARIABLES = ("PATH", "HOME", "LANG", "LANGUAGE", "TZ")


def request_environment(
    request: DeployRequest,
    *,
    env: Mapping[str, str],
    env_allow: Sequence[str] = (),
    secrets: Mapping[str, str] | None = None,
    workdir: Path | None = None,
    home: str | None = None,
    source: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Return the environment of a deploy or verify command for ``request``.

    It holds PATH, HOME, LANG, LANGUAGE, TZ and LC_* of ``source`` (the
    server's environment by default), the variables ``env_allow`` names that
    ``source`` has, then ``env`` and ``secrets`` with their own values, then
    the RELGATE_* variables of the deployment (and RELGATE_WORKDIR and TMPDIR
    when ``workdir`` is given). ``home`` replaces HOME (the home of the
    ``run_as`` user). Nothing else of ``source`` is passed; a RELGATE_* name in
    ``env_allow`` is skipped (the spec refuses it when it is read).
    """
    server = os.environ if source is None else source
    result = {
        name: value
        for name, value in server.items()
        if name in BASE_VARIABLES or name.startswith("LC_")
    }
    result.setdefault("PATH", os.defpath)
    if home is not None:
        result["HOME"] = home
    for name in env_allow:
        if name in server and not name.upper().startswith("RELGATE_"):
            result[name] = server[name]
    result.update(env)
    result.update(secrets or {})
    result.update(
        {
            "RELGATE_SERVICE": request.service,
            "RELGATE_ENVIRONMENT": request.environment,
            "RELGATE_VERSION": request.version,
            "RELGATE_ARTIFACT": request.artifact,
            "RELGATE_PREVIOUS_ARTIFACT": request.previous_artifact or "",
            "RELGATE_DEPLOYMENT_ID": request.deployment_id,
            "RELGATE_REASON": request.reason,
            # the fencing token: a script that writes somewhere shared can record it
            # and refuse to overwrite a newer attempt's write
            "RELGATE_FENCE": request.fence,
        }
    )
    if workdir is not None:
        result["RELGATE_WORKDIR"] = str(workdir)
        result["TMPDIR"] = str(workdir)
    return result


def resolve_user(name: str) -> RunAs | str:
    """Return the user ``name`` as a :class:`RunAs`, or why a command cannot run as it.

    Changing user needs root: when the server runs as anyone else this says so
    instead of letting the command run as the server's own user.
    """
    if os.geteuid() != 0:
        return f"run_as {name} needs relgate to run as root, and it runs as uid {os.geteuid()}"
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return f"run_as {name}: no such user on the server"
    return RunAs(name, entry.pw_uid, entry.pw_gid, entry.pw_dir)


@contextlib.contextmanager
def deployment_folder(request: DeployRequest, user: RunAs | None) -> Iterator[Path]:
    """Yield a fresh folder of this deployment's own (mode 0700), removed afterwards.

    It belongs to ``user`` when one is given, so a command run as another user
    can write there.
    """
    folder = Path(tempfile.mkdtemp(prefix=f"relgate-{_safe(request.deployment_id)}-"))
    try:
        if user is not None:
            os.chown(folder, user.uid, user.gid)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _safe(text: str) -> str:
    return "".join(char if char.isalnum() or char in "-_" else "_" for char in text)[:40]


def run_spec(
    spec: CommandDeployerSpec | CommandVerifySpec,
    request: DeployRequest,
    *,
    base_dir: Path,
    log: LogSink,
    cancel: threading.Event | None,
    label: str,
) -> StepOutcome:
    """Run the command of ``spec`` for ``request`` in a minimal environment of its own.

    The command runs as ``spec.run_as`` when set, with a folder of its own
    (RELGATE_WORKDIR, also TMPDIR): ``request.workdir`` when the worker made
    one for the deployment attempt, else a fresh folder removed when it ends.
    It starts in ``spec.cwd`` (relative to ``base_dir``, the server's working
    folder) when given, else in that folder of its own; see :func:`command_for`
    for where a relative program is found. Returns the outcome of
    :func:`run_command`, or a failed one saying why it cannot run as
    ``run_as``. Never raises for a failing command.
    """
    user: RunAs | None = None
    if spec.run_as is not None:
        resolved = resolve_user(spec.run_as)
        if isinstance(resolved, str):
            return StepOutcome(False, f"cannot run {program_name(spec.command)}: {resolved}")
        user = resolved
    with _own_folder(request, user) as folder:
        env = request_environment(
            request,
            env=spec.env,
            env_allow=spec.env_allow,
            secrets=spec.secrets,
            workdir=folder,
            home=user.home if user is not None else None,
        )
        return run_command(
            command_for(spec.command, spec.cwd, base_dir),
            cwd=resolve_cwd(spec.cwd, base_dir) if spec.cwd else folder,
            env=env,
            timeout=spec.timeout_seconds,
            kill_grace=spec.kill_grace_seconds,
            log=log,
            cancel=cancel,
            label=label,
            user=user,
            shown=program_name(spec.command),
        )


@contextlib.contextmanager
def _own_folder(request: DeployRequest, user: RunAs | None) -> Iterator[Path]:
    """The deployment attempt's folder from the worker, else a fresh one for this command."""
    if request.workdir is not None:
        if user is not None:
            # made by the worker as the server's user: the command's user must write there
            os.chown(request.workdir, user.uid, user.gid)
        yield request.workdir
        return
    with deployment_folder(request, user) as folder:
        yield folder


def resolve_cwd(cwd: str | None, base_dir: Path) -> Path:
    """Return the working directory of a command: ``cwd`` taken relative to ``base_dir``."""
    return base_dir / cwd if cwd else base_dir


# a shell line's first word after `NAME=value` assignments, when it is a relative path
# of plain characters (`./deploy.sh`, `ops/deploy.sh`), up to a blank or an operator
_RELATIVE_PROGRAM = re.compile(
    r"^(?P<before>\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*)"
    r"(?P<program>[\w.+@%,:-]+/[\w.+@%,:/-]*)"
    r"(?=$|[\s;&|<>()])"
)


def command_for(command: str | Sequence[str], cwd: str | None, base_dir: Path) -> str | list[str]:
    """Return ``command`` with a relative program path made absolute where relgate finds it.

    With ``cwd`` the command starts there and a relative program (``./deploy.sh``)
    is looked up there, as a shell does. Without ``cwd`` the command starts in
    the deployment's own (empty) folder, and a relative program is taken from
    ``base_dir``, the server's working folder: ``./deploy.sh`` keeps meaning
    the script installed beside the server. A bare name (``kubectl``) is looked
    up in PATH either way.
    """
    if cwd:
        return command if isinstance(command, str) else list(command)
    if not isinstance(command, str):
        argv = list(command)
        if argv and "/" in argv[0] and not argv[0].startswith("/"):
            argv[0] = str(base_dir / argv[0])
        return argv
    return _RELATIVE_PROGRAM.sub(
        lambda match: match["before"] + shlex.quote(str(base_dir / match["program"])),
        command,
        count=1,
    )


class CommandDeployer:
    """Deploys by running a command with the deployment described in RELGATE_* variables."""

    def __init__(self, spec: CommandDeployerSpec, *, base_dir: Path) -> None:
        self._spec = spec
        self._base_dir = base_dir

    def deploy(
        self, request: DeployRequest, log: LogSink, *, cancel: threading.Event | None = None
    ) -> StepOutcome:
        """Run the deploy command for ``request``, streaming its output to ``log``.

        Returns succeeded when it exits 0 in time; a failed outcome naming the
        exit code, the timeout, ``cancelled`` or why it could not start
        otherwise. Never raises for a failing command.
        """
        return run_spec(
            self._spec,
            request,
            base_dir=self._base_dir,
            log=log,
            cancel=cancel,
            label="deploy command",
        )
