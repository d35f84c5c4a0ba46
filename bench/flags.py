"""Feature-flag benchmark: relgate's SDK and flag server against Unleash's, in the same run.

1. SDK: ``is_enabled`` on a gradual-rollout flag with one constraint
   (flexibleRollout 50 %, stickiness userId, ``userTier IN [premium, gold]``)
   over a fixed set of generated contexts, for ``relgate.sdk.FlagClient`` and
   for ``UnleashClient`` from PyPI, both bootstrapped from the same features
   document, with metrics off. Median (1000-call batches timed with
   ``perf_counter_ns``), p99 (each call timed alone) and calls/s on one core.
   Both clients must give the same answers, on the bench flag for every
   context and on every flag (``is_enabled`` and the variant) for a sample.
2. Server: ``GET /api/client/features`` with the same 200 flags (strategies,
   constraints, variants, segments) in one environment, with a client token:
   requests/s with ``wrk`` for a full answer (plain and gzip) and for 304s,
   against ``relgate serve`` (SQLite and/or PostgreSQL) and ``unleash-server``
   from npm on PostgreSQL. When unleash-server cannot run here, relgate's
   figures are compared with the issue's reference figures, labelled so.

Run: .venv/bin/python bench/flags.py [--skip-sdk] [--skip-unleash-server] [--backend sqlite]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# tests.support.server starts `relgate serve` exactly as the integration tests do
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from bench.common import positive, progress  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from tests.support.server import ServerProcess, free_port, start_server  # noqa: E402

from relgate.bootstrap import build  # noqa: E402
from relgate.config import Settings  # noqa: E402
from relgate.errors import RelgateError  # noqa: E402
from relgate.store import db  # noqa: E402

WORK = ROOT / "bench" / ".work" / "flags"
UNLEASH_DIR = WORK / "unleash"
# 7.5.1 is the newest unleash-server that runs on Node 20 (7.6 and 8.x need Node 22)
UNLEASH_VERSION = "7.5.1"
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ENVIRONMENT = "production"
# the SDKs are bootstrapped and never fetch: nothing listens there
NO_SERVER = "http://127.0.0.1:9"
APP_NAME = "bench"
BENCH_FLAG = "bench-rollout"
# what UnleashClient 6 sends: segments come as a top-level list from 4.2.0 on
CLIENT_SPEC = "6.1.0"
BATCH = 1000
ROUNDS = 5  # default of --rounds
AGREEMENT_CONTEXTS = 500
SDK_TARGET = 10.0
SERVER_TARGET = 5.0
# the figures (issue 4, "Figures"), measured on this kind of machine
REFERENCE_SDK_MEDIAN_US = 31.0
REFERENCE_SERVER = {"full, plain": 380.0, "full, gzip": 196.0, "304": 1830.0}
TIERS = ("free", "basic", "premium", "gold")
COUNTRIES = ("NO", "SE", "DE", "FR", "US", "BR", "JP", "IN")


class BenchError(Exception):
    """A failure the script reports in one line (exit 2), not as a traceback."""


class PeerUnavailable(Exception):
    """unleash-server cannot be installed or started here; the message says why."""


# ---------------------------------------------------------------------- the definitions


def bench_flag() -> dict[str, Any]:
    """The flag the SDK figures are about: 50 % of premium and gold users, sticky on userId."""
    return {
        "name": BENCH_FLAG,
        "type": "release",
        "enabled": True,
        "impressionData": False,
        "strategies": [
            {
                "name": "flexibleRollout",
                "parameters": {"rollout": "50", "stickiness": "userId", "groupId": BENCH_FLAG},
                "constraints": [
                    {
                        "contextName": "userTier",
                        "operator": "IN",
                        "values": ["premium", "gold"],
                        "inverted": False,
                        "caseInsensitive": False,
                    }
                ],
            }
        ],
        "variants": [],
    }


def _constraint(rng: random.Random) -> dict[str, Any]:
    """One constraint of a kind Unleash 7 and relgate both know, on the contexts' fields."""
    kind = rng.randrange(10)
    base: dict[str, Any] = {"inverted": rng.random() < 0.1, "caseInsensitive": False}
    if kind < 3:
        return {
            **base,
            "contextName": "userTier",
            "operator": rng.choice(["IN", "NOT_IN"]),
            "values": sorted(rng.sample(TIERS, rng.randint(1, 3))),
        }
    if kind < 5:
        return {
            **base,
            "contextName": "country",
            "operator": "IN",
            "values": sorted(rng.sample(COUNTRIES, rng.randint(1, 4))),
        }
    if kind == 5:
        return {
            **base,
            "contextName": "email",
            "operator": rng.choice(["STR_ENDS_WITH", "STR_CONTAINS"]),
            "values": ["@example.com", "@EXAMPLE.org"],
            "caseInsensitive": rng.random() < 0.5,
        }
    if kind == 6:
        return {
            **base,
            "contextName": "appVersion",
            "operator": rng.choice(["SEMVER_GT", "SEMVER_LT", "SEMVER_EQ"]),
            "value": rng.choice(["2.0.0", "2.3.1", "3.0.0-beta.2"]),
        }
    if kind == 7:
        return {
            **base,
            "contextName": "age",
            "operator": rng.choice(["NUM_GT", "NUM_LTE", "NUM_EQ"]),
            "value": str(rng.choice([18, 30, 42, 65])),
        }
    if kind == 8:
        # far from today, so the answer does not depend on when the bench runs
        return {
            **base,
            "contextName": "currentTime",
            "operator": rng.choice(["DATE_AFTER", "DATE_BEFORE"]),
            "value": rng.choice(["2020-01-01T00:00:00.000Z", "2099-01-01T00:00:00.000Z"]),
        }
    return {
        **base,
        "contextName": "userId",
        "operator": "STR_STARTS_WITH",
        "values": [f"user-{rng.randrange(10)}"],
    }


