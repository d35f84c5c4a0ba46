"""The control-plane CLI tests' real server, shared with the flag CLI tests."""

from __future__ import annotations

from tests.e2e.control.conftest import relgate_server

__all__ = ["relgate_server"]
