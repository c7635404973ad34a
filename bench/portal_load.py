"""The portal under load, bounded and on loopback: every member of a day (150 on the demo day) signs in
through the form (CSRF token, Origin) as a browser does, all at once; then every member downloads
its zip and its five files at once (150 x 6 requests in flight together), with its session and then
again with an API token; then a password-guessing run against the sign-in throttle's default limits.
Prints a JSON report: latency percentiles (p50, p95, p99, max), errors (a download is an error unless
it is a 200 whose bytes match the manifest's SHA-256, or for a zip its own X-Content-SHA256 and
Content-Length), the server's peak RSS (``VmHWM`` of its process) and what the guessing run met.

    .venv/bin/python bench/portal_load.py --state .state              # after make demo: its 150 members
    .venv/bin/python bench/portal_load.py --work DIR [--members 150]  # simulate and settle a day first

The server is the production one (``portal.server.config``, one uvicorn worker) in its own process;
it trusts loopback as its TLS proxy, so that the guessing run can come from many client addresses
through ``X-Forwarded-For`` as production's proxy reports them. The load comes from this process
(httpx, asyncio) on the same machine. The guessing run waits out one real lock (31 s) to show the
sign-in working again.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
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
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal import days as d  # noqa: E402
from portal.settings import Throttle  # noqa: E402
from portal.store import Store  # noqa: E402

log = logging.getLogger("portal_load")
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def build_day(work: Path, members: int, day: date) -> Path:
    """Simulate and settle one day (the Flink pre-aggregation and the end of day) under ``work``."""
    from devtools.simulator import SimulationConfig, simulate
    from driver.pipeline import replay

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


Samples = dict[str, list[Any]]


def samples(*keys: str) -> Samples:
    return {k: [] for k in keys}


async def sign_in(client: httpx.AsyncClient, url: str, username: str, password: str) -> int:
    """Post the sign-in form as a browser on the portal's own page does; the status (303: signed in)."""
    page = await client.get("/login")
    token = CSRF.search(page.text)
    signed = await client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": token.group(1) if token else "",
        },
        headers={"Origin": url},
    )
    return signed.status_code


async def one_download(client: httpx.AsyncClient, path: str, sha: str | None, out: Samples) -> None:
    """One download, timed; ``sha``: the manifest's SHA-256 of a file (None: a zip, checked against
    its own X-Content-SHA256 and Content-Length)."""
    started = time.perf_counter()
    what = path
    try:
        response = await client.get(path)
        body = response.content
        digest = hashlib.sha256(body).hexdigest()
        if sha is None:
            ok = (
                response.status_code == 200
                and response.headers.get("x-content-sha256") == digest
                and response.headers.get("content-length") == str(len(body))
            )
        else:
            ok = response.status_code == 200 and digest == sha
        what = f"{response.status_code} {path}"
    except httpx.HTTPError as exc:
        ok, body, what = False, b"", f"{type(exc).__name__} {path}"
    out["download" if sha is not None else "zip"].append(time.perf_counter() - started)
    out["all"].append(out["download" if sha is not None else "zip"][-1])
    out["bytes"].append(len(body) if ok else 0)
    if not ok:
        out["errors"].append(what)