def _variants(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Variants as Unleash stores them once saved: weights fixed to a total of 1000."""
    names = rng.sample(["alpha", "beta", "Blue", "green", "Zeta", "control", "treatment"], count)
    weights = [1000 // count + (1 if n < 1000 % count else 0) for n in range(count)]
    variants = []
    for name, weight in zip(names, weights, strict=True):
        variant: dict[str, Any] = {
            "name": name,
            "weight": weight,
            "weightType": "variable",
            "stickiness": "default",
        }
        kind = rng.randrange(4)
        if kind == 1:
            variant["payload"] = {"type": "string", "value": f"{name}-copy"}
        elif kind == 2:
            variant["payload"] = {"type": "json", "value": json.dumps({"color": name, "n": 3})}
        elif kind == 3:
            variant["payload"] = {"type": "number", "value": str(rng.randint(1, 99))}
        variants.append(variant)
    return variants


def _strategy(rng: random.Random, key: str, segment_ids: Sequence[int]) -> dict[str, Any]:
    kind = rng.randrange(10)
    if kind < 2:
        strategy: dict[str, Any] = {"name": "default", "parameters": {}}
    elif kind < 4:
        # how Unleash 7 targets user ids: its userWithId strategy is deprecated and
        # its import refuses it
        users = sorted(f"user-{rng.randrange(10_000)}" for _ in range(rng.randint(3, 12)))
        strategy = {
            "name": "flexibleRollout",
            "parameters": {"rollout": "100", "stickiness": "default", "groupId": key},
            "constraints": [{"contextName": "userId", "operator": "IN", "values": users}],
        }
    elif kind < 9:
        strategy = {
            "name": "flexibleRollout",
            "parameters": {
                "rollout": str(rng.choice([0, 1, 5, 10, 25, 50, 75, 100])),
                "stickiness": rng.choice(["default", "userId", "sessionId", "default"]),
                "groupId": key if rng.random() < 0.8 else "shared-group",
            },
        }
    else:
        strategy = {
            "name": "remoteAddress",
            "parameters": {"IPs": "10.1.0.0/16, 192.168.1.7, 172.16.0.0/12"},
        }
    strategy.setdefault("constraints", [])
    strategy["constraints"] += [_constraint(rng) for _ in range(rng.choice([0, 0, 1, 1, 2, 3]))]
    strategy["segments"] = (
        sorted(rng.sample(list(segment_ids), 1)) if segment_ids and rng.random() < 0.15 else []
    )
    if strategy["name"] == "flexibleRollout" and rng.random() < 0.1:
        strategy["variants"] = _variants(rng, 2)
    return strategy


def build_segments() -> list[dict[str, Any]]:
    """Five segments, as the client API lists them (id, name, constraints)."""
    return [
        {
            "id": 1,
            "name": "beta-testers",
            "constraints": [
                {"contextName": "userTier", "operator": "IN", "values": ["gold", "premium"]}
            ],
        },
        {
            "id": 2,
            "name": "nordics",
            "constraints": [{"contextName": "country", "operator": "IN", "values": ["NO", "SE"]}],
        },
        {
            "id": 3,
            "name": "new-app",
            "constraints": [
                {"contextName": "appVersion", "operator": "SEMVER_GT", "value": "2.3.0"}
            ],
        },
        {
            "id": 4,
            "name": "adults",
            "constraints": [{"contextName": "age", "operator": "NUM_GTE", "value": "18"}],
        },
        {
            "id": 5,
            "name": "staff",
            "constraints": [
                {
                    "contextName": "email",
                    "operator": "STR_ENDS_WITH",
                    "values": ["@example.com"],
                    "caseInsensitive": True,
                }
            ],
        },
    ]


def build_features(count: int, seed: int = 4) -> dict[str, Any]:
    """A version-2 client features document: the bench flag and ``count - 1`` others."""
    rng = random.Random(seed)
    segments = build_segments()
    segment_ids = [segment["id"] for segment in segments]
    features = [bench_flag()]
    kinds = ["release", "experiment", "operational", "kill-switch", "permission"]
    for index in range(1, count):
        key = f"flag-{index:03d}"
        strategies = [_strategy(rng, key, segment_ids) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
        features.append(
            {
                "name": key,
                "type": rng.choice(kinds),
                "description": f"benchmark flag {index}",
                "enabled": rng.random() < 0.85,
                "impressionData": False,
                "strategies": strategies,
                "variants": _variants(rng, rng.randint(2, 4)) if rng.random() < 0.3 else [],
            }
        )
    return {"version": 2, "features": features, "segments": segments}


def build_contexts(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` Unleash contexts with the fields the definitions look at."""
    rng = random.Random(seed)
    contexts = []
    for n in range(count):
        domain = rng.choice(["example.com", "Example.COM", "example.org", "mail.test"])
        remote = (
            f"10.1.{rng.randrange(256)}.{rng.randrange(256)}"
            if rng.random() < 0.3
            else f"192.168.1.{rng.randrange(1, 20)}"
        )
        contexts.append(
            {
                "userId": f"user-{rng.randrange(1_000_000) if n % 10 else n}",
                "sessionId": uuid.UUID(int=rng.getrandbits(128)).hex,
                "remoteAddress": remote,
                "properties": {
                    "userTier": rng.choice(TIERS),
                    "country": rng.choice(COUNTRIES),
                    "email": f"u{n}@{domain}",
                    "appVersion": rng.choice(["1.9.0", "2.0.0", "2.3.1", "3.0.0-beta.2", "3.1.0"]),
                    "age": str(rng.randint(12, 80)),
                },
            }
        )
    return contexts


def unleash_export(document: Mapping[str, Any]) -> dict[str, Any]:
    """The client document as the ``data`` of Unleash's features-batch import."""
    features: list[dict[str, Any]] = []
    strategies: list[dict[str, Any]] = []
    environments: list[dict[str, Any]] = []
    fields: set[str] = set()
    standard = {"userId", "sessionId", "remoteAddress", "environment", "appName", "currentTime"}
    for feature in document["features"]:
        features.append(
            {
                "name": feature["name"],
                "type": feature["type"],
                "description": feature.get("description", ""),
                "project": "default",
                "impressionData": feature["impressionData"],
            }
        )
        for order, strategy in enumerate(feature["strategies"]):
            entry = {
                "name": strategy["name"],
                "featureName": feature["name"],
                "parameters": strategy["parameters"],
                "constraints": strategy.get("constraints", []),
                "segments": strategy.get("segments", []),
                "variants": strategy.get("variants", []),
                "sortOrder": order,
            }
            strategies.append(entry)
            fields.update(c["contextName"] for c in entry["constraints"])
        environments.append(
            {
                "name": feature["name"],
                "featureName": feature["name"],
                "environment": ENVIRONMENT,
                "enabled": feature["enabled"],
                "variants": feature.get("variants", []),
            }
        )
    for segment in document["segments"]:
        fields.update(c["contextName"] for c in segment["constraints"])
    return {
        "features": features,
        "featureStrategies": strategies,
        "featureEnvironments": environments,
        "contextFields": [{"name": name} for name in sorted(fields - standard)],
        "segments": [{"id": s["id"], "name": s["name"]} for s in document["segments"]],
        "featureTags": [],
        "tagTypes": [],
        "dependencies": [],
    }


# ---------------------------------------------------------------------- the SDKs


# a context is a dict, or for relgate.sdk a relgate.flags.Context too
Check = Callable[[str, Any], bool]
# a variant as (name, enabled), the part both SDKs give alike
VariantOf = Callable[[str, dict[str, Any]], tuple[str, bool]]


@dataclass
class SdkUnderTest:
    name: str
    is_enabled: Check
    variant: VariantOf
    close: Callable[[], None]


def relgate_sdk(document: Mapping[str, Any], workdir: Path) -> SdkUnderTest:
    """``relgate.sdk.FlagClient`` from the bootstrap document, with no server and no threads."""
    from relgate.sdk import FlagClient

    client = FlagClient(
        NO_SERVER,
        "bench",
        APP_NAME,
        environment=ENVIRONMENT,
        cache_dir=workdir / "relgate-sdk-cache",
        bootstrap=dict(document),
        disable_metrics=True,
        start=False,
    )
    if not client.has_flag(BENCH_FLAG):
        raise BenchError("relgate's FlagClient did not load the bootstrap document")

    def variant(key: str, context: dict[str, Any]) -> tuple[str, bool]:
        answer = client.variant(key, context)
        return answer.name, answer.enabled

    return SdkUnderTest("relgate.sdk", client.is_enabled, variant, client.close)


def unleash_sdk(document: Mapping[str, Any], workdir: Path) -> SdkUnderTest:
    """``UnleashClient`` from its cache bootstrapped with the document; no fetch, no metrics."""
    try:
        from UnleashClient import UnleashClient  # type: ignore[attr-defined]
        from UnleashClient.cache import FileCache
    except ImportError:
        raise BenchError(
            "UnleashClient is not installed: .venv/bin/pip install UnleashClient"
        ) from None

    cache = FileCache("bench", directory=str(workdir / "unleash-sdk-cache"))
    cache.bootstrap_from_dict(dict(document))
    client = UnleashClient(
        url=NO_SERVER,
        app_name=APP_NAME,
        environment=ENVIRONMENT,
        disable_metrics=True,
        disable_registration=True,
        cache=cache,
        refresh_interval=3600,
    )
    client.initialize_client(fetch_toggles=False)

    def variant(key: str, context: dict[str, Any]) -> tuple[str, bool]:
        answer = client.get_variant(key, context)
        return str(answer["name"]), bool(answer["enabled"])

    return SdkUnderTest("UnleashClient", client.is_enabled, variant, client.destroy)


def unleash_client_version() -> str:
    from importlib.metadata import version

    return version("UnleashClient")


@dataclass
class SdkFigures:
    batch_ns: list[float] = field(default_factory=list)  # per call, one value per batch
    single_ns: list[float] = field(default_factory=list)  # each call timed alone
    calls: int = 0
    total_ns: int = 0

    @property
    def median_us(self) -> float:
        return statistics.median(self.batch_ns) / 1000

    @property
    def p99_us(self) -> float:
        return statistics.quantiles(self.single_ns, n=100, method="inclusive")[98] / 1000

    @property
    def calls_per_second(self) -> float:
        return self.calls / (self.total_ns / 1e9)


def timer_overhead_ns() -> float:
    """The median cost of two back-to-back ``perf_counter_ns`` calls, taken off single timings."""
    clock = time.perf_counter_ns
    samples = []
    for _ in range(20_000):
        began = clock()
        samples.append(clock() - began)
    return float(statistics.median(samples))


def time_batches(check: Check, contexts: Sequence[Any], figures: SdkFigures) -> None:
    clock = time.perf_counter_ns
    key = BENCH_FLAG
    for start in range(0, len(contexts), BATCH):
        chunk = contexts[start : start + BATCH]
        began = clock()
        for context in chunk:
            check(key, context)
        elapsed = clock() - began
        figures.batch_ns.append(elapsed / len(chunk))
        figures.calls += len(chunk)
        figures.total_ns += elapsed


def time_singles(
    check: Check, contexts: Sequence[dict[str, Any]], overhead: float, figures: SdkFigures
) -> None:
    clock = time.perf_counter_ns
    key = BENCH_FLAG
    for context in contexts:
        began = clock()
        check(key, context)
        figures.single_ns.append(max(0.0, clock() - began - overhead))


def check_agreement(
    sdks: Sequence[SdkUnderTest],
    keys: Sequence[str],
    with_variants: set[str],
    contexts: Sequence[dict[str, Any]],
    sample: int,
) -> tuple[int, list[str]]:
    """Compare every SDK's answers with the first's.

    The bench flag over every context, then every flag (and its variant) over
    the first ``sample`` contexts. Returns the number of comparisons and up
    to 10 disagreements, described.
    """
    compared = 0
    problems: list[str] = []

    def compare(what: str, key: str, context: dict[str, Any], answers: list[object]) -> None:
        nonlocal compared
        compared += 1
        if len(set(map(repr, answers))) != 1 and len(problems) < 10:
            told = ", ".join(f"{s.name}={a!r}" for s, a in zip(sdks, answers, strict=True))
            problems.append(f"{what}({key!r}, {json.dumps(context)}): {told}")

    for context in contexts:
        compare(
            "is_enabled",
            BENCH_FLAG,
            context,
            [sdk.is_enabled(BENCH_FLAG, copy.deepcopy(context)) for sdk in sdks],
        )
    for context in contexts[:sample]:
        for key in keys:
            compare(
                "is_enabled",
                key,
                context,
                [sdk.is_enabled(key, copy.deepcopy(context)) for sdk in sdks],
            )
            if key in with_variants:
                compare(
                    "variant",
                    key,
                    context,
                    [sdk.variant(key, copy.deepcopy(context)) for sdk in sdks],
                )
    return compared, problems


def flag_keys(document: Mapping[str, Any]) -> tuple[list[str], set[str]]:
    """Every flag's key, and those that have variants (on the flag or on a strategy)."""
    keys = [feature["name"] for feature in document["features"]]
    with_variants = {
        feature["name"]
        for feature in document["features"]
        if feature.get("variants") or any(s.get("variants") for s in feature["strategies"])
    }
    return keys, with_variants


@dataclass
class SdkResult:
    relgate: SdkFigures
    unleash: SdkFigures
    compared: int
    problems: list[str]
    enabled_share: float
    overhead_ns: float
    # relgate.sdk given prebuilt relgate.flags.Context objects: what the dict costs
    relgate_context_objects: SdkFigures
    cpu: int  # the CPU the timing ran pinned to


@contextmanager
def one_core() -> Iterator[int]:
    """Pin this process to one CPU while timing (the figure is "on one core"); yield it."""
    allowed = os.sched_getaffinity(0)
    cpu = max(allowed)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, allowed)


