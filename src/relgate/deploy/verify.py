"""Verifiers: is what was just deployed healthy?"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from relgate.deploy.command import run_spec
from relgate.deploy.config import CommandVerifySpec, HttpVerifySpec
from relgate.deploy.ports import DeployRequest, LogSink, StepOutcome, pause

# Bodies are only searched for a short text; a huge page is not read whole.
MAX_BODY_BYTES = 1024 * 1024


def expand(template: str, request: DeployRequest) -> str:
    """Return ``template`` with {service}, {environment} and {version} replaced from ``request``.

    Other braces are left as they are, so a URL or body text may contain them.
    """
    return (
        template.replace("{service}", request.service)
        .replace("{environment}", request.environment)
        .replace("{version}", request.version)
    )


def redact(url: str) -> str:
    """Return ``url`` with the password of its user info, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


class HttpVerifier:
    """Polls an HTTP endpoint until it answers as expected enough times in a row."""

    def __init__(self, spec: HttpVerifySpec) -> None:
        self._spec = spec

    def verify(
        self, request: DeployRequest, log: LogSink, *, cancel: threading.Event | None = None
    ) -> StepOutcome:
        """Poll the health URL for ``request``, logging one line per attempt.

        Returns succeeded after ``consecutive_successes`` healthy answers in a
        row; a failed outcome naming the URL and the last answer (or connection
        error) when ``timeout_seconds`` pass first, or ``cancelled``. Never raises.
        """
        spec = self._spec
        url = expand(spec.url, request)
        # messages and logs are stored and shown: never with a password in them
        shown = redact(url)
        needle = expand(spec.expect_body_contains, request) if spec.expect_body_contains else None
        deadline = time.monotonic() + spec.timeout_seconds
        in_a_row = 0
        attempt = 0
        last = "gave no answer"
        # trust_env stays on: a health URL may sit behind the proxy the host is told to use
        with httpx.Client(follow_redirects=False) as client:
            while True:
                if cancel is not None and cancel.is_set():
                    return StepOutcome(False, "cancelled")
                attempt += 1
                remaining = deadline - time.monotonic()
                # the last attempt is cut short so the step ends at its timeout
                healthy, last = self._attempt(
                    client, url, needle, max(min(spec.request_timeout_seconds, remaining), 0.001)
                )
                in_a_row = in_a_row + 1 if healthy else 0
                log(f"health check {attempt}: GET {shown} {last}")
                if in_a_row >= spec.consecutive_successes:
                    return StepOutcome(True, f"health check {shown} {last}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if pause(min(spec.interval_seconds, remaining), cancel):
                    return StepOutcome(False, "cancelled")
                if deadline - time.monotonic() <= 0:
                    break
        if in_a_row:
            return StepOutcome(
                False,
                f"health check {shown} {last} only {in_a_row} of "
                f"{spec.consecutive_successes} times in a row within {spec.timeout_seconds:g} s",
            )
        return StepOutcome(False, f"health check {shown} {last} for {spec.timeout_seconds:g} s")

    def _attempt(
        self, client: httpx.Client, url: str, needle: str | None, timeout: float
    ) -> tuple[bool, str]:
        """Make one request; return whether it was healthy and how it answered, in words."""
        try:
            with client.stream("GET", url, timeout=timeout) as response:
                body = bytearray()
                if needle is not None:
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) >= MAX_BODY_BYTES:
                            break
        except httpx.TimeoutException:
            return False, f"gave no answer within {self._spec.request_timeout_seconds:g} s"
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return False, f"could not be reached ({exc or type(exc).__name__})"
        status = response.status_code
        if status != self._spec.expect_status:
            return False, f"answered {status}"
        if needle is not None and needle not in body.decode("utf-8", errors="replace"):
            return False, f"answered {status} without {needle!r} in its body"
        return True, f"answered {status}"


class CommandVerifier:
    """Verifies by running a command (smoke tests) that must exit 0 within its timeout."""

    def __init__(self, spec: CommandVerifySpec, *, base_dir: Path) -> None:
        self._spec = spec
        self._base_dir = base_dir

    def verify(
        self, request: DeployRequest, log: LogSink, *, cancel: threading.Event | None = None
    ) -> StepOutcome:
        """Run the verify command with the deployer's minimal environment (see ``run_spec``).

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
            label="verify command",
        )
