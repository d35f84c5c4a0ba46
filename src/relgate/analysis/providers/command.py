"""Read a metric by running a program (an argv list, no shell) that prints it.

The program's words are templated like queries (``{{canary_version}}``...) and
it gets them as variables too: RELGATE_ANALYSIS_SERVICE, _ENVIRONMENT,
_STABLE_VERSION, _CANARY_VERSION, _VERSION (the side read), _SIDE (canary or
stable) and _WINDOW_SECONDS. It must exit 0 within ``timeout`` and print, on
stdout (at most ``max_output_bytes``):

- a number (``0.012``; ``NaN`` is no data), or nothing / ``null`` (no data);
- a JSON list of numbers: the samples of the window (for a judge);
- a JSON object ``{"value": 0.012, "requests": 250}`` or ``{"values": [...]}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from typing import IO, Any

from relgate.analysis.config import CommandProviderSpec
from relgate.analysis.model import MetricQuery, Reading
from relgate.analysis.providers.ports import ProviderError
from relgate.analysis.templating import render_plain, variables

_STDERR_SHOWN = 500
_MAX_SAMPLES = 100_000


def _environment(query: MetricQuery, spec: CommandProviderSpec) -> dict[str, str]:
    context = query.context
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        **spec.env,
        "RELGATE_ANALYSIS_SERVICE": context.service,
        "RELGATE_ANALYSIS_ENVIRONMENT": context.environment,
        "RELGATE_ANALYSIS_STABLE_VERSION": context.stable_version,
        "RELGATE_ANALYSIS_CANARY_VERSION": context.canary_version,
        "RELGATE_ANALYSIS_VERSION": query.version,
        "RELGATE_ANALYSIS_SIDE": str(query.side),
        "RELGATE_ANALYSIS_WINDOW_SECONDS": f"{query.window_seconds:g}",
    }


class _Bounded:
    """Read a pipe to its end keeping at most ``limit`` bytes; ``over`` once more came."""

    def __init__(self, stream: IO[bytes], limit: int, on_over: Any) -> None:
        self.data = bytearray()
        self.over = False
        self._stream, self._limit, self._on_over = stream, limit, on_over
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while chunk := self._stream.read1(65536):  # type: ignore[attr-defined]
            room = self._limit - len(self.data)
            self.data.extend(chunk[: max(room, 0)])
            if len(chunk) > room and not self.over:
                self.over = True
                self._on_over()


def parse_output(text: str) -> Reading:
    """Return the reading a command printed; raises ProviderError when it is not one."""
    text = text.strip()
    if not text:
        return Reading()
    try:
        return Reading(value=float(text))
    except ValueError:
        pass
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ProviderError(
            f"the command printed {text[:80]!r}: not a number nor JSON "
            '(print 0.01, [1, 2, 3] or {"value": 0.01, "requests": 200})'
        ) from None
    if data is None:
        return Reading()
    if isinstance(data, list):
        return Reading(samples=_numbers(data, "sample"))
    if isinstance(data, dict):
        unknown = set(data) - {"value", "values", "requests"}
        if unknown:
            raise ProviderError(
                f"the command's JSON has unknown keys: {', '.join(sorted(unknown))}"
            )
        value = data.get("value")
        requests = data.get("requests")
        return Reading(
            value=None if value is None else _number(value, "value"),
            samples=_numbers(data.get("values") or [], "sample"),
            requests=None if requests is None else _number(requests, "requests"),
        )
    return Reading(value=_number(data, "output"))


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProviderError(f"the command's {what} is {value!r:.80}, not a number")
    return float(value)


def _numbers(values: Any, what: str) -> tuple[float, ...]:
    if not isinstance(values, list) or len(values) > _MAX_SAMPLES:
        raise ProviderError(
            f"the command's samples ({what}s) must be a list of at most {_MAX_SAMPLES} numbers"
        )
    return tuple(_number(value, what) for value in values)


class CommandProvider:
    """A MetricProvider that runs a program for each reading."""

    def __init__(self, spec: CommandProviderSpec, *, base_dir: str | None = None) -> None:
        self.spec = spec
        self._cwd = (
            spec.cwd if base_dir is None or spec.cwd is None else os.path.join(base_dir, spec.cwd)
        )

    def close(self) -> None:
        """Nothing is held between two readings."""

    def begin(self, query: MetricQuery) -> None:
        """Nothing to prepare: the command reads the window itself."""

    def read(self, query: MetricQuery) -> Reading:
        """Run the command for ``query``'s side; raises ProviderError when it fails."""
        spec = self.spec
        values = variables(query)
        argv = [render_plain(word, values) for word in spec.command]
        program = argv[0]
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=self._cwd,
                env=_environment(query, spec),
                start_new_session=True,
            )
        except OSError as exc:
            raise ProviderError(f"the command {program} could not start: {exc.strerror}") from None

        def kill() -> None:
            # its own session: the group holds everything it started, and nothing else
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

        assert process.stdout is not None and process.stderr is not None
        stdout = _Bounded(process.stdout, spec.max_output_bytes, kill)
        stderr = _Bounded(process.stderr, _STDERR_SHOWN, lambda: None)
        try:
            code = process.wait(spec.timeout)
        except subprocess.TimeoutExpired:
            kill()
            process.wait()
            raise ProviderError(
                f"the command {program} did not finish within {spec.timeout:g} s"
            ) from None
        finally:
            kill()
            stdout.thread.join(5)
            stderr.thread.join(5)
            process.stdout.close()
            process.stderr.close()
        if stdout.over:
            raise ProviderError(
                f"the command {program} printed more than {spec.max_output_bytes} bytes"
            )
        if code != 0:
            said = stderr.data.decode("utf-8", "replace").strip()
            raise ProviderError(
                f"the command {program} exited {code}" + (f": {said}" if said else "")
            )
        try:
            text = stdout.data.decode("utf-8")
        except UnicodeDecodeError:
            raise ProviderError(f"the command {program} printed text that is not UTF-8") from None
        return parse_output(text)
