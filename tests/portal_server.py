"""A real portal server (uvicorn on a free port, in a thread, served as production serves it) over a
state folder, for the tests; and a signed-in client that goes through the sign-in form as a browser
does (its CSRF token, the portal's own Origin)."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from portal import server
from portal.settings import PortalSettings, Throttle
from portal.store import Store

PASSWORDS = {"staff": "staff-secret-1"}
#: The tests' "TLS proxy": the only address whose X-Forwarded-For the server believes. A test reaches
#: the server through it by binding its client socket to this loopback address.
PROXY = "127.0.0.2"
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]*)"')


def member_user(member: str) -> str:
    return member.lower()


def member_password(member: str) -> str:
    return f"{member}-secret-2"


def provision(state: Path, members: list[str]) -> Store:
    store = Store(state / "portal" / "portal.sqlite")
    store.add_user("staff", "staff", PASSWORDS["staff"])
    for member in members:
        store.add_user(member_user(member), "member", member_password(member), member)
    return store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(state: Path, throttle: Throttle | None = None) -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    settings = PortalSettings(
        base_url=url, trusted_proxies=frozenset({PROXY}), throttle=throttle or Throttle()
    )
    uvicorn_server = uvicorn.Server(server.config(state, "127.0.0.1", port, settings))
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not uvicorn_server.started:
        if time.time() > deadline:
            raise RuntimeError("the portal did not start")
        time.sleep(0.05)
    try:
        yield url
    finally:
        uvicorn_server.should_exit = True
        thread.join(10)


def form_token(client: httpx.Client, path: str) -> str:
    """The CSRF token of the first form on ``path`` as the client sees it."""
    found = CSRF.search(client.get(path).text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(client: httpx.Client, username: str, password: str) -> httpx.Response:
    """Post the sign-in form as a browser on the portal's own page does."""
    token = form_token(client, "/login")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        headers={"Origin": str(client.base_url).rstrip("/")},
    )


def signed_in(url: str, username: str, password: str, **options: object) -> httpx.Client:
    client = httpx.Client(base_url=url, follow_redirects=False, **options)  # type: ignore[arg-type]
    response = sign_in(client, username, password)
    assert response.status_code == 303, response.text
    return client