def run_sdk(document: Mapping[str, Any], contexts: list[dict[str, Any]], rounds: int) -> SdkResult:
    workdir = WORK / f"sdk-{uuid.uuid4().hex[:6]}"
    workdir.mkdir(parents=True, exist_ok=True)
    sdks: list[SdkUnderTest] = []
    try:
        sdks.append(relgate_sdk(document, workdir))
        sdks.append(unleash_sdk(document, workdir))
        keys, with_variants = flag_keys(document)
        progress(
            f"sdk: checking agreement: {BENCH_FLAG} on {len(contexts):,} contexts, then "
            f"{len(keys)} flags ({len(with_variants)} with variants) on {AGREEMENT_CONTEXTS}"
        )
        compared, problems = check_agreement(
            sdks, keys, with_variants, contexts, AGREEMENT_CONTEXTS
        )
        enabled = sum(sdks[0].is_enabled(BENCH_FLAG, c) for c in contexts) / len(contexts)
        overhead = timer_overhead_ns()
        # each client gets its own copy: neither can profit from what the other did to a dict
        own = [copy.deepcopy(contexts) for _ in sdks]
        figures = [SdkFigures() for _ in sdks]
        from relgate.flags import Context

        objects = [
            Context.from_dict({**c, "environment": ENVIRONMENT, "appName": APP_NAME})
            for c in contexts
        ]
        with_objects = SdkFigures()
        check = sdks[0].is_enabled
        with one_core() as cpu:
            progress(
                f"sdk: timing is_enabled({BENCH_FLAG!r}) on CPU {cpu}: {rounds} rounds of "
                f"{len(contexts):,} calls in batches of {BATCH}, then {len(contexts):,} "
                "single calls, per client"
            )
            for sdk, mine in zip(sdks, own, strict=True):
                time_batches(sdk.is_enabled, mine, SdkFigures())  # warm-up
            for _ in range(rounds):
                # the clients take turns in every round, so machine drift affects both alike
                for sdk, mine, result in zip(sdks, own, figures, strict=True):
                    time_batches(sdk.is_enabled, mine, result)
            for sdk, mine, result in zip(sdks, own, figures, strict=True):
                time_singles(sdk.is_enabled, mine, overhead, result)
            for _ in range(rounds):
                time_batches(check, objects, with_objects)
        return SdkResult(
            figures[0], figures[1], compared, problems, enabled, overhead, with_objects, cpu
        )
    finally:
        for sdk in sdks:
            sdk.close()
        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------- the servers