async def member_downloads(
    client: httpx.AsyncClient,
    member: str,
    day: str,
    version: str,
    files: dict[str, str],
    out: Samples,
) -> None:
    """The member's zip and its files, all at once."""
    base = f"/api/v1/members/{member}/days/{day}/versions/{version}"
    await asyncio.gather(
        one_download(client, f"{base}/archive", None, out),
        *(one_download(client, f"{base}/files/{name}", sha, out) for name, sha in files.items()),
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mib(pid: int) -> dict[str, float]:
    """The process's peak resident set (``VmHWM``) and current one (``VmRSS``), in MiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            found[key] = round(int(value.split()[0]) / 1024, 1)
    return found


async def guessing_run(url: str, members: list[str], passwords: dict[str, str]) -> dict[str, Any]:
    """Guess passwords against the default limits (docs/portal.md "Sign-in throttling"), from client
    addresses the server's trusted proxy (loopback) reports in X-Forwarded-For."""
    throttle = Throttle()
    found: dict[str, Any] = {"limits": {
        "user_failures": throttle.user_failures,
        "client_failures": throttle.client_failures,
        "base_seconds": throttle.base_seconds,
        "max_seconds": throttle.max_seconds,
        "forget_seconds": throttle.forget_seconds,
    }}  # fmt: skip

    def at(address: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=url, timeout=120, headers={"X-Forwarded-For": address})

    # 1. one address guesses one member's password, one guess after another
    victim, owner_name = members[0], members[0].lower()
    answers = []
    async with at("198.51.100.10") as guesser:
        for n in range(30):
            answers.append(await sign_in(guesser, url, owner_name, f"guess-{n}"))
        response = await guesser.get("/login")  # the lock's Retry-After as the form answers it
        token = CSRF.search(response.text)
        refused = await guesser.post(
            "/login",
            data={"username": owner_name, "password": passwords[victim],
                  "csrf_token": token.group(1) if token else ""},
            headers={"Origin": url},
        )  # fmt: skip
    async with at("198.51.100.11") as owner:
        owner_meanwhile = await sign_in(owner, url, owner_name, passwords[victim])
        wait = int(refused.headers.get("retry-after", "0"))
        await asyncio.sleep(wait)  # the bench waits out one real lock
        owner_after = await sign_in(owner, url, owner_name, passwords[victim])
    found["one_address_one_name"] = {
        "attempts": len(answers),
        "answered_401": answers.count(401),
        "answered_429": answers.count(429),
        "first_429_at_attempt": answers.index(429) + 1 if 429 in answers else None,
        "right_password_while_locked": refused.status_code,
        "retry_after_s": wait,
        "owner_from_another_address_while_locked": owner_meanwhile,
        "owner_after_retry_after": owner_after,
    }

    # 2. one address sprays one guess at each of many names: the address's limit
    names = [m.lower() for m in members[1:61]]
    answers = []
    async with at("203.0.113.20") as sprayer:
        for name in names:
            answers.append(await sign_in(sprayer, url, name, "Password1"))
        sprayer_right = await sign_in(sprayer, url, members[61].lower(), passwords[members[61]])
    async with at("203.0.113.21") as member_elsewhere:
        elsewhere = await sign_in(
            member_elsewhere, url, members[61].lower(), passwords[members[61]]
        )
    found["one_address_many_names"] = {
        "names_tried": len(names),
        "answered_401": answers.count(401),
        "answered_429": answers.count(429),
        "first_429_at_attempt": answers.index(429) + 1 if 429 in answers else None,
        "a_member_from_that_address_while_locked": sprayer_right,
        "the_same_member_from_another_address": elsewhere,
    }

    # 3. many addresses guess one name at once: the name's limit, counted one after the other
    target = members[62].lower()

    async def one_guess(n: int) -> int:
        async with at(f"192.0.2.{n}") as guesser:
            return await sign_in(guesser, url, target, f"burst-{n}")

    burst = await asyncio.gather(*(one_guess(n) for n in range(1, 101)))
    found["many_addresses_one_name_at_once"] = {
        "addresses": len(burst),
        "answered_401_password_checked": burst.count(401),
        "answered_429": burst.count(429),
        "other": len(burst) - burst.count(401) - burst.count(429),
    }
    return found


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--state", type=Path, help="a state folder with a published day")
    parser.add_argument("--work", type=Path, help="where to simulate and settle a day first")
    parser.add_argument("--members", type=int, default=150)
    parser.add_argument("--day", default="2026-11-23")
    parser.add_argument("--no-guessing", action="store_true", help="skip the guessing run")
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
    files = {
        m: {
            name: meta["sha256"]
            for name, meta in sorted(d.member_files(src, day, version, m).items())
        }
        for m in members
    }

    # the load's own users database beside the state's, so that the demo's users stay as they are
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
        "PortalSettings(base_url=sys.argv[3], trusted_proxies=frozenset({'127.0.0.1'})), "
        "Path(sys.argv[4]))).run()"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", serve, str(args.state), str(port), url, str(database)], cwd=ROOT
    )
    report: dict[str, Any] = {}
    try:
        deadline = time.time() + 600  # a loaded machine imports slowly
        while True:
            try:
                httpx.get(url + "/login", timeout=10)
                break
            except httpx.HTTPError:
                if time.time() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        rss_started = peak_rss_mib(server.pid)
        signed = samples("sign_in", "sign_in_errors")
        with_session = samples("download", "zip", "all", "errors", "bytes")
        clients: dict[str, httpx.AsyncClient] = {}
        failed: set[str] = set()

        async def sessions() -> tuple[float, float]:
            async def one_sign_in(m: str) -> None:
                client = httpx.AsyncClient(base_url=url, timeout=300)
                clients[m] = client
                started = time.perf_counter()
                status: int | str
                try:
                    status = await sign_in(client, url, m.lower(), passwords[m])
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                signed["sign_in"].append(time.perf_counter() - started)
                if status != 303:
                    signed["sign_in_errors"].append(f"{m}: {status}")
                    failed.add(m)

            started = time.perf_counter()
            await asyncio.gather(*(one_sign_in(m) for m in members))
            sign_in_wall = time.perf_counter() - started
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    member_downloads(clients[m], m, day, version, files[m], with_session)
                    for m in members
                    if m not in failed
                )
            )
            download_wall = time.perf_counter() - started
            for client in clients.values():
                await client.aclose()
            return sign_in_wall, download_wall

        sign_in_wall, session_wall = asyncio.run(sessions())
        tokens = {m: store.issue(m.lower(), "token", 3600, "load") for m in members}
        with_token = samples("download", "zip", "all", "errors", "bytes")

        async def bearers() -> None:
            async def one(m: str) -> None:
                headers = {"Authorization": f"Bearer {tokens[m]}"}
                async with httpx.AsyncClient(base_url=url, timeout=300, headers=headers) as client:
                    await member_downloads(client, m, day, version, files[m], with_token)

            await asyncio.gather(*(one(m) for m in members))

        started = time.perf_counter()
        asyncio.run(bearers())
        token_wall = time.perf_counter() - started
        rss_downloads = peak_rss_mib(server.pid)
        guessing = None if args.no_guessing else asyncio.run(guessing_run(url, members, passwords))
        rss_end = peak_rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(10)

    def phase(found: Samples, wall: float) -> dict[str, Any]:
        return {
            "requests": len(found["all"]),
            "wall_s": round(wall, 2),
            "all": percentiles(found["all"]),
            "files": percentiles(found["download"]),
            "zips": percentiles(found["zip"]),
            "errors": len(found["errors"]),
            "megabytes": round(sum(found["bytes"]) / 1e6, 1),
        }

    report = {
        "commit": subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "cpus": os.cpu_count(),
        "day": day,
        "version": version,
        "members": len(members),
        "sign_in": {
            "wall_s": round(sign_in_wall, 2),
            **percentiles(signed["sign_in"]),
            "errors": len(signed["sign_in_errors"]),
        },
        "downloads_with_sessions": phase(with_session, session_wall),
        "downloads_with_tokens": phase(with_token, token_wall),
        "server_rss_mib": {
            "after_start": rss_started,
            "after_downloads": rss_downloads,
            "at_end": rss_end,
        },
        "guessing": guessing,
    }
    print(json.dumps(report, indent=1))
    for what in (signed["sign_in_errors"] + with_session["errors"] + with_token["errors"])[:10]:
        log.warning("error: %s", what)
    database.unlink(missing_ok=True)
    errors = signed["sign_in_errors"] or with_session["errors"] or with_token["errors"]
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
