"""Dependencies of the routes: the services and the calling principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from relgate.auth.model import Principal
from relgate.bootstrap import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_principal(
    services: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    token = authorization
    if token and token.lower().startswith("bearer "):
        token = token[7:].strip()
    return services.tokens.authenticate(token)


PrincipalDep = Annotated[Principal, Depends(get_principal)]