@dataclass
class Endpoint:
    """A features URL with the client token and what a check of it found."""

    name: str
    url: str
    token: str
    etag: str = ""
    plain_bytes: int = 0
    gzip_bytes: int = 0
    flags: int = 0

    def headers(self, *extra: tuple[str, str]) -> list[tuple[str, str]]:
        return [("Authorization", self.token), ("Unleash-Client-Spec", CLIENT_SPEC), *extra]


def check_endpoint(endpoint: Endpoint, flags: int) -> None:
    """Fill ``endpoint``'s ETag and sizes; raise BenchError unless it serves ``flags`` flags."""
    base = dict(endpoint.headers())
    with httpx.Client(timeout=30) as client:
        plain = client.get(endpoint.url, headers={**base, "Accept-Encoding": "identity"})
        if plain.status_code != 200:
            raise BenchError(f"{endpoint.name}: GET {endpoint.url} answered {plain.status_code}")
        served = len(plain.json()["features"])
        if served != flags:
            raise BenchError(f"{endpoint.name}: serves {served} flags, expected {flags}")
        etag = plain.headers.get("etag", "")
        gzipped = client.get(endpoint.url, headers={**base, "Accept-Encoding": "gzip"})
        if gzipped.headers.get("content-encoding") != "gzip":
            raise BenchError(f"{endpoint.name}: Accept-Encoding: gzip got no gzip answer")
        # httpx has decoded it: count the bytes on the wire
        wire = client.send(
            client.build_request("GET", endpoint.url, headers={**base, "Accept-Encoding": "gzip"}),
            stream=True,
        )
        gzip_bytes = len(b"".join(wire.iter_raw()))
        wire.close()
        not_modified = None
        if etag:
            not_modified = client.get(endpoint.url, headers={**base, "If-None-Match": etag})
    endpoint.etag = etag
    endpoint.plain_bytes = len(plain.content)
    endpoint.gzip_bytes = gzip_bytes
    endpoint.flags = served
    if not etag or not_modified is None or not_modified.status_code != 304:
        endpoint.etag = ""


