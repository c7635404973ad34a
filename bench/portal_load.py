"""The portal under the download load of every member at once: each of a day's members (150 on the demo
day) signs in through the form (CSRF token, Origin), as a browser does, then downloads each of its
files and its zip, all members concurrently; then the same again with API tokens. Prints the latency
percentiles (p50, p95, p99, max) and the errors of the downloads and of the sign-ins.

    .venv/bin/python bench/portal_load.py --state .state              # after make demo: its 150 members
    .venv/bin/python bench/portal_load.py --work DIR [--members 150]  # simulate and settle a day first

The server is ``dayclear portal serve`` in its own process (as in production, one uvicorn worker);
the load comes from this process (httpx, asyncio), on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal import days as d  # noqa: E402
from portal.store import Store  # noqa: E402

log = logging.getLogger("portal_load")
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def build_day(work: Path, members: int, day: date) -> Path:
    """Simulate and settle one day (the Flink pre-aggregation and the end of day) under ``work``."""
    from dayclear.pipeline import replay
    from dayclear.simulator import SimulationConfig, simulate

    state = work / "state"
    bundle = state / "bundles" / day.isoformat()
    simulate(SimulationConfig(day=day, members=members), bundle)
    replay(bundle, day, state / "published", work / "replay")
    shutil.copytree(work / "replay" / "snapshot", state / "snapshots" / day.isoformat())
    return state


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    if not ordered:
        return {}

    def at(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1)

    return {
        "n": len(ordered),
        "p50_ms": at(0.50),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


async def one_member(
    url: str,
    member: str,
    password: str,
    day: str,
    version: str,
    files: list[str],
    out: dict[str, list],  # type: ignore[type-arg]
) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        started = time.perf_counter()
        try:
            page = await client.get("/login")
            token = CSRF.search(page.text)
            signed = await client.post(
                "/login",
                data={
                    "username": member.lower(),
                    "password": password,
                    "csrf_token": token.group(1) if token else "",
                },
                headers={"Origin": url},
            )
            ok = signed.status_code == 303
        except httpx.HTTPError:
            ok = False
        out["sign_in"].append(time.perf_counter() - started)
        if not ok:
            out["sign_in_errors"].append(member)
            return
        await downloads(client, member, day, version, files, out)


async def downloads(
    client: httpx.AsyncClient,
    member: str,
    day: str,
    version: str,
    files: list[str],
    out: dict[str, list],  # type: ignore[type-arg]
) -> None:
    base = f"/api/v1/members/{member}/days/{day}/versions/{version}"
    for path in [*(f"{base}/files/{name}" for name in files), f"{base}/archive"]:
        started = time.perf_counter()
        try:
            response = await client.get(path)
            ok = response.status_code == 200 and len(response.content) > 0
            what = f"{response.status_code} {path}"
        except httpx.HTTPError as exc:
            ok, what = False, f"{type(exc).__name__} {path}"
        out["download"].append(time.perf_counter() - started)
        out["bytes"].append(len(response.content) if ok else 0)
        if not ok:
            out["download_errors"].append(what)


async def with_tokens(
    url: str,
    tokens: dict[str, str],
    day: str,
    version: str,
    files: dict[str, list[str]],
    out: dict[str, list],  # type: ignore[type-arg]
) -> None:
    async def member(m: str) -> None:
        headers = {"Authorization": f"Bearer {tokens[m]}"}
        async with httpx.AsyncClient(base_url=url, timeout=120, headers=headers) as client:
            await downloads(client, m, day, version, files[m], out)

    await asyncio.gather(*(member(m) for m in tokens))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state", type=Path, help="a state folder with a published day")
    parser.add_argument("--work", type=Path, help="where to simulate and settle a day first")
    parser.add_argument("--members", type=int, default=150)
    parser.add_argument("--day", default="2026-11-23")
    args = parser.parse_args()
    if args.state is None:
        if args.work is None:
            parser.error("give --state (e.g. .state after make demo) or --work")
        args.state = build_day(args.work, args.members, date.fromisoformat(args.day))
    src = d.Sources.under(args.state)
    day = args.day
    version = d.latest(src, day) or d.versions(src, day)[-1]
    manifest = d.manifest(src, day, version)
    members = sorted(manifest.get("members") or {})
    files = {m: sorted(d.member_files(src, day, version, m)) for m in members}

    database = args.state / "portal" / f"load-{os.getpid()}.sqlite"
    store = Store(database)
    passwords = {m: secrets.token_urlsafe(12) for m in members}
    for m in members:
        store.add_user(m.lower(), "member", passwords[m], m)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = (
        "import sys, uvicorn; from pathlib import Path; from portal import server; "
        "from portal.settings import PortalSettings; "
        "uvicorn.Server(server.config(Path(sys.argv[1]), '127.0.0.1', int(sys.argv[2]), "
        "PortalSettings(base_url=sys.argv[3]), Path(sys.argv[4]))).run()"
    )
    # the load's own users database beside the state's, so that the demo's users stay as they are
    server = subprocess.Popen(
        [sys.executable, "-c", serve, str(args.state), str(port), url, str(database)], cwd=ROOT
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                httpx.get(url + "/login", timeout=2)
                break
            except httpx.HTTPError:
                if time.time() > deadline:
                    raise
                time.sleep(0.3)
        sessions: dict[str, list] = {
            k: [] for k in ("sign_in", "sign_in_errors", "download", "download_errors", "bytes")
        }  # type: ignore[type-arg]
        started = time.perf_counter()

        async def everyone() -> None:
            await asyncio.gather(
                *(
                    one_member(url, m, passwords[m], day, version, files[m], sessions)
                    for m in members
                )
            )

        asyncio.run(everyone())
        session_wall = time.perf_counter() - started
        tokens = {m: store.issue(m.lower(), "token", 3600, "load") for m in members}
        bearer: dict[str, list] = {k: [] for k in ("download", "download_errors", "bytes")}  # type: ignore[type-arg]
        started = time.perf_counter()
        asyncio.run(with_tokens(url, tokens, day, version, files, bearer))
        token_wall = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(10)
    report = {
        "commit": subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "day": day,
        "version": version,
        "members": len(members),
        "concurrent_clients": len(members),
        "sessions": {
            "wall_s": round(session_wall, 2),
            "sign_in": percentiles(sessions["sign_in"]),
            "sign_in_errors": len(sessions["sign_in_errors"]),
            "downloads": percentiles(sessions["download"]),
            "download_errors": len(sessions["download_errors"]),
            "megabytes": round(sum(sessions["bytes"]) / 1e6, 1),
        },
        "tokens": {
            "wall_s": round(token_wall, 2),
            "downloads": percentiles(bearer["download"]),
            "download_errors": len(bearer["download_errors"]),
            "megabytes": round(sum(bearer["bytes"]) / 1e6, 1),
        },
    }
    print(json.dumps(report, indent=1))
    for what in (sessions["download_errors"] + bearer["download_errors"])[:10]:
        log.warning("error: %s", what)
    database.unlink(missing_ok=True)
    return (
        0
        if not (
            sessions["sign_in_errors"] or sessions["download_errors"] or bearer["download_errors"]
        )
        else 1
    )


if __name__ == "__main__":
    raise SystemExit(main())
