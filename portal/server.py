"""How the portal is served: uvicorn with its own proxy-header handling off (``portal.guard`` decides
whom to believe) and a bound on the header block it will buffer. The CLI, the demo and the tests all
serve through :func:`config`; production runs the same options (docker-compose.yml)."""

from __future__ import annotations

from pathlib import Path

import uvicorn

from dayclear.config import PORTAL_BASE_URL
from portal.app import create_app
from portal.settings import PortalSettings

#: uvicorn (h11) stops reading a request whose header block passes this; below it, the guard answers
#: 431 above ``PortalSettings.max_header_bytes``.
H11_MAX_HEADER_BYTES = 64 * 1024
#: How long an idle keep-alive connection stays open. uvicorn's 5 s closed connections under the load
#: run just as clients sent their next request on them (ReadError); a proxy in front keeps its own
#: upstream connections idle for up to 60 s (nginx), so the server's must outlast it.
KEEP_ALIVE_SECONDS = 75


def config(
    state: Path, host: str, port: int, settings: PortalSettings, database: Path | None = None
) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(state, database, settings),
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=False,
        server_header=False,
        h11_max_incomplete_event_size=H11_MAX_HEADER_BYTES,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


def serve(state: Path, host: str, port: int, settings: PortalSettings | None = None) -> None:
    """Serve until interrupted. Without settings: from the environment, with the base URL defaulting
    to the address served (``http://host:port``)."""
    if settings is None:
        local = {} if PORTAL_BASE_URL.get() else {"base_url": f"http://{host}:{port}"}
        settings = PortalSettings.from_env(**local)
    uvicorn.Server(config(state, host, port, settings)).run()
