"""One bounded HTTP GET for the providers: a timeout, and a size past which it is refused."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from relgate.analysis.providers.ports import ProviderError


def get_bounded(
    client: httpx.Client,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float,
    max_bytes: int,
    what: str,
) -> tuple[int, bytes]:
    """Return the status and body of ``GET url``.

    Raises ProviderError naming ``what`` when the server cannot be reached, does
    not answer within ``timeout`` seconds, or answers more than ``max_bytes``.
    """
    try:
        with client.stream("GET", url, params=params, headers=headers, timeout=timeout) as response:
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise ProviderError(f"{what} answered more than {max_bytes} bytes")
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise ProviderError(f"{what} answered more than {max_bytes} bytes")
            return response.status_code, bytes(body)
    except httpx.TimeoutException:
        raise ProviderError(f"{what} did not answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise ProviderError(f"{what} could not be reached: {exc}") from None
