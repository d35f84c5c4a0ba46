"""A schemathesis run over the OpenAPI document against a real server on SQLite with data in it.

Every operation is called with generated input (valid and invalid) as an
admin, a ci, an approver and a flag client token, with a fixed seed and a
bounded number of examples. No answer may be a 5xx, and every answer must be
one the document declares, in the declared content type and schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.api.conftest import SERVICE, Seeded, seed
from tests.e2e.control.conftest import start_server, stop_server

MAX_EXAMPLES = 12
SEED = 20261202
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    workdir: Path = tmp_path_factory.mktemp("relgate-schemathesis")
    proc, url, token = start_server(workdir)
    try:
        yield seed((url, token, workdir))
    finally:
        stop_server(proc)


def _document() -> dict[str, Any]:
    """Return the server's OpenAPI document, built in process (no database is touched).

    schemathesis needs the operations when pytest collects the tests, before
    any server runs; ``test_the_served_document_is_the_one_tested`` checks that
    the real server serves this same document.
    """
    from relgate.api.app import create_app
    from relgate.bootstrap import build
    from relgate.config import Settings

    services = build(Settings(database_url="sqlite://"))
    document: dict[str, Any] = create_app(services, start_workers=False).openapi()
    services.uow.engine.dispose()
    return document


DOCUMENT = _document()
# the event stream holds its answer open for minutes: it is no operation for a fuzzer
schema = schemathesis.openapi.from_dict(DOCUMENT).exclude(path="/api/client/streaming")
# The coverage phase (every parameter's boundary and negative values, whatever max_examples
# says) walks the same validation code for every role: it runs once, as the admin, whose
# token reaches every handler. The other roles get the examples and fuzzing phases, which is
# where what differs by role (403s, scoped reads) shows.
_WITHOUT_COVERAGE = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
schema_by_role = schemathesis.openapi.from_dict(DOCUMENT, config=_WITHOUT_COVERAGE).exclude(
    path="/api/client/streaming"
)


def test_the_served_document_is_the_one_tested(seeded_sqlite: Seeded) -> None:
    served = httpx.get(seeded_sqlite.url + "/api/v1/openapi.json", timeout=30).json()

    assert served == DOCUMENT


CASES: dict[str, int] = {}
_FRAMING_HEADERS = {"transfer-encoding", "content-length", "connection", "host", "expect"}


def _real_names(seeded_: Seeded) -> dict[str, Any]:
    return {
        "service": SERVICE,
        "version": "1.0.0",
        "environment": "dev",
        "key": "new-checkout",
        "deployment_id": seeded_.deployment_id,
        "revision": 1,
        "name": "shop-production",
    }


def _run(case: schemathesis.Case, seeded_sqlite: Seeded, role: str) -> None:
    CASES[role] = CASES.get(role, 0) + 1
    if CASES[role] % 2 and case.path_parameters:
        # every other case names what exists, so that more than the 404 paths are walked
        real = _real_names(seeded_sqlite)
        for name in case.path_parameters:
            if name in real:
                case.path_parameters[name] = real[name]
    if case.headers:
        # framing headers are the HTTP server's (uvicorn answers a malformed one in
        # text/plain before relgate sees the request), not the API's
        for name in list(case.headers):
            if name.lower() in _FRAMING_HEADERS:
                del case.headers[name]
    token = seeded_sqlite.tokens[role]
    case.call_and_validate(
        base_url=seeded_sqlite.url,
        headers={"Authorization": f"Bearer {token}"},
        checks=CHECKS,
        timeout=30,
    )


_settings = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@schema.parametrize()
@_settings
@hypothesis.seed(SEED)
def test_the_api_holds_its_document_for_an_admin(
    case: schemathesis.Case, seeded_sqlite: Seeded
) -> None:
    _run(case, seeded_sqlite, "admin")


@schema_by_role.parametrize()
@_settings
@hypothesis.seed(SEED)
def test_the_api_holds_its_document_for_a_ci_token(
    case: schemathesis.Case, seeded_sqlite: Seeded
) -> None:
    _run(case, seeded_sqlite, "ci")


@schema_by_role.parametrize()
@_settings
@hypothesis.seed(SEED)
def test_the_api_holds_its_document_for_an_approver(
    case: schemathesis.Case, seeded_sqlite: Seeded
) -> None:
    _run(case, seeded_sqlite, "approver")


@schema_by_role.parametrize()
@_settings
@hypothesis.seed(SEED)
def test_the_api_holds_its_document_for_a_flag_client(
    case: schemathesis.Case, seeded_sqlite: Seeded
) -> None:
    _run(case, seeded_sqlite, "client")


# a frontend token reaches only /api/frontend: the other operations answer it 403
schema_frontend = schemathesis.openapi.from_dict(DOCUMENT, config=_WITHOUT_COVERAGE).include(
    path_regex=r"^/api/frontend"
)


@schema_frontend.parametrize()
@_settings
@hypothesis.seed(SEED)
def test_the_api_holds_its_document_for_a_frontend_token(
    case: schemathesis.Case, seeded_sqlite: Seeded
) -> None:
    _run(case, seeded_sqlite, "frontend")


def test_thousands_of_cases_were_sent() -> None:
    # runs after the four above (pytest keeps the file's order)
    assert sum(CASES.values()) >= 2000, CASES
    print(f"schemathesis sent {CASES}")
