"""FeatureCache: what it reads back, and what it ignores."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from relgate.sdk.cache import FeatureCache, default_cache_dir, safe_file_name


def test_a_saved_document_is_loaded_with_its_etag(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path / "deep" / "folder")
    payload = {"version": 2, "features": [{"name": "a", "enabled": True}]}

    assert cache.save(payload, '"v7"')

    loaded = cache.load()
    assert loaded is not None
    assert loaded.payload == payload
    assert loaded.etag == '"v7"'


@pytest.mark.parametrize("content", ["{not json", '{"format": 99, "payload": {}}', "[]"])
def test_an_unreadable_cache_file_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str
) -> None:
    cache = FeatureCache(tmp_path)
    cache.path.write_text(content)

    assert cache.load() is None
    assert str(cache.path) in caplog.text


def test_no_cache_file_is_no_cache(tmp_path: Path) -> None:
    assert FeatureCache(tmp_path).load() is None


def test_a_folder_that_cannot_be_written_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    caplog.set_level(logging.WARNING)

    assert FeatureCache(blocker / "cache").save({"features": []}, None) is False
    assert "cannot write the flag cache" in caplog.text


def test_the_default_cache_folder_is_per_user_and_per_app(tmp_path: Path) -> None:
    os.environ["XDG_CACHE_HOME"] = str(tmp_path)

    assert default_cache_dir("checkout/web 2") == tmp_path / "relgate" / "checkout_web_2"
    assert safe_file_name("..") == "app"