def served_document(endpoint: Endpoint) -> dict[str, Any]:
    """The features document ``endpoint`` serves."""
    response = httpx.get(endpoint.url, headers=dict(endpoint.headers()), timeout=30)
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


@contextmanager
def relgate_server(backend: str, document: Mapping[str, Any], pg_url: str) -> Iterator[Endpoint]:
    """A real `relgate serve` with the document imported into ``production``; stopped after."""
    workdir = WORK / f"serve-{backend}-{uuid.uuid4().hex[:6]}"
    workdir.mkdir(parents=True, exist_ok=True)
    with (
        sqlite_url(workdir) if backend == "sqlite" else postgres_database(pg_url, "relgate_flags")
    ) as url:
        engine = db.make_engine(url)
        db.upgrade(engine)
        engine.dispose()
        services = build(Settings(database_url=url))
        try:
            _, admin = services.tokens.create("bench-admin", "admin", actor="bench")
            _, client = services.tokens.create(
                "bench-client", "client", actor="bench", environment=ENVIRONMENT
            )
        finally:
            services.uow.engine.dispose()
        server: ServerProcess | None = None
        try:
            server = start_server(workdir, {"RELGATE_DATABASE_URL": url}, timeout=60)
            imported = httpx.post(
                f"{server.url}/api/v1/flags-import",
                params={"environment": ENVIRONMENT},
                json=document,
                headers={"Authorization": f"Bearer {admin}"},
                timeout=60,
            )
            if imported.status_code != 200:
                raise BenchError(
                    f"relgate ({backend}): the import answered {imported.status_code}: "
                    f"{imported.text[:500]}"
                )
            yield Endpoint(f"relgate ({backend})", f"{server.url}/api/client/features", client)
        finally:
            if server is not None:
                server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def sqlite_url(workdir: Path) -> Iterator[str]:
    yield f"sqlite:///{workdir / 'relgate.db'}"


@contextmanager
def postgres_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A fresh database ``<prefix>_bench_<random>``, dropped afterwards; yields its URL."""
    name = f"{prefix}_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(db.normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        raise PeerUnavailable(
            f"PostgreSQL at {admin_url} is not usable ({getattr(exc, 'orig', exc)}); "
            "see --pg-url, or use --backend sqlite --skip-unleash-server"
        ) from None
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def install_unleash() -> Path:
    """Return unleash-server's entry point, installing it with npm first if needed."""
    entry = UNLEASH_DIR / "node_modules" / "unleash-server" / "dist" / "server.js"
    installed = UNLEASH_DIR / "node_modules" / "unleash-server" / "package.json"
    if installed.exists() and json.loads(installed.read_text())["version"] == UNLEASH_VERSION:
        return entry
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise PeerUnavailable("node and npm are not installed (apt-get install -y nodejs npm)")
    UNLEASH_DIR.mkdir(parents=True, exist_ok=True)
    package = UNLEASH_DIR / "package.json"
    if not package.exists():
        package.write_text('{"name": "unleash-bench", "private": true}\n')
    log = UNLEASH_DIR / "npm-install.log"
    progress(f"unleash: npm install unleash-server@{UNLEASH_VERSION} (log: {log})")
    with log.open("wb") as out:
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", f"unleash-server@{UNLEASH_VERSION}"],
            cwd=UNLEASH_DIR,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=900,
            check=False,
        )
    if done.returncode != 0 or not entry.exists():
        raise PeerUnavailable(f"npm install unleash-server failed (exit {done.returncode}): {log}")
    return entry


def node_version() -> str:
    done = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip().lstrip("v") or "unknown"


@dataclass
class NodeProcess:
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            # its own session: signal the whole group, npm/node children included
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(15)


def _unleash_call(
    client: httpx.Client, method: str, path: str, body: object, what: str
) -> httpx.Response:
    response = client.request(method, path, json=body)
    if response.status_code >= 300:
        raise PeerUnavailable(
            f"unleash-server refused {what} ({method} {path} -> {response.status_code}): "
            f"{response.text[:500]}"
        )
    return response


