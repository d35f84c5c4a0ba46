"""UsageMetrics: exact counts, handed over in Unleash's bucket layout."""

from __future__ import annotations

import threading
from pathlib import Path

from relgate.sdk import FlagClient
from relgate.sdk.metrics import UsageMetrics


def test_counts_are_handed_over_once_in_unleash_layout() -> None:
    metrics = UsageMetrics()
    metrics.count("checkout", True)
    metrics.count("checkout", True)
    metrics.count("checkout", False)
    metrics.count_variant("theme", "blue", True)
    metrics.count_variant("theme", "disabled", False)

    bucket = metrics.take_bucket()

    assert bucket is not None
    assert bucket["toggles"] == {
        "checkout": {"yes": 2, "no": 1, "variants": {}},
        "theme": {"yes": 1, "no": 1, "variants": {"blue": 1, "disabled": 1}},
    }
    assert bucket["start"].endswith("Z")
    assert metrics.take_bucket() is None


def test_a_restored_bucket_is_added_to_later_counts() -> None:
    metrics = UsageMetrics()
    metrics.count_variant("theme", "blue", True)
    bucket = metrics.take_bucket()
    assert bucket is not None
    metrics.count_variant("theme", "blue", True)

    metrics.restore(bucket)

    again = metrics.take_bucket()
    assert again is not None
    assert again["toggles"]["theme"] == {"yes": 2, "no": 0, "variants": {"blue": 2}}
    assert again["start"] == bucket["start"]


def test_counts_from_many_threads_are_exact() -> None:
    metrics = UsageMetrics()

    def count() -> None:
        for _ in range(20_000):
            metrics.count("checkout", True)

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert metrics.pending("checkout") == (80_000, 0)


def test_a_clients_evaluations_from_many_threads_are_all_counted(tmp_path: Path) -> None:
    flags = {"version": 2, "features": [{"name": "checkout", "enabled": True}]}
    client = FlagClient(
        "http://127.0.0.1:1", "t", "shop", bootstrap=flags, cache_dir=tmp_path, start=False
    )
    metrics = client._metrics
    assert metrics is not None

    def evaluate() -> None:
        for user in range(5_000):
            client.is_enabled("checkout", {"userId": str(user)})

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()

    assert metrics.pending("checkout") == (20_000, 0)
