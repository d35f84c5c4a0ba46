"""Which provider reads a metric, chosen by its ``provider.type`` (the composition root's pick).

``ProviderRegistry`` maps a type to a factory that builds a provider from its
spec; :func:`default_registry` has the three relgate ships (prometheus, scrape,
command). A caller (bootstrap, a test) may replace or add factories, e.g. to
give the HTTP providers an ``httpx.Client`` with a MockTransport.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx

from relgate.analysis.config import (
    CommandProviderSpec,
    PrometheusProviderSpec,
    ProviderSpec,
    ScrapeProviderSpec,
)
from relgate.analysis.providers.command import CommandProvider
from relgate.analysis.providers.ports import MetricProvider, ProviderError
from relgate.analysis.providers.prometheus import PrometheusProvider
from relgate.analysis.providers.scrape import ScrapeProvider

ProviderFactory = Callable[[ProviderSpec], MetricProvider]


class ProviderRegistry:
    """Factories of metric providers by ``type``."""

    def __init__(self, factories: Mapping[str, ProviderFactory]) -> None:
        self._factories = dict(factories)

    def with_factory(self, kind: str, factory: ProviderFactory) -> ProviderRegistry:
        """Return a registry with ``factory`` for ``kind`` (added or replacing)."""
        return ProviderRegistry({**self._factories, kind: factory})

    @property
    def types(self) -> tuple[str, ...]:
        """The provider types this registry builds."""
        return tuple(sorted(self._factories))

    def create(self, spec: ProviderSpec) -> MetricProvider:
        """Return a new provider for ``spec``; raises ProviderError for a type it lacks."""
        factory = self._factories.get(spec.type)
        if factory is None:
            raise ProviderError(
                f"this server has no {spec.type!r} metric provider "
                f"(it has: {', '.join(self.types) or 'none'})"
            )
        return factory(spec)


def default_registry(
    *,
    client: httpx.Client | None = None,
    environ: Mapping[str, str] | None = None,
    base_dir: str | None = None,
) -> ProviderRegistry:
    """Return the registry of prometheus, scrape and command providers.

    ``client`` is shared by the HTTP providers (a new one each when None);
    ``environ`` holds what ``bearer_token_env`` names; ``base_dir`` is where a
    command's relative ``cwd`` starts.
    """

    def prometheus(spec: ProviderSpec) -> MetricProvider:
        assert isinstance(spec, PrometheusProviderSpec)
        return PrometheusProvider(spec, client=client, environ=environ)

    def scrape(spec: ProviderSpec) -> MetricProvider:
        assert isinstance(spec, ScrapeProviderSpec)
        return ScrapeProvider(spec, client=client)

    def command(spec: ProviderSpec) -> MetricProvider:
        assert isinstance(spec, CommandProviderSpec)
        return CommandProvider(spec, base_dir=base_dir)

    return ProviderRegistry({"prometheus": prometheus, "scrape": scrape, "command": command})
