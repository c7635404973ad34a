"""The settlement portal: staff reconciliation views and member downloads (FastAPI, server-rendered).

Two roles, never mixed: **staff** see every day's status, reconciliation, breaks, completeness proof,
stream health and alerts; **members** see and download only their own folder of each published
version. Browsers sign in with a password (session cookie, HttpOnly, SameSite=Strict); machines use
an API token (``Authorization: Bearer``). Every download and every refused request is written to the
access log that staff read at ``/staff/access-log``. Pages use no script and no external asset.

    dayclear portal serve [--state .state] [--port 8300]
"""

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import days as d
from . import views
from .store import SESSION_SECONDS, TOKEN_DAYS, Principal, Store

HERE = Path(__file__).resolve().parent
COOKIE = "dayclear_session"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Config:
    sources: d.Sources
    store: Store


def create_app(state: Path, database: Path | None = None) -> FastAPI:
    config = Config(d.Sources.under(state), Store(database or state / "portal" / "portal.sqlite"))
    app = FastAPI(
        title="dayclear settlement portal",
        version="1",
        description="Members download their own settlement files; staff read reconciliation reports.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.config = config
    templates = Jinja2Templates(directory=HERE / "templates")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    # --- who is asking ---------------------------------------------------------------------------
    def principal(request: Request) -> Principal | None:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return config.store.resolve(header[7:].strip(), "token")
        return config.store.resolve(request.cookies.get(COOKIE), "session")

    def signed_in(request: Request) -> Principal:
        who = principal(request)
        if who is None:
            raise HTTPException(401, "sign in or send a valid API token")
        request.state.who = who
        return who

    def staff(who: Annotated[Principal, Depends(signed_in)]) -> Principal:
        if not who.is_staff:
            raise HTTPException(403, "staff only")
        return who

    def member_access(member_id: str, who: Annotated[Principal, Depends(signed_in)]) -> Principal:
        """A member reads only its own member id; staff may read any (the exchange's own view)."""
        if not who.is_staff and who.member_id != member_id:
            raise HTTPException(403, f"{who.username} may not read member {member_id[:40]}")
        return who

    Signed = Annotated[Principal, Depends(signed_in)]
    Staff = Annotated[Principal, Depends(staff)]
    MemberReader = Annotated[Principal, Depends(member_access)]

    def client(request: Request) -> str:
        return request.client.host if request.client else ""

    def record(request: Request, who: Principal | None, outcome: str, detail: str = "") -> None:
        config.store.log(
            who, client(request), request.method, str(request.url.path), outcome, detail
        )

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def refused(request: Request, exc: StarletteHTTPException) -> Response:
        who = getattr(request.state, "who", None) or principal(request)
        record(request, who, f"refused {exc.status_code}", str(exc.detail))
        wants_html = "text/html" in request.headers.get(
            "accept", ""
        ) and not request.url.path.startswith("/api/")
        if exc.status_code == 401 and wants_html:
            return RedirectResponse("/login", status_code=303)
        if wants_html:
            return templates.TemplateResponse(
                request,
                "error.html",
                {"who": who, "status": exc.status_code, "detail": exc.detail},
                status_code=exc.status_code,
            )
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> Response:
        return await refused(request, StarletteHTTPException(404, "no such resource"))

    def not_found(what: str) -> HTTPException:
        return HTTPException(404, f"no such {what}")

    # --- sign in -----------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        who = principal(request)
        if who is None:
            return RedirectResponse("/login", status_code=303)
        return RedirectResponse(
            "/staff" if who.is_staff else f"/members/{who.member_id}", status_code=303
        )

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request) -> Response:
        return templates.TemplateResponse(request, "login.html", {"who": None, "error": None})

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()]
    ) -> Response:
        who = config.store.authenticate(username[:100], password[:200])
        if who is None:
            config.store.log(
                None,
                client(request),
                "POST",
                "/login",
                "refused 401",
                f"sign-in failed for {username[:100]!r}",
            )
            return templates.TemplateResponse(
                request,
                "login.html",
                {"who": None, "error": "Unknown user or wrong password."},
                status_code=401,
            )
        record(request, who, "signed in")
        secret = config.store.issue(who.username, "session", SESSION_SECONDS)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE,
            secret,
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=os.environ.get("DAYCLEAR_PORTAL_SECURE_COOKIE") == "1",
        )
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        secret = request.cookies.get(COOKIE)
        if secret:
            config.store.revoke(secret)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    # --- staff pages -------------------------------------------------------------------------------
    def day_rows() -> list[dict[str, Any]]:
        rows = []
        for day in d.days(config.sources):
            status = d.status(config.sources, day)
            rows.append(
                {
                    "day": day,
                    "status": status,
                    "latest": d.latest(config.sources, day),
                    "versions": d.versions(config.sources, day),
                    "breaks": d.breaks(config.sources, day),
                }
            )
        return rows

    @app.get("/staff", response_class=HTMLResponse, include_in_schema=False)
    def staff_days(request: Request, who: Staff) -> Response:
        return templates.TemplateResponse(
            request, "staff_days.html", {"who": who, "rows": day_rows()}
        )

    def day_context(day: str, version: str | None) -> dict[str, Any]:
        src = config.sources
        try:
            versions = d.versions(src, day)
            version = version or d.latest(src, day)
            if version is not None and version not in versions:
                raise d.NotFound(version)
            manifest = d.manifest(src, day, version) if version else None
        except d.NotFound as exc:
            raise not_found("day or version") from exc
        report = d.reconciliation(src, day, version) if version else None
        status = d.status(src, day)
        stopped = d.breaks(src, day)
        return {
            "day": day,
            "version": version,
            "versions": versions,
            "status": status,
            "settled_by": d.settled_by(manifest, status),
            "manifest": manifest,
            "report": report,
            "breaks": views.breaks_of(report),
            "stopped": stopped,
            "stopped_files": views.stopped_by_file(stopped),
            "completeness": d.completeness(src, day),
            "health": d.health(src),
            "alerts": d.alerts(src, day),
            "changes": d.changes(src, day, version) if version else None,
        }

    @app.get("/staff/days/{day}", response_class=HTMLResponse, include_in_schema=False)
    def staff_day(
        request: Request,
        who: Staff,
        day: str,
        version: str | None = None,
        instrument: str | None = None,
    ) -> Response:
        ctx = day_context(day, version)
        src, charts_html = config.sources, {}
        if ctx["manifest"]:
            charts_html["margin"] = views.member_margin_chart(ctx["manifest"])
            prices = views.exchange_prices(src, day, ctx["version"])
            ctx["prices"] = prices
            traded = [p for p in prices if p["price_source"].startswith("VWAP")]
            chosen = next((p for p in prices if p["instrument_id"] == instrument), None) or (
                max(traded, key=lambda p: int(p["volume"])) if traded else None
            )
            if chosen:
                ctx["instrument"] = chosen["instrument_id"]
                charts_html["price"] = views.price_windows(
                    src, day, chosen["instrument_id"], chosen
                )
        if ctx["report"]:
            charts_html["reconciliation"] = views.reconciliation_chart(ctx["report"])
        charts_html["stream"] = views.stream_chart(d.health_history(src, day))
        return templates.TemplateResponse(
            request, "staff_day.html", {"who": who, "charts": charts_html, **ctx}
        )

    @app.get(
        "/staff/days/{day}/{version}/breaks/{n}",
        response_class=HTMLResponse,
        include_in_schema=False,
    )
    def staff_break(request: Request, who: Staff, day: str, version: str, n: int) -> Response:
        ctx = day_context(day, version)
        found = [b for b in ctx["breaks"] if b["n"] == n]
        if not found:
            raise not_found("break")
        behind = views.rows_behind(config.sources, day, version, found[0])
        return templates.TemplateResponse(
            request, "staff_break.html", {"who": who, "brk": found[0], "behind": behind, **ctx}
        )

    @app.get("/staff/access-log", response_class=HTMLResponse, include_in_schema=False)
    def access_log_page(request: Request, who: Staff) -> Response:
        return templates.TemplateResponse(
            request, "access_log.html", {"who": who, "entries": config.store.access_log()}
        )

    # --- member pages ------------------------------------------------------------------------------
    def member_days(member_id: str) -> list[dict[str, Any]]:
        out = []
        for day in d.days(config.sources):
            try:
                versions = d.versions(config.sources, day)
            except d.NotFound:
                continue
            mine = []
            for version in versions:
                try:
                    d.member_files(config.sources, day, version, member_id)
                except d.NotFound:
                    continue
                mine.append(version)
            if mine:
                out.append(
                    {
                        "day": day,
                        "versions": mine,
                        "latest": d.latest(config.sources, day),
                        "reissued": len(mine) > 1,
                        "final": d.status(config.sources, day).get("final", False),
                    }
                )
        return out

    def version_context(member_id: str, day: str, version: str) -> dict[str, Any]:
        try:
            full = d.manifest(config.sources, day, version)
            mine = d.member_slice(full, day, member_id)
            changes = d.member_changes(config.sources, day, version, member_id)
            latest = d.latest(config.sources, day)
        except d.NotFound as exc:
            raise not_found("day, version or file") from exc
        return {
            "member_id": member_id,
            "day": day,
            "version": version,
            "latest": latest,
            "files": mine["files"],
            "totals": mine["totals"],
            "changes": changes,
            "reason": (full.get("lineage") or {}).get("reason", ""),
        }

    def member_home_page(
        request: Request, who: Principal, member_id: str, new_token: str | None = None
    ) -> Response:
        return templates.TemplateResponse(
            request,
            "member_home.html",
            {
                "who": who,
                "member_id": member_id,
                "days": member_days(member_id),
                "tokens": config.store.tokens(who.username) if not who.is_staff else [],
                "new_token": new_token,
            },
        )

    @app.get("/members/{member_id}", response_class=HTMLResponse, include_in_schema=False)
    def member_home(request: Request, who: MemberReader, member_id: str) -> Response:
        return member_home_page(request, who, member_id)

    @app.post("/members/{member_id}/tokens", response_class=HTMLResponse, include_in_schema=False)
    def new_token(
        request: Request, who: MemberReader, member_id: str, label: Annotated[str, Form()] = ""
    ) -> Response:
        if who.is_staff:
            raise HTTPException(403, "API tokens are issued to member users")
        secret = config.store.issue(who.username, "token", TOKEN_DAYS * 86400, label[:80])
        record(request, who, "token issued", label[:80])
        return member_home_page(request, who, member_id, secret)

    @app.get(
        "/members/{member_id}/days/{day}/{version}",
        response_class=HTMLResponse,
        include_in_schema=False,
    )
    def member_version(
        request: Request, who: MemberReader, member_id: str, day: str, version: str
    ) -> Response:
        ctx = version_context(member_id, day, version)
        return templates.TemplateResponse(request, "member_version.html", {"who": who, **ctx})

    # --- downloads and the JSON API (OpenAPI) --------------------------------------------------------
    def download(
        request: Request, who: Principal, data: bytes, filename: str, media: str, sha: str
    ) -> Response:
        record(request, who, "download", f"{filename} sha256={sha}")
        return Response(
            data,
            media_type=media,
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "X-Content-SHA256": sha,
            },
        )

    API = "/api/v1/members/{member_id}/days/{day}/versions/{version}"

    @app.get(
        "/api/v1/members/{member_id}/days",
        tags=["members"],
        summary="The member's days and versions",
    )
    def api_member_days(who: MemberReader, member_id: str) -> list[dict[str, Any]]:
        return member_days(member_id)

    @app.get(
        API + "/manifest", tags=["members"], summary="The member's slice of a version's manifest"
    )
    def api_manifest(
        request: Request, who: MemberReader, member_id: str, day: str, version: str
    ) -> dict[str, Any]:
        try:
            found = d.member_manifest(config.sources, day, version, member_id)
        except d.NotFound as exc:
            raise not_found("day, version or member folder") from exc
        record(request, who, "manifest")
        return found

    @app.get(
        API + "/changes",
        tags=["members"],
        summary="What changed for the member against the previous version",
    )
    def api_changes(who: MemberReader, member_id: str, day: str, version: str) -> dict[str, Any]:
        return {"changes": version_context(member_id, day, version)["changes"]}

    @app.get(
        API + "/files/{name}",
        tags=["members"],
        summary="One settlement file (X-Content-SHA256 from the manifest)",
    )
    def api_file(
        request: Request, who: MemberReader, member_id: str, day: str, version: str, name: str
    ) -> Response:
        try:
            data = d.member_file(config.sources, day, version, member_id, name)
        except d.NotFound as exc:
            raise not_found("file") from exc
        return download(
            request,
            who,
            data,
            f"{day}_{version}_{member_id}_{name}",
            "text/csv",
            hashlib.sha256(data).hexdigest(),  # member_file checked it equals the manifest's
        )

    @app.get(API + "/archive", tags=["members"], summary="The member's whole folder as a zip")
    def api_archive(
        request: Request, who: MemberReader, member_id: str, day: str, version: str
    ) -> Response:
        try:
            data = d.member_archive(config.sources, day, version, member_id)
        except d.NotFound as exc:
            raise not_found("day or version") from exc
        sha = hashlib.sha256(data).hexdigest()
        return download(
            request, who, data, f"{day}_{version}_{member_id}.zip", "application/zip", sha
        )

    @app.get(
        "/api/v1/days/{day}/versions/{version}/settlement-prices",
        tags=["members"],
        summary="The exchange's settlement prices (public to every member)",
    )
    def api_prices(request: Request, who: Signed, day: str, version: str) -> Response:
        try:
            full = d.manifest(config.sources, day, version)
        except d.NotFound as exc:
            raise not_found("day or version") from exc
        path = config.sources.out / day / version / "exchange" / "settlement_prices.csv"
        data = path.read_bytes()
        sha = full["files"]["exchange/settlement_prices.csv"]["sha256"]
        return download(
            request, who, data, f"{day}_{version}_settlement_prices.csv", "text/csv", sha
        )

    @app.get("/api/v1/days", tags=["staff"], summary="Every trading day with its status")
    def api_days(who: Staff) -> list[dict[str, Any]]:
        return [{k: r[k] for k in ("day", "status", "latest", "versions")} for r in day_rows()]

    @app.get(
        "/api/v1/days/{day}",
        tags=["staff"],
        summary="A day's status, reconciliation summary and breaks",
    )
    def api_day(who: Staff, day: str, version: str | None = None) -> dict[str, Any]:
        ctx = day_context(day, version)
        report = ctx["report"] or {}
        return {
            "day": day,
            "version": ctx["version"],
            "status": ctx["status"],
            "reconciliation": {"passed": report.get("passed"), "summary": report.get("summary")},
            "breaks": ctx["breaks"],
            "stopped": ctx["stopped"],
            "completeness": ctx["completeness"],
        }

    @app.get("/api/v1/access-log", tags=["staff"], summary="The access log, newest first")
    def api_access_log(who: Staff, limit: int = 500) -> list[dict[str, Any]]:
        return config.store.access_log(min(max(limit, 1), 5000))

    # Member HTML download links share the API's handlers (and its checks and log).
    app.add_api_route(
        "/members/{member_id}/days/{day}/{version}/files/{name}", api_file, include_in_schema=False
    )
    app.add_api_route(
        "/members/{member_id}/days/{day}/{version}/archive", api_archive, include_in_schema=False
    )
    return app


def app_from_env() -> FastAPI:
    """For ``uvicorn portal.app:app_from_env --factory`` (production, see docker-compose.yml)."""
    return create_app(Path(os.environ.get("DAYCLEAR_STATE", ".state")))
