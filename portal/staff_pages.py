"""Staff pages and their API: the trading days, a day (status, reconciliation and its breaks,
completeness proof, prices, margin, stream health and alerts), the rows behind a break, and the access
log with its filters."""

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from portal import days as d
from portal import formatting as fmt
from portal import views
from portal.i18n import N_
from portal.store import LogFilter
from portal.web import Portal, Staff

LOG_PAGE_ROWS = 100
#: The outcomes the access-log filter offers (a prefix: "refused" is every refusal).
OUTCOMES = (
    N_("read"),
    N_("download"),
    N_("manifest"),
    N_("signed in"),
    N_("signed out"),
    N_("token"),
    N_("refused"),
)


def log_filter(user: str, member: str, outcome: str, day: str, anonymous: bool | None) -> LogFilter:
    since, until = fmt.day_bounds(day) if d.DAY.match(day) else (None, None)
    return LogFilter(
        user=user or None,
        member=member or None,
        outcome=outcome or None,
        since=since,
        until=until,
        anonymous=anonymous,
    )


def add_routes(app: FastAPI, portal: Portal) -> None:
    src = portal.sources

    def not_found(what: str) -> HTTPException:
        return HTTPException(404, what)

    def day_rows() -> list[dict[str, Any]]:
        return [
            {
                "day": day,
                "status": d.status(src, day),
                "latest": d.latest(src, day),
                "versions": d.versions(src, day),
                "breaks": d.breaks(src, day),
            }
            for day in d.days(src)
        ]

    @app.get("/staff", response_class=HTMLResponse, include_in_schema=False)
    def staff_days(request: Request, who: Staff) -> Response:
        return portal.render(request, "staff_days.html", {"who": who, "rows": day_rows()})

    def day_context(day: str, version: str | None) -> dict[str, Any]:
        try:
            versions = d.versions(src, day)
            version = version or d.latest(src, day)
            if version is not None and version not in versions:
                raise d.NotFound(version)
            manifest = d.manifest(src, day, version) if version else None
        except d.NotFound as exc:
            raise not_found(N_("No such day or version.")) from exc
        report = d.reconciliation(src, day, version) if version else None
        status = d.status(src, day)
        return {
            "day": day,
            "version": version,
            "versions": versions,
            "status": status,
            "settled_by": d.settled_by(manifest, status),
            "manifest": manifest,
            "report": report,
            "breaks": views.breaks_of(report),
            "stopped": (stopped := d.breaks(src, day)),
            "stopped_files": views.stopped_by_file(stopped),
            "completeness": d.completeness(src, day),
            "health": views.health_reading(d.health(src)),
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
        gettext = portal.translator(request)
        charts_html = {}
        if ctx["manifest"]:
            charts_html["margin"] = views.member_margin_chart(ctx["manifest"], gettext)
            prices = views.exchange_prices(src, day, ctx["version"])
            ctx["prices"] = prices
            traded = [p for p in prices if p["price_source"].startswith("VWAP")]
            chosen = next((p for p in prices if p["instrument_id"] == instrument), None) or (
                max(traded, key=lambda p: int(p["volume"])) if traded else None
            )
            if chosen:
                ctx["instrument"] = chosen["instrument_id"]
                charts_html["price"] = views.price_windows(
                    src, day, chosen["instrument_id"], chosen, gettext
                )
        if ctx["report"]:
            charts_html["reconciliation"] = views.reconciliation_chart(ctx["report"], gettext)
        charts_html["stream"] = views.stream_chart(d.health_history(src, day), gettext)
        return portal.render(request, "staff_day.html", {"who": who, "charts": charts_html, **ctx})

    @app.get(
        "/staff/days/{day}/{version}/breaks/{n}",
        response_class=HTMLResponse,
        include_in_schema=False,
    )
    def staff_break(request: Request, who: Staff, day: str, version: str, n: int) -> Response:
        ctx = day_context(day, version)
        found = [b for b in ctx["breaks"] if b["n"] == n]
        if not found:
            raise not_found(N_("No such break."))
        behind = views.rows_behind(src, day, version, found[0])
        return portal.render(
            request, "staff_break.html", {"who": who, "brk": found[0], "behind": behind, **ctx}
        )

    @app.get("/staff/access-log", response_class=HTMLResponse, include_in_schema=False)
    def access_log_page(
        request: Request,
        who: Staff,
        user: str = "",
        member: str = "",
        outcome: str = "",
        day: str = "",
        anonymous: bool = False,
        page: int = 1,
    ) -> Response:
        where = log_filter(user, member, outcome, day, bool(anonymous))
        total = portal.store.access_log_count(where)
        pages = max(1, -(-total // LOG_PAGE_ROWS))
        page = min(max(page, 1), pages)
        entries = portal.store.access_log(LOG_PAGE_ROWS, (page - 1) * LOG_PAGE_ROWS, where)
        anonymous_where = log_filter("", "", "refused", day, True)
        return portal.render(
            request,
            "access_log.html",
            {
                "who": who,
                "entries": entries,
                "total": total,
                "page": page,
                "pages": pages,
                "filters": {
                    "user": user,
                    "member": member,
                    "outcome": outcome,
                    "day": day,
                    "anonymous": anonymous,
                },
                "outcomes": OUTCOMES,
                "anonymous_refusals": portal.store.access_log_count(anonymous_where),
            },
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

    @app.get(
        "/api/v1/access-log",
        tags=["staff"],
        summary="The access log, newest first, filtered (user, member, outcome prefix, "
        "exchange-time day, anonymous) and paged; times as epoch seconds and ISO 8601",
    )
    def api_access_log(
        who: Staff,
        limit: int = 500,
        offset: int = 0,
        user: str = "",
        member: str = "",
        outcome: str = "",
        day: str = "",
        anonymous: bool | None = None,
    ) -> list[dict[str, Any]]:
        where = log_filter(user, member, outcome, day, anonymous)
        rows = portal.store.access_log(min(max(limit, 1), 5000), max(offset, 0), where)
        return [
            {
                **r,
                "at_local": fmt.local_time(float(r["at"])),
                "at_utc": fmt.utc_time(float(r["at"])),
            }
            for r in rows
        ]
