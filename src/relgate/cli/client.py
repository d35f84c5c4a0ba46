"""The CLI's HTTP client of a relgate server: one place that turns answers into values or errors.

The server and token come from ``--url``/``--token``, else RELGATE_URL /
RELGATE_TOKEN, else the file written by ``relgate login`` (see
``relgate.config.ClientSettings``). Error answers become the classes of
``relgate.errors`` again, so the CLI's exit codes are the same whether a use
case ran in this process or on the server. httpx is imported on first use, so
``relgate version`` never pays for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from relgate.errors import (
    BadInput,
    Conflict,
    ExternalError,
    Forbidden,
    GateFailed,
    NotFound,
    RelgateError,
    Unauthorized,
)

if TYPE_CHECKING:
    import httpx

DEFAULT_TIMEOUT_SECONDS = 30.0

_NO_SERVER_HINT = (
    "is `relgate serve` running? (set RELGATE_URL or run `relgate login URL --token T`)"
)
_NO_TOKEN_HINT = "set RELGATE_TOKEN, pass --token, or run `relgate login URL --token T`"


class GateRefused(GateFailed):
    """The server refused a promotion; ``gates`` holds every gate's {gate, status, reason}."""

    def __init__(self, message: str, gates: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.gates = gates


def error_from_answer(status: int, body: Any, *, what: str) -> RelgateError:
    """Return the relgate error an error answer stands for.

    ``body`` is the decoded JSON (or None when the body was not JSON) and
    ``what`` names the request (``POST /api/v1/releases``) for answers that
    carry no message of relgate's own. 400 gives BadInput, 401 Unauthorized,
    403 Forbidden, 404 NotFound, 409 GateRefused (code ``gate_failed``, with
    the gates) or Conflict, 5xx ExternalError; any other 4xx gives BadInput.
    """
    error = body.get("error") if isinstance(body, dict) else None
    code = ""
    message = ""
    if isinstance(error, dict):
        code = str(error.get("code") or "")
        message = str(error.get("message") or "")
    if not message:
        # FastAPI's own answers (an unknown route, a wrong method) say {"detail": ...}
        detail = body.get("detail") if isinstance(body, dict) else None
        message = f"{what}: HTTP {status}" + (f" ({detail})" if detail else "")
    if status == 400:
        return BadInput(message)
    if status == 401:
        return Unauthorized(message)
    if status == 403:
        return Forbidden(message)
    if status == 404:
        return NotFound(message)
    if status == 409:
        if code == "gate_failed":
            gates = error.get("gates") if isinstance(error, dict) else None
            return GateRefused(message, gates if isinstance(gates, list) else [])
        return Conflict(message)
    if status >= 500:
        return ExternalError(f"the relgate server failed: {message}")
    return BadInput(message)


class Client:
    """A connection to one relgate server, authenticated by one API token.

    Use it as a context manager, or call ``close``. Every method returns the
    decoded JSON of a successful answer and raises the error the server
    reported (see ``error_from_answer``), or ExternalError when the server
    cannot be reached or does not answer in time.
    """

    def __init__(
        self, url: str, token: str | None, *, timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.token = token
        headers = {"Accept": "application/json", "User-Agent": _user_agent()}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise BadInput(f"relgate URL {url!r} is not an http(s) address: {exc}") from None
        if not self.url.startswith(("http://", "https://")):
            self._http.close()
            raise BadInput(
                f"relgate URL {url!r} is not an http(s) address, e.g. http://127.0.0.1:8700"
            )

    @classmethod
    def from_flags(cls, url: str | None, token: str | None) -> Client:
        """Return a client for the server chosen by the flags, the environment or the login file."""
        from relgate.config import ClientSettings

        settings = ClientSettings.resolve(url, token)
        return cls(settings.url, settings.token)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` (under the server's URL); return the decoded JSON."""
        return self._json(self._send("GET", path, params=params))

    def post(
        self,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
    ) -> Any:
        """POST a JSON body (or raw ``content``) to ``path``; return the decoded JSON."""
        return self._json(self._send("POST", path, json=json, params=params, content=content))

    def put(self, path: str, *, json: Any = None) -> Any:
        """PUT a JSON body to ``path``; return the decoded JSON."""
        return self._json(self._send("PUT", path, json=json))

    def patch(self, path: str, *, json: Any = None) -> Any:
        """PATCH ``path`` with a JSON body; return the decoded JSON."""
        return self._json(self._send("PATCH", path, json=json))

    def delete(self, path: str) -> Any:
        """DELETE ``path``; return the decoded JSON."""
        return self._json(self._send("DELETE", path))

    def text(self, path: str, *, params: Mapping[str, Any] | None = None) -> str:
        """GET ``path`` and return the body as text (for plain-text answers such as logs)."""
        return self._send("GET", path, params=params).text

    def content(self, path: str) -> bytes:
        """GET ``path`` and return the body's bytes as sent (a stored report)."""
        return self._send("GET", path).content

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        import httpx

        query = {key: value for key, value in (params or {}).items() if value is not None}
        headers = {"Content-Type": "application/octet-stream"} if content is not None else None
        try:
            response = self._http.request(
                method, path, json=json, params=query, content=content, headers=headers
            )
        except httpx.ConnectError:
            raise ExternalError(f"cannot reach relgate at {self.url}: {_NO_SERVER_HINT}") from None
        except httpx.TimeoutException:
            raise ExternalError(
                f"relgate at {self.url} did not answer {method} {path} in time"
            ) from None
        except httpx.InvalidURL as exc:
            raise BadInput(f"relgate URL {self.url!r} cannot be used: {exc}") from None
        except httpx.HTTPError as exc:
            raise ExternalError(f"talking to relgate at {self.url} failed: {exc}") from None
        if response.is_success:
            return response
        error = error_from_answer(response.status_code, _decoded(response), what=f"{method} {path}")
        if isinstance(error, Unauthorized) and not self.token:
            error = Unauthorized(f"no API token for relgate at {self.url}: {_NO_TOKEN_HINT}")
        elif isinstance(error, Unauthorized):
            error = Unauthorized(f"{error.message} ({_NO_TOKEN_HINT})")
        raise error

    def _json(self, response: httpx.Response) -> Any:
        body = _decoded(response)
        if body is None and response.content:
            raise ExternalError(
                f"relgate at {self.url} answered {response.request.method} "
                f"{response.request.url.path} with something that is not JSON; "
                "is RELGATE_URL the address of a relgate server?"
            )
        return body


def _decoded(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _user_agent() -> str:
    from relgate import __version__

    return f"relgate-cli/{__version__}"
