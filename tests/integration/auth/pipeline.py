"""A small pipeline with a real command deployer, for the tests of this folder."""

from __future__ import annotations

from pathlib import Path

from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services
from relgate.deploy.registered import RegisteredDeployer
from relgate.manifest.pipeline import parse_pipeline

ADMIN = Principal("admin", Role.ADMIN)
DIGEST = "sha256:" + "a" * 64


def apply_pipeline(services: Services, folder: Path, service: str = "shop") -> None:
    """Apply ``service``'s pipeline: dev, then production behind ``count: 2`` approvals."""
    source = f"""\
service: {service}
environments:
  - name: dev
    deployer: {{type: command, command: "echo $RELGATE_VERSION > {folder}/dev.txt"}}
  - name: production
    gates:
      - type: approval
        count: 2
    deployer: {{ref: {service}-production}}
"""
    # production is protected: its deployer is one an admin registered
    if services.deployers.resolve(f"{service}-production") is None:
        services.deployers.add(
            ADMIN,
            RegisteredDeployer(
                name=f"{service}-production",
                command=f"echo $RELGATE_VERSION > {folder}/production.txt",
            ),
        )
    services.pipelines.apply(ADMIN, parse_pipeline(source, "relgate.yaml"))


def drain(services: Services) -> None:
    """Run queued jobs in this thread until there are none."""
    while services.worker.run_once():
        pass
