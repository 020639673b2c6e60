"""Dependencies the routers share: the service's state, the API key, the watch database."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader
from sqlalchemy.engine import Engine

from mxqc.serve.service import Service

_KEY = APIKeyHeader(name="X-API-Key", auto_error=False)


def service(request: Request) -> Service:
    return request.app.state.service


State = Annotated[Service, Depends(service)]


def require_key(key: Annotated[str | None, Depends(_KEY)], state: State) -> None:
    """Refuse /v1 requests without the right X-API-Key when the service has one."""
    wanted = state.settings.api_key
    if wanted and not (key and secrets.compare_digest(key, wanted)):
        raise HTTPException(401, "missing or wrong X-API-Key")


def watch_engine(state: State) -> Engine:
    if state.engine is None:
        raise HTTPException(404, "no watch database (start with --watch or --db)")
    return state.engine


WatchDatabase = Annotated[Engine, Depends(watch_engine)]
