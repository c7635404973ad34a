"""Member pages and the member API: the member's days with the history of its balance and margin and
its API tokens; a version with the funds summary per account, the margin calls, positions and trades
as sorted and paged tables, what a re-issue changed and the files to download. Every read of member
data is in the access log, whoever reads it (staff too)."""

import hashlib
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from portal import archive, charts
from portal import days as d
from portal import members as m
from portal.i18n import N_
from portal.store import TOKEN_DAYS, Principal
from portal.web import MemberReader, Portal, Signed

T = TypeVar("T")


def add_routes(app: FastAPI, portal: Portal) -> None:
    src = portal.sources
    plans = archive.PlanCache()  # the archives' SHA-256 and lengths, measured once per version

    def not_found() -> HTTPException:
        return HTTPException(404, N_("No such day, version or file."))

    def found(read: Callable[[], T]) -> T:
        """What ``read`` reads, or 404 when it names nothing the caller may see."""
        try:
            return read()
        except d.NotFound as exc:
            raise not_found() from exc

    def member_days(member_id: str) -> list[dict[str, Any]]:
        out = []
        for day in d.days(src):
            try:
                versions = d.versions(src, day)
            except d.NotFound:
                continue
            mine = []
            for version in versions:
                try:
                    d.member_files(src, day, version, member_id)
                except d.NotFound:
                    continue
                mine.append(version)
            if mine:
                out.append(
                    {
                        "day": day,
                        "versions": mine,
                        "latest": d.latest(src, day),
                        "reissued": len(mine) > 1,
                        "final": d.status(src, day).get("final", False),
                    }
                )
        return out

    def history_chart(request: Request, member_id: str) -> str:
        gettext = portal.translator(request)
        found = m.history(src, member_id)
        return charts.lines(
            gettext("Balance and margin over your days"),
            [h["day"] for h in found],
            {
                gettext("balance"): [h["balance"] for h in found],
                gettext("margin"): [h["margin"] for h in found],
                gettext("margin call"): [h["margin_call"] for h in found],
            },
            x_label=gettext("trading day"),
            y_label=gettext("amount (CNY)"),
            too_few=gettext(
                "one trading day so far: the chart draws a line from the second day on."
            ),
        )

    def member_home_page(
        request: Request, who: Principal, member_id: str, new_token: str | None = None
    ) -> Response:
        listed = member_days(member_id)
        latest = next((r for r in listed if r["latest"] in r["versions"]), None)
        calls = (
            {"day": latest["day"], "version": latest["latest"], **summary_calls(latest, member_id)}
            if latest
            else None
        )
        return portal.render(
            request,
            "member_home.html",
            {
                "who": who,
                "member_id": member_id,
                "days": listed,
                "calls": calls,
                "history": history_chart(request, member_id),
                "tokens": portal.store.tokens(who.username) if not who.is_staff else [],
                "new_token": new_token,
                "token_days": TOKEN_DAYS,
            },
        )

    def summary_calls(row: dict[str, Any], member_id: str) -> dict[str, Any]:
        summary = m.funds_summary(src, row["day"], row["latest"], member_id)
        return {"accounts": summary["calls"], "total": summary["call_total"]}

    @app.get("/members/{member_id}", response_class=HTMLResponse, include_in_schema=False)
    def member_home(request: Request, who: MemberReader, member_id: str) -> Response:
        portal.record(request, who, "read")
        return member_home_page(request, who, member_id)

    @app.post("/members/{member_id}/tokens", response_class=HTMLResponse, include_in_schema=False)
    async def new_token(
        request: Request, who: MemberReader, member_id: str, label: Annotated[str, Form()] = ""
    ) -> Response:
        await portal.check_form(request)
        if who.is_staff:
            raise HTTPException(403, N_("API tokens are issued to member users."))
        secret = portal.store.issue(who.username, "token", TOKEN_DAYS * 86400, label[:80])
        portal.record(request, who, "token issued", label[:80])
        return member_home_page(request, who, member_id, secret)

    @app.post(
        "/members/{member_id}/tokens/{token_id}/revoke",
        response_class=HTMLResponse,
        include_in_schema=False,
    )
    async def revoke_token(
        request: Request, who: MemberReader, member_id: str, token_id: str
    ) -> Response:
        await portal.check_form(request)
        if not portal.store.revoke_token(who.username, token_id):
            raise HTTPException(404, N_("No such token."))
        portal.record(request, who, "token revoked", token_id)
        return portal.redirect(f"/members/{member_id}#tokens")

    def version_context(
        member_id: str, day: str, version: str, sort: str | None, desc: bool, page: int, table: str
    ) -> dict[str, Any]:
        try:
            full = d.manifest(src, day, version)
            mine = d.member_slice(full, day, member_id)
            tables = {
                name: m.table(
                    src,
                    day,
                    version,
                    member_id,
                    name,
                    sort if name == table else None,
                    desc if name == table else False,
                    page if name == table else 1,
                )
                for name in m.TABLES
            }
            return {
                "member_id": member_id,
                "day": day,
                "version": version,
                "latest": d.latest(src, day),
                "files": mine["files"],
                "totals": mine["totals"],
                "funds": m.funds_summary(src, day, version, member_id),
                "margin_calls": m.margin_calls(src, day, version, member_id),
                "tables": tables,
                "changes": m.changes(src, day, version, member_id),
                "reason": (full.get("lineage") or {}).get("reason", ""),
            }
        except d.NotFound as exc:
            raise not_found() from exc

    @app.get(
        "/members/{member_id}/days/{day}/{version}",
        response_class=HTMLResponse,
        include_in_schema=False,
    )
    def member_version(
        request: Request,
        who: MemberReader,
        member_id: str,
        day: str,
        version: str,
        table: str = "",
        sort: str | None = None,
        desc: bool = False,
        page: int = 1,
    ) -> Response:
        ctx = version_context(member_id, day, version, sort, desc, page, table)
        portal.record(request, who, "read", version)
        return portal.render(request, "member_version.html", {"who": who, **ctx})

    # --- downloads and the JSON API (OpenAPI) --------------------------------------------------------
    def download(
        request: Request, who: Principal, data: bytes, filename: str, media: str, sha: str
    ) -> Response:
        portal.record(request, who, "download", f"{filename} sha256={sha}")
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
    def api_member_days(
        request: Request, who: MemberReader, member_id: str
    ) -> list[dict[str, Any]]:
        portal.record(request, who, "read")
        return member_days(member_id)

    @app.get(
        API + "/manifest", tags=["members"], summary="The member's slice of a version's manifest"
    )
    def api_manifest(
        request: Request, who: MemberReader, member_id: str, day: str, version: str
    ) -> dict[str, Any]:
        mine = found(lambda: d.member_manifest(src, day, version, member_id))
        portal.record(request, who, "manifest")
        return mine

    @app.get(
        API + "/changes",
        tags=["members"],
        summary="What changed for the member against the previous version: per changed file, the "
        "rows (by the file's key) and in each only the columns that changed, old and new",
    )
    def api_changes(
        request: Request, who: MemberReader, member_id: str, day: str, version: str
    ) -> dict[str, Any]:
        changed = found(lambda: m.changes(src, day, version, member_id))
        portal.record(request, who, "read", "changes")
        return {"changes": changed}

    @app.get(
        API + "/files/{name}",
        tags=["members"],
        summary="One settlement file (X-Content-SHA256 from the manifest)",
    )
    def api_file(
        request: Request, who: MemberReader, member_id: str, day: str, version: str, name: str
    ) -> Response:
        data = found(lambda: d.member_file(src, day, version, member_id, name))
        return download(
            request,
            who,
            data,
            f"{day}_{version}_{member_id}_{name}",
            "text/csv",
            hashlib.sha256(data).hexdigest(),  # member_file checked it equals the manifest's
        )

    @app.get(
        API + "/archive",
        tags=["members"],
        summary="The member's whole folder as a zip, streamed (X-Content-SHA256 and Content-Length "
        "of the whole zip)",
    )
    def api_archive(
        request: Request, who: MemberReader, member_id: str, day: str, version: str
    ) -> Response:
        zipped = found(lambda: archive.member_archive(src, day, version, member_id, plans))
        filename = f"{day}_{version}_{member_id}.zip"
        portal.record(request, who, "download", f"{filename} sha256={zipped.sha256}")
        return StreamingResponse(
            zipped.chunks,
            media_type="application/zip",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Content-Length": str(zipped.length),
                "X-Content-SHA256": zipped.sha256,
            },
        )

    @app.get(
        "/api/v1/days/{day}/versions/{version}/settlement-prices",
        tags=["members"],
        summary="The exchange's settlement prices (public to every member; checked against the "
        "manifest)",
    )
    def api_prices(request: Request, who: Signed, day: str, version: str) -> Response:
        data = found(lambda: d.exchange_file(src, day, version, "settlement_prices.csv"))
        sha = hashlib.sha256(data).hexdigest()
        return download(
            request, who, data, f"{day}_{version}_settlement_prices.csv", "text/csv", sha
        )

    # Member HTML download links share the API's handlers (and its checks and log).
    app.add_api_route(
        "/members/{member_id}/days/{day}/{version}/files/{name}", api_file, include_in_schema=False
    )
    app.add_api_route(
        "/members/{member_id}/days/{day}/{version}/archive", api_archive, include_in_schema=False
    )