@contextmanager
def unleash_server(document: Mapping[str, Any], pg_url: str) -> Iterator[Endpoint]:
    """unleash-server on a fresh PostgreSQL database with the document imported; stopped after."""
    entry = install_unleash()
    with postgres_database(pg_url, "unleash") as sqlalchemy_url:
        database = sqlalchemy_url.split("/")[-1]
        admin_token = f"*:*.{secrets.token_hex(16)}"
        client_token = f"default:{ENVIRONMENT}.{secrets.token_hex(16)}"
        password = f"Bench-{secrets.token_hex(12)}"
        port = free_port()
        log = UNLEASH_DIR / f"unleash-{port}.log"
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
            "DATABASE_SSL": "false",
            "PORT": str(port),
            "LOG_LEVEL": "warn",
            "CHECK_VERSION": "false",
            "SEND_TELEMETRY": "false",
            "NODE_ENV": "production",
            "TZ": "UTC",
            "INIT_ADMIN_API_TOKENS": admin_token,
            "INIT_BACKEND_API_TOKENS": client_token,
            # the import refuses admin API tokens: it runs as this user, logged in
            "UNLEASH_DEFAULT_ADMIN_USERNAME": "admin",
            "UNLEASH_DEFAULT_ADMIN_PASSWORD": password,
        }
        with log.open("wb") as out:
            node = NodeProcess(
                subprocess.Popen(
                    ["node", str(entry)],
                    cwd=UNLEASH_DIR,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                ),
                log,
            )
        try:
            base = f"http://127.0.0.1:{port}"
            progress(f"unleash: starting unleash-server {UNLEASH_VERSION} (log: {log})")
            with httpx.Client(
                base_url=base, headers={"Authorization": admin_token}, timeout=60
            ) as admin:
                deadline = time.monotonic() + 120
                while True:
                    if node.process.poll() is not None:
                        raise PeerUnavailable(
                            f"unleash-server exited {node.process.returncode}: see {log}"
                        )
                    try:
                        if admin.get("/api/admin/projects").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise PeerUnavailable(f"unleash-server did not answer in 120 s: see {log}")
                    time.sleep(0.5)
                for segment in document["segments"]:
                    _unleash_call(
                        admin,
                        "POST",
                        "/api/admin/segments",
                        {"name": segment["name"], "constraints": segment["constraints"]},
                        f"segment {segment['name']}",
                    )
            with httpx.Client(base_url=base, timeout=120) as user:
                _unleash_call(
                    user,
                    "POST",
                    "/auth/simple/login",
                    {"username": "admin", "password": password},
                    "the admin user's login",
                )
                _unleash_call(
                    user,
                    "POST",
                    "/api/admin/features-batch/import",
                    {
                        "project": "default",
                        "environment": ENVIRONMENT,
                        "data": unleash_export(document),
                    },
                    "the import of the flags",
                )
            yield Endpoint(
                f"unleash-server {UNLEASH_VERSION}", f"{base}/api/client/features", client_token
            )
        finally:
            node.stop()
        # kept when something failed, to read why
        log.unlink(missing_ok=True)


# ---------------------------------------------------------------------- wrk


KINDS = ("full, plain", "full, gzip", "304")
_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_BAD = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def wrk_headers(endpoint: Endpoint, kind: str) -> list[tuple[str, str]]:
    if kind == "full, plain":
        return endpoint.headers(("Accept-Encoding", "identity"))
    if kind == "full, gzip":
        return endpoint.headers(("Accept-Encoding", "gzip"))
    return endpoint.headers(("If-None-Match", endpoint.etag), ("Accept-Encoding", "gzip"))


