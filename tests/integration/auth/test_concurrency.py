"""Two requests at once: one identity for one name, and never zero admins."""

from __future__ import annotations

import threading
from collections.abc import Callable

from relgate.bootstrap import Services
from relgate.errors import Conflict, RelgateError
from tests.integration.auth.conftest import MakeToken


def _at_once(calls: list[Callable[[], object]]) -> list[object]:
    """Run ``calls`` in threads released together; return each result or RelgateError."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except RelgateError as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_tokens_created_at_once_for_a_new_person_share_one_identity(
    services: Services,
) -> None:
    results = _at_once(
        [
            lambda: services.tokens.create("kim-1", "approver", "admin", identity="Kim"),
            lambda: services.tokens.create("kim-2", "approver", "admin", identity="kim "),
        ]
    )

    assert not [r for r in results if isinstance(r, RelgateError)]
    identities = {t.name: t.identity for t in services.tokens.list_tokens()}
    assert identities == {"kim-1": "kim", "kim-2": "kim"}


def test_revoking_the_last_two_admins_at_once_leaves_one(
    services: Services, token: MakeToken
) -> None:
    first = token("first", "admin")
    second = token("second", "admin")

    results = _at_once(
        [
            lambda: services.tokens.revoke("first", second),
            lambda: services.tokens.revoke("second", first),
        ]
    )

    assert sorted(type(r).__name__ for r in results) == ["Conflict", "NoneType"]
    assert all("last admin token" in str(r) for r in results if isinstance(r, Conflict))
    live = [t.name for t in services.tokens.list_tokens() if not t.revoked]
    assert len(live) == 1
