"""`relgate flags lint` run as a subprocess on real folders, as a CI step runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

NOW = datetime.now(UTC)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def flag_view(key: str, **fields: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "key": key,
        "type": "release",
        "description": "",
        "owner": "payments-team",
        "tags": [],
        "created_at": iso(NOW - timedelta(days=2)),
        "updated_at": iso(NOW - timedelta(days=2)),
        "expires_at": iso(NOW + timedelta(days=28)),
        "archived_at": None,
        "impression_data": False,
        "dependencies": [],
        "stale": False,
        "stale_reasons": [],
        "environments": {},
        "metrics": {},
    }
    view.update(fields)
    return view


def write(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(content))


def lint(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RELGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "relgate", "flags", "lint", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def service(tmp_path: Path) -> Path:
    """A small service repository: Python back end, TypeScript front end, a vendored library."""
    write(
        tmp_path / "src" / "shop" / "checkout.py",
        """\
        from relgate.sdk import FlagClient

        flags = FlagClient("http://127.0.0.1:8700", "client-token", "shop")


        def checkout(user):
            if flags.is_enabled("express-checkout-v2", {"userId": user.id}):
                return "express"
            return "classic"
        """,
    )
    write(
        tmp_path / "web" / "nav.ts",
        """\
        import { useFlag } from '@unleash/proxy-client-react';
        export const Nav = () => (useFlag('new-nav') ? 'new' : 'old');
        """,
    )
    write(
        tmp_path / "node_modules" / "lib" / "index.js",
        "unleash.isEnabled('library-flag');\n",
    )
    return tmp_path


def write_flags(path: Path, views: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(views))
    return path


def test_an_expired_flag_still_referenced_fails_with_its_file_and_line(service: Path) -> None:
    flags = write_flags(
        service / "flags.json",
        [
            flag_view("express-checkout-v2", expires_at=iso(NOW - timedelta(days=3))),
            flag_view("new-nav"),
        ],
    )
    proc = lint(service, "src", "web", "--flags-file", str(flags))
    assert proc.returncode == 1, proc.stderr
    assert "express-checkout-v2" in proc.stdout
    assert "src/shop/checkout.py:7" in proc.stdout
    assert "failed: expired flags still referenced: express-checkout-v2" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_a_clean_code_base_exits_0(service: Path) -> None:
    flags = write_flags(
        service / "flags.json", [flag_view("express-checkout-v2"), flag_view("new-nav")]
    )
    proc = lint(service, ".", "--flags-file", str(flags))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok: no expired flag is referenced" in proc.stdout
    assert "library-flag" not in proc.stdout


def test_json_report_lists_every_category_and_every_reference(service: Path) -> None:
    long_ago = iso(NOW - timedelta(days=60))
    flags = write_flags(
        service / "flags.json",
        [
            flag_view(
                "express-checkout-v2",
                created_at=long_ago,
                expires_at=iso(NOW - timedelta(days=30)),
                environments={
                    "production": {
                        "enabled": True,
                        "strategies": [{"name": "default", "parameters": {}, "constraints": []}],
                        "variants": [],
                        "updated_at": long_ago,
                        "fully_rolled_out_since": long_ago,
                    }
                },
            ),
            flag_view("forgotten-flag", type="operational", owner=None),
        ],
    )
    proc = lint(service, ".", "--flags-file", str(flags), "--json", "--rolled-out-days", "30")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is False
    assert report["expired_in_use"] == ["express-checkout-v2"]
    assert report["files_scanned"] == 2
    assert report["rolled_out_days"] == 30
    assert report["expired"][0]["references"] == [
        {"path": "src/shop/checkout.py", "line": 7, "column": 25}
    ]
    assert report["undefined"] == [
        {
            "key": "new-nav",
            "archived": False,
            "references": [{"path": "web/nav.ts", "line": 2, "column": 35}],
        }
    ]
    assert report["unreferenced"] == [
        {"key": "forgotten-flag", "type": "operational", "owner": None}
    ]
    assert [s["key"] for s in report["stale"]] == ["express-checkout-v2"]
    assert report["rolled_out"][0]["key"] == "express-checkout-v2"
    assert report["rolled_out"][0]["days"] == 60
    assert {r["key"] for r in report["references"]} == {"express-checkout-v2", "new-nav"}


def test_relgate_yaml_aliases_patterns_and_excludes_are_used(service: Path) -> None:
    write(
        service / "src" / "shop" / "banner.py",
        """\
        from shop.flags import SUMMER, feature_on

        def banner(user):
            return feature_on(SUMMER, user)
        """,
    )
    write(service / "templates" / "home.html", '{% if flag("holiday-theme") %}x{% endif %}\n')
    write(service / "src" / "shop" / "test_banner.py", 'flags.is_enabled("test-only-flag")\n')
    write(
        service / "relgate.yaml",
        """\
        service: shop
        flags:
          lint:
            patterns:
              - "flag\\\\(\\"([^\\"]+)\\"\\\\)"
            aliases:
              feature_on: is_enabled
              SUMMER: summer-banner
            exclude:
              - "test_*.py"
        """,
    )
    flags = write_flags(service / "flags.json", [])
    proc = lint(service, ".", "--flags-file", str(flags), "--json")
    assert proc.returncode == 0, proc.stderr
    found = {(r["key"], r["path"], r["line"]) for r in json.loads(proc.stdout)["references"]}
    assert ("summer-banner", "src/shop/banner.py", 4) in found
    assert ("holiday-theme", "templates/home.html", 1) in found
    assert not any(key == "test-only-flag" for key, _, _ in found)


def test_an_unleash_export_is_accepted_as_the_flags_file(service: Path) -> None:
    export = {
        "features": [{"name": "express-checkout-v2", "type": "release"}],
        "featureEnvironments": [
            {"featureName": "express-checkout-v2", "environment": "production", "enabled": True}
        ],
        "featureStrategies": [
            {"featureName": "express-checkout-v2", "environment": "production", "name": "default"}
        ],
    }
    (service / "export.json").write_text(json.dumps(export))
    proc = lint(service, ".", "--flags-file", "export.json", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert [f["key"] for f in report["rolled_out"]] == ["express-checkout-v2"]
    assert [f["key"] for f in report["undefined"]] == ["new-nav"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing-dir", "--flags-file", "flags.json"], "missing-dir: no such file or folder"),
        (["src", "--flags-file", "nope.json"], "nope.json: no such flags file"),
        (["src", "--flags-file", "broken.json"], "broken.json:2: not JSON"),
        (["src", "--flags-file", "other.json"], "other.json: not a flags document"),
        (["src", "--flags-file", "flags.json", "--config", "bad.yaml"], "bad.yaml:4: flags.lint"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    service: Path, args: list[str], message: str
) -> None:
    write_flags(service / "flags.json", [])
    (service / "broken.json").write_text('[\n  {"key": }\n]')
    (service / "other.json").write_text('{"hello": "world"}')
    write(service / "bad.yaml", "flags:\n  lint:\n    patterns:\n      - '(unclosed'\n")
    proc = lint(service, *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


class _FlagsHandler(BaseHTTPRequestHandler):
    views: ClassVar[list[dict[str, Any]]] = []
    seen_authorization: ClassVar[list[str | None]] = []
    seen_paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).seen_authorization.append(self.headers.get("Authorization"))
        type(self).seen_paths.append(self.path)
        if not self.path.startswith("/api/v1/flags"):
            self.send_error(404)
            return
        body = json.dumps(type(self).views).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def flags_server() -> Iterator[tuple[str, type[_FlagsHandler]]]:
    handler = type(
        "Handler", (_FlagsHandler,), {"views": [], "seen_authorization": [], "seen_paths": []}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_definitions_come_from_the_server_without_a_flags_file(
    service: Path, flags_server: tuple[str, type[_FlagsHandler]]
) -> None:
    url, handler = flags_server
    handler.views = [
        flag_view("express-checkout-v2", expires_at=iso(NOW - timedelta(days=1))),
        flag_view("new-nav"),
    ]
    proc = lint(service, "src", "web", "--url", url, "--token", "rg_admin_secret")
    assert proc.returncode == 1, proc.stderr
    assert "src/shop/checkout.py:7" in proc.stdout
    assert handler.seen_authorization == ["Bearer rg_admin_secret"]
    # archived flags too, so that code still using one is told so
    assert handler.seen_paths == ["/api/v1/flags?archived=true"]


def test_an_unreachable_server_is_reported_without_a_traceback(service: Path) -> None:
    proc = lint(service, "src", "--url", "http://127.0.0.1:9", "--token", "t")
    assert proc.returncode == 1
    assert "cannot reach relgate at http://127.0.0.1:9" in proc.stderr
    assert "Traceback" not in proc.stderr
