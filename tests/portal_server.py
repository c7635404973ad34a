"""A real portal server (uvicorn on a free port, in a thread) over a state folder, for the tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from portal.app import create_app
from portal.store import Store

PASSWORDS = {"staff": "staff-secret-1"}


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
def serve(state: Path) -> Iterator[str]:
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        if time.time() > deadline:
            raise RuntimeError("the portal did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