def run_wrk(url: str, headers: Sequence[tuple[str, str]], duration: int, connections: int) -> float:
    """Return wrk's requests/s; raise BenchError on errors or unexpected statuses."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    for name, value in headers:
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=duration + 60, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    rps = _RPS.search(done.stdout)
    if rps is None:
        raise BenchError(f"cannot read wrk's output:\n{done.stdout}")
    bad = _BAD.search(done.stdout)
    if bad is not None:
        raise BenchError(f"{bad.group(1)} answers were not 2xx or 3xx from {url}")
    errors = _SOCKET.search(done.stdout)
    if errors is not None and any(int(n) for n in errors.groups()):
        raise BenchError(f"wrk reported socket errors against {url}: {errors.group(0)}")
    return float(rps.group(1))


def measure_server(endpoint: Endpoint, flags: int, args: argparse.Namespace) -> dict[str, float]:
    """requests/s of each kind of answer, with a 2-second warm-up before each."""
    check_endpoint(endpoint, flags)
    progress(
        f"{endpoint.name}: {endpoint.flags} flags, {endpoint.plain_bytes:,} bytes plain, "
        f"{endpoint.gzip_bytes:,} gzip, ETag {'yes' if endpoint.etag else 'no (no 304)'}"
    )
    figures: dict[str, float] = {}
    for kind in KINDS:
        if kind == "304" and not endpoint.etag:
            continue
        headers = wrk_headers(endpoint, kind)
        run_wrk(endpoint.url, headers, 2, args.connections)
        progress(f"{endpoint.name}: wrk -t1 -c{args.connections} -d{args.duration}s ({kind})")
        figures[kind] = run_wrk(endpoint.url, headers, args.duration, args.connections)
        progress(f"{endpoint.name}: {kind}: {figures[kind]:,.0f} req/s")
    if endpoint.etag:
        # a 304 run only counts if the answer really was 304 all along
        again = httpx.get(
            endpoint.url,
            headers=dict(wrk_headers(endpoint, "304")),
            timeout=30,
        )
        if again.status_code != 304:
            raise BenchError(f"{endpoint.name}: the ETag changed during the run")
    return figures


# ---------------------------------------------------------------------- the report


@dataclass
class Row:
    figure: str
    relgate: float
    peer_name: str
    peer: float | None
    unit: str
    # True when a larger figure is better (req/s), False for latencies
    higher_is_better: bool
    target: float | None
    reference: bool = False

    @property
    def ratio(self) -> float | None:
        if self.peer is None or self.relgate == 0 or self.peer == 0:
            return None
        return self.relgate / self.peer if self.higher_is_better else self.peer / self.relgate

    @property
    def verdict(self) -> str:
        if self.target is None or self.ratio is None:
            return ""
        return "MET" if self.ratio >= self.target else "MISSED"


def fmt_number(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "µs":
        return f"{value:.2f} µs"
    return f"{value:,.0f} {unit}"


def print_table(rows: Sequence[Row]) -> None:
    print()
    header = (
        f"{'figure':<46} {'relgate':>14} {'peer':<34} {'peer value':>14} "
        f"{'ratio':>7}  target  verdict"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio = f"{row.ratio:.1f}x" if row.ratio is not None else "n/a"
        target = f">= {row.target:.0f}x" if row.target is not None else ""
        peer = row.peer_name + (" (reference)" if row.reference else "")
        print(
            f"{row.figure:<46} {fmt_number(row.relgate, row.unit):>14} {peer:<34} "
            f"{fmt_number(row.peer, row.unit):>14} {ratio:>7}  {target:<7} {row.verdict}"
        )


def print_markdown(rows: Sequence[Row], notes: Sequence[str]) -> None:
    print()
    print("Markdown rows for bench/RESULTS.md:")
    print("| figure | relgate | peer | peer value | ratio | target | verdict |")
    print("| --- | ---: | --- | ---: | ---: | --- | --- |")
    for row in rows:
        ratio = f"{row.ratio:.1f}×" if row.ratio is not None else "n/a"
        target = f"≥ {row.target:.0f}×" if row.target is not None else ""
        peer = row.peer_name + (" (reference, not measured in this run)" if row.reference else "")
        print(
            f"| {row.figure} | {fmt_number(row.relgate, row.unit)} | {peer} | "
            f"{fmt_number(row.peer, row.unit)} | {ratio} | {target} | {row.verdict} |"
        )
    print()
    for note in notes:
        print(f"- {note}")


def sdk_rows(result: SdkResult) -> list[Row]:
    peer = f"UnleashClient {unleash_client_version()}"
    return [
        Row(
            "SDK is_enabled median (1000-call batches)",
            result.relgate.median_us,
            peer,
            result.unleash.median_us,
            "µs",
            higher_is_better=False,
            target=SDK_TARGET,
        ),
        Row(
            "SDK is_enabled p99 (single calls)",
            result.relgate.p99_us,
            peer,
            result.unleash.p99_us,
            "µs",
            higher_is_better=False,
            target=None,
        ),
        Row(
            "SDK is_enabled calls/s, one core (all batches)",
            result.relgate.calls_per_second,
            peer,
            result.unleash.calls_per_second,
            "calls/s",
            higher_is_better=True,
            target=SDK_TARGET,
        ),
    ]


def server_rows(
    relgate: Mapping[str, Mapping[str, float]], peer_name: str, peer: Mapping[str, float] | None
) -> list[Row]:
    rows = []
    for backend, figures in relgate.items():
        for kind in KINDS:
            if kind not in figures:
                continue
            measured = peer is not None
            value = peer.get(kind) if peer is not None else REFERENCE_SERVER[kind]
            rows.append(
                Row(
                    f"GET /api/client/features {kind} ({backend})",
                    figures[kind],
                    peer_name if measured else "unleash-server (issue 4)",
                    value,
                    "req/s",
                    higher_is_better=True,
                    target=SERVER_TARGET,
                    reference=not measured,
                )
            )
    return rows


# ---------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time relgate's flag SDK (is_enabled) against UnleashClient, and its "
        "GET /api/client/features against unleash-server from npm, in the same run.",
    )
    parser.add_argument("--skip-sdk", action="store_true", help="skip the SDK figures")
    parser.add_argument(
        "--skip-server", action="store_true", help="skip the server figures (no wrk needed)"
    )
    parser.add_argument(
        "--skip-unleash-server",
        action="store_true",
        help="do not install or start unleash-server; compare with the issue's reference figures",
    )
    parser.add_argument(
        "--backend",
        choices=["sqlite", "postgres", "both"],
        default="both",
        help="the store of `relgate serve` (both)",
    )
    parser.add_argument(
        "--duration", type=positive, default=10, help="seconds of each wrk run (10)"
    )
    parser.add_argument(
        "--connections", type=positive, default=8, help="wrk connections, one thread (8)"
    )
    parser.add_argument("--flags", type=positive, default=200, help="flags served (200)")
    parser.add_argument(
        "--contexts", type=positive, default=10_000, help="SDK contexts, timed per round (10000)"
    )
    parser.add_argument(
        "--rounds", type=positive, default=ROUNDS, help=f"SDK timing rounds ({ROUNDS})"
    )
    parser.add_argument(
        "--pg-url",
        default=PG_ADMIN_URL,
        help="PostgreSQL database to connect to for CREATE/DROP DATABASE (%(default)s)",
    )
    args = parser.parse_args(argv)
    if args.contexts < BATCH:
        parser.error(f"--contexts must be at least {BATCH} (one batch)")
    if args.flags < 2:
        parser.error("--flags must be at least 2")
    if args.skip_sdk and args.skip_server:
        parser.error("--skip-sdk and --skip-server leave nothing to measure")
    return args


def machine_line() -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    usable = len(os.sched_getaffinity(0))
    return f"{now} on {socket.gethostname()}: {os.cpu_count()} cores, nproc {usable}"


def _interrupt(signum: int, frame: object) -> None:
    # SIGTERM unwinds like Ctrl-C, so every server and database is cleaned up
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    # a shell starting this in the background ignores SIGINT; Ctrl-C must still clean up
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if not args.skip_server and shutil.which("wrk") is None:
        print(
            "flags: wrk is not installed: apt-get install -y wrk (or run with --skip-server)",
            file=sys.stderr,
        )
        return 2
    WORK.mkdir(parents=True, exist_ok=True)
    document = build_features(args.flags)
    contexts = build_contexts(args.contexts)
    notes = [f"run {machine_line()}"]
    load_before = os.getloadavg()
    rows: list[Row] = []
    disagreements: list[str] = []
    try:
        if not args.skip_sdk:
            sdk = run_sdk(document, contexts, args.rounds)
            rows += sdk_rows(sdk)
            disagreements += sdk.problems
            notes.append(
                f"SDK: {sdk.compared:,} answers compared between relgate.sdk and UnleashClient "
                f"(bootstrapped from the same document): {len(sdk.problems) or 'no'} "
                f"disagreement{'s' if len(sdk.problems) != 1 else ''}; "
                f"{BENCH_FLAG} is on for {sdk.enabled_share:.1%} of the {len(contexts):,} contexts"
            )
            notes.append(
                f"SDK: median = median over {len(sdk.relgate.batch_ns)} batches of {BATCH} calls "
                f"of each batch's mean; calls/s = all batched calls over their total time (so "
                f"it carries every slow batch the median leaves out); "
                f"p99 over {len(sdk.relgate.single_ns):,} single calls, "
                f"timer overhead {sdk.overhead_ns:.0f} ns taken off each; "
                f"the process pinned to CPU {sdk.cpu} while timing; "
                f"the issue's reference for UnleashClient: {REFERENCE_SDK_MEDIAN_US:.0f} µs median"
            )
            notes.append(
                "SDK: relgate.sdk given prebuilt relgate.flags.Context objects instead of "
                f"dicts (UnleashClient has no such API): "
                f"{sdk.relgate_context_objects.median_us:.2f} µs median, so turning the dict "
                f"into a Context costs about "
                f"{sdk.relgate.median_us - sdk.relgate_context_objects.median_us:.2f} µs a call"
            )
        if not args.skip_server:
            backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
            relgate_figures: dict[str, dict[str, float]] = {}
            documents: dict[str, dict[str, Any]] = {}
            for backend in backends:
                progress(
                    f"relgate ({backend}): starting relgate serve, importing {args.flags} flags"
                )
                with relgate_server(backend, document, args.pg_url) as endpoint:
                    relgate_figures[backend] = measure_server(endpoint, args.flags, args)
                    documents[endpoint.name] = served_document(endpoint)
                    notes.append(
                        f"{endpoint.name}: answer {endpoint.plain_bytes:,} bytes plain, "
                        f"{endpoint.gzip_bytes:,} gzipped"
                    )
            peer: dict[str, float] | None = None
            peer_name = f"unleash-server {UNLEASH_VERSION} (PostgreSQL)"
            if args.skip_unleash_server:
                notes.append(
                    "unleash-server skipped (--skip-unleash-server): its figures are the "
                    "issue's reference, not measured in this run"
                )
            else:
                try:
                    with unleash_server(document, args.pg_url) as endpoint:
                        peer = measure_server(endpoint, args.flags, args)
                        documents[endpoint.name] = served_document(endpoint)
                        notes.append(
                            f"{endpoint.name}: answer {endpoint.plain_bytes:,} bytes plain, "
                            f"{endpoint.gzip_bytes:,} gzipped"
                            + f", Node {node_version()}, one process"
                            + ("" if endpoint.etag else "; it sends no ETag, so no 304 figure")
                        )
                except PeerUnavailable as exc:
                    print(f"flags: unleash-server cannot run here: {exc}", file=sys.stderr)
                    reason = str(exc) if len(str(exc)) < 300 else str(exc)[:300] + "..."
                    notes.append(
                        f"unleash-server could not be started ({reason}); its figures are the "
                        "issue's reference, not measured in this run"
                    )
            if len(documents) > 1:
                disagreements += compare_served(documents, contexts)
            rows += server_rows(relgate_figures, peer_name, peer)
    except (BenchError, RelgateError) as exc:
        print(f"flags: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("flags: interrupted; every process this run started is stopped", file=sys.stderr)
        return 130
    except (RuntimeError, httpx.HTTPError, PeerUnavailable) as exc:
        # RuntimeError: `relgate serve` did not start (start_server says why)
        print(f"flags: {exc}", file=sys.stderr)
        print(f"flags: logs are under {WORK}", file=sys.stderr)
        return 2
    load_after = os.getloadavg()
    notes.append(
        f"load average (1, 5, 15 min) {load_before[0]:.2f} {load_before[1]:.2f} "
        f"{load_before[2]:.2f} before, {load_after[0]:.2f} {load_after[1]:.2f} "
        f"{load_after[2]:.2f} after"
        + ("" if args.skip_server else "; wrk runs on the same cores as the server it measures")
    )
    print_table(rows)
    for note in notes:
        print(f"note: {note}")
    print_markdown(rows, notes)
    if disagreements:
        print()
        print("DISAGREEMENT: the tools do not give the same answers:", file=sys.stderr)
        for problem in disagreements:
            print(f"  {problem}", file=sys.stderr)
        return 1
    return 0


def compare_served(
    documents: Mapping[str, Mapping[str, Any]], contexts: Sequence[dict[str, Any]]
) -> list[str]:
    """Evaluate each server's own answer with relgate.sdk; every flag must answer alike.

    This checks that the servers serve the same definitions (segment ids and
    the order of fields may differ, the meaning may not). unleash-server's
    answer is evaluated by UnleashClient too: the path an Unleash user has.
    """
    workdir = WORK / f"served-{uuid.uuid4().hex[:6]}"
    names = list(documents)
    sdks: list[SdkUnderTest] = []
    try:
        for index, name in enumerate(names):
            sdk = relgate_sdk(documents[name], workdir / str(index))
            sdks.append(SdkUnderTest(name, sdk.is_enabled, sdk.variant, sdk.close))
            if name.startswith("unleash-server"):
                peer = unleash_sdk(documents[name], workdir / f"{index}-unleash")
                sdks.append(
                    SdkUnderTest(
                        f"{name} with UnleashClient", peer.is_enabled, peer.variant, peer.close
                    )
                )
        keys, with_variants = flag_keys(documents[names[0]])
        progress(f"checking that {', '.join(names)} serve the same definitions")
        compared, problems = check_agreement(
            sdks, keys, with_variants, contexts[:AGREEMENT_CONTEXTS], AGREEMENT_CONTEXTS
        )
        progress(f"{compared:,} answers compared, {len(problems)} disagreements")
        return problems
    finally:
        for sdk in sdks:
            sdk.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
