"""The portal's outer layer (plain ASGI, before any routing or parsing): size limits, the client's
address, and the response headers every answer carries.

* All request headers together above ``max_header_bytes``: 431, before anything else reads them
  (uvicorn itself stops reading a header block at ``portal.server.H11_MAX_HEADER_BYTES``).
* A body above ``max_body_bytes``: 413, whether ``Content-Length`` says so up front or a chunked body
  grows past it; the body is read at most once and at most that far, so a 100 MB "password" costs the
  server 64 KiB.
* ``X-Forwarded-For`` / ``X-Forwarded-Proto`` are believed only from a configured proxy address; from
  anyone else the connection's own address and scheme stand.
* HSTS when the request came over TLS (directly, or as a trusted proxy says) or the base URL is https.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from portal.settings import PortalSettings

log = logging.getLogger("portal.security")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'none'; frame-ancestors 'none'; form-action 'self'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
HSTS = "max-age=31536000; includeSubDomains"


def forwarded_client(peer: str, forwarded_for: str, trusted: frozenset[str]) -> str:
    """The client's address: the peer's own, unless the peer is a trusted proxy; then the nearest
    address in ``X-Forwarded-For`` that is not itself a trusted proxy (the rightmost one a trusted hop
    added; anything left of it was written by the client and proves nothing)."""
    if peer not in trusted or not forwarded_for.strip():
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop[:64]
    return peer


class Guard:
    def __init__(self, app: ASGIApp, settings: PortalSettings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.settings
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        peer = scope["client"][0] if scope.get("client") else ""
        if peer in settings.trusted_proxies:
            named = dict(headers)
            client = forwarded_client(
                peer, named.get(b"x-forwarded-for", b"").decode("latin-1"), settings.trusted_proxies
            )
            scope["client"] = (client, 0)
            proto = named.get(b"x-forwarded-proto", b"").decode("latin-1").strip().lower()
            if proto in ("http", "https"):
                scope["scheme"] = proto
        tls = scope.get("scheme") == "https" or settings.tls

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = dict(SECURITY_HEADERS)
                if tls:
                    extra["strict-transport-security"] = HSTS
                message["headers"] = list(message.get("headers", [])) + [
                    (k.encode(), v.encode()) for k, v in extra.items() if k.encode() not in present
                ]
            await send(message)

        header_bytes = sum(len(k) + len(v) + 4 for k, v in headers)
        if header_bytes > settings.max_header_bytes:
            log.warning("refused 431: %d bytes of request headers from %s", header_bytes, peer)
            await _plain(send_with_headers, 431, "request headers too large")
            return
        declared = dict(headers).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > settings.max_body_bytes:
            log.warning("refused 413: Content-Length %s from %s", declared.decode(), peer)
            await _plain(send_with_headers, 413, "request body too large")
            return
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send_with_headers)
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > settings.max_body_bytes:
                log.warning("refused 413: a body past %d bytes from %s", len(body), peer)
                await _plain(send_with_headers, 413, "request body too large")
                return
        whole = {"type": "http.request", "body": bytes(body), "more_body": False}
        await self.app(scope, _replay([whole], receive), send_with_headers)


def _replay(first: list[Message], receive: Receive) -> Receive:
    async def replayed() -> Message:
        return first.pop(0) if first else await receive()

    return replayed


async def _plain(send: Send, status: int, text: str) -> None:
    body = f"{status} {text}\n".encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
