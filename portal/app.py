"""The settlement portal: staff reconciliation views and member pages and downloads (FastAPI,
server-rendered, Chinese and English).

Two roles, never mixed: **staff** see every day's status, reconciliation, breaks, completeness proof,
stream health, alerts and the access log; **members** see and download only their own folder of each
published version. Browsers sign in with a password (session cookie, HttpOnly, SameSite=Strict);
machines use an API token (``Authorization: Bearer``). Every state-changing form is checked for its
origin and CSRF token (``portal.csrf``); sign-ins are throttled per user and per client; sizes,
client addresses and response headers are handled before routing (``portal.guard``). Pages use no
script and no external asset.

    dayclear portal serve [--state .state] [--port 8300]
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from dayclear.config import StateLayout, state_dir
from portal import days as d
from portal import i18n, member_pages, staff_pages
from portal.guard import Guard
from portal.i18n import N_
from portal.settings import PortalSettings
from portal.store import SESSION_SECONDS, Store
from portal.web import COOKIE, HERE, PRE_SESSION_COOKIE, Portal

log = logging.getLogger("portal.security")
LANG_COOKIE_SECONDS = 365 * 86400
#: How long a sign-in waits for the others of its name or address being checked before it is refused.
SIGN_IN_QUEUE_SECONDS = 60.0


def create_app(
    state: Path, database: Path | None = None, settings: PortalSettings | None = None
) -> FastAPI:
    settings = settings or PortalSettings.from_env()
    layout = StateLayout(state)
    sources = d.Sources(layout.published, layout.snapshots, layout.ops, layout.bundles)
    portal = Portal(settings, Store(database or layout.portal_db), sources)
    app = FastAPI(
        title="dayclear settlement portal",
        version="1",
        description="Members download their own settlement files; staff read reconciliation reports.",
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,  # a slash redirect would be built from the request's Host
    )
    app.state.portal = portal
    password_checks = ThreadPoolExecutor(settings.password_checks, "password-check")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(Guard, settings=settings)

    @app.exception_handler(StarletteHTTPException)
    async def refused(request: Request, exc: StarletteHTTPException) -> Response:
        path = request.url.path
        if exc.status_code == 404 and len(path) > 1 and path.endswith("/"):
            query = f"?{request.url.query}" if request.url.query else ""
            return portal.redirect(path.rstrip("/") + query)
        who = getattr(request.state, "who", None) or portal.principal(request)
        portal.record(request, who, f"refused {exc.status_code}", str(exc.detail))
        wants_html = "text/html" in request.headers.get("accept", "") and not path.startswith(
            "/api/"
        )
        if exc.status_code == 401 and wants_html:
            return portal.redirect("/login")
        if wants_html:
            return portal.render(
                request,
                "error.html",
                {"who": who, "status": exc.status_code, "detail": exc.detail},
                status_code=exc.status_code,
            )
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> Response:
        return await refused(request, StarletteHTTPException(404, N_("No such page.")))

    @app.exception_handler(d.Tampered)
    async def tampered(request: Request, exc: d.Tampered) -> Response:
        log.error("not served, %s", exc)
        return await refused(
            request,
            StarletteHTTPException(
                500, N_("This file does not match its manifest and is not served.")
            ),
        )

    # --- sign in and out ------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        who = portal.principal(request)
        if who is None:
            return portal.redirect("/login")
        return portal.redirect("/staff" if who.is_staff else f"/members/{who.member_id}")

    def login_page(
        request: Request, error: str | None = None, status_code: int = 200, retry: int = 0
    ) -> Response:
        pre = request.cookies.get(PRE_SESSION_COOKIE) or secrets.token_urlsafe(32)
        response = portal.render(
            request,
            "login.html",
            {"error": error, "retry": retry},
            status_code=status_code,
            binding="pre|" + pre,
        )
        response.set_cookie(
            PRE_SESSION_COOKIE,
            pre,
            httponly=True,
            samesite="strict",
            secure=settings.cookie_secure,
        )
        if retry:
            response.headers["Retry-After"] = str(retry)
        return response

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request) -> Response:
        return login_page(request)

    @app.post("/login", include_in_schema=False)
    async def login(
        request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()]
    ) -> Response:
        await portal.check_form(request, sign_in=True)
        username = username[:100]
        client = portal.client(request)
        throttle = settings.throttle
        keys = [
            (f"user:{username.lower()}", throttle.user_failures),
            (f"client:{client}", throttle.client_failures),
        ]
        locked, admitted = await run_in_threadpool(portal.store.sign_in_attempt, keys, throttle)
        pause, give_up = 0.05, time.monotonic() + SIGN_IN_QUEUE_SECONDS
        while not admitted and locked == 0 and time.monotonic() < give_up:
            await asyncio.sleep(pause)  # others of this name or address are being checked
            pause = min(2 * pause, 1.0)
            locked, admitted = await run_in_threadpool(portal.store.sign_in_attempt, keys, throttle)
        if not admitted:
            retry = int(locked) + 1
            portal.record(request, None, "refused 429", f"sign-in locked for {username!r}")
            log.warning("sign-in refused: %r from %s is locked for %d s", username, client, retry)
            return login_page(request, N_("Too many failed sign-ins. Try again later."), 429, retry)
        who = None
        try:
            # scrypt takes ~50 ms of CPU and 16 MiB: off the event loop, a few at a time
            who = await asyncio.get_running_loop().run_in_executor(
                password_checks, portal.store.authenticate, username, password[:200]
            )
        finally:
            counted = portal.store.sign_in_done(keys, throttle, succeeded=who is not None)
        if who is None:
            portal.record(request, None, "refused 401", f"sign-in failed for {username!r}")
            for key, failures, lock in counted:
                if lock:
                    log.warning(
                        "%s locked for %.0f s after %d failed sign-ins", key, lock, failures
                    )
            return login_page(request, N_("Unknown user or wrong password."), 401)
        portal.record(request, who, "signed in")
        secret = portal.store.issue(who.username, "session", SESSION_SECONDS)
        response = portal.redirect("/")
        response.set_cookie(
            COOKIE,
            secret,
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=settings.cookie_secure,
        )
        response.delete_cookie(PRE_SESSION_COOKIE)
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        await portal.check_form(request)
        secret = request.cookies.get(COOKIE)
        who = portal.store.resolve(secret, "session")
        if secret and who:
            portal.store.revoke(secret)
            portal.record(request, who, "signed out")
        response = portal.redirect("/login")
        response.delete_cookie(COOKIE)
        return response

    @app.post("/logout/everywhere", include_in_schema=False)
    async def logout_everywhere(request: Request) -> Response:
        await portal.check_form(request)
        who = portal.store.resolve(request.cookies.get(COOKIE), "session")
        if who is None:
            raise HTTPException(401, N_("Sign in or send a valid API token."))
        ended = portal.store.revoke_all(who.username)
        portal.record(request, who, "signed out everywhere", f"{ended} session(s) and token(s)")
        response = portal.redirect("/login")
        response.delete_cookie(COOKIE)
        return response

    @app.get("/language/{locale}", include_in_schema=False)
    def language(request: Request, locale: str, next: str = "/") -> Response:
        response = portal.redirect(next)
        if locale in i18n.LANGUAGES:
            response.set_cookie(
                i18n.COOKIE,
                locale,
                max_age=LANG_COOKIE_SECONDS,
                samesite="lax",
                secure=settings.cookie_secure,
            )
        return response

    staff_pages.add_routes(app, portal)
    member_pages.add_routes(app, portal)
    return app


def app_from_env() -> FastAPI:
    """For ``uvicorn portal.app:app_from_env --factory --no-proxy-headers`` (docker-compose.yml)."""
    return create_app(state_dir())
