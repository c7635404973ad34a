"""Security of the portal over real HTTP: a member reads only its own files through every endpoint;
traversal, guessed ids and tampered, expired or revoked tokens are refused; roles stay separate; and
every attempt is in the access log staff read."""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.portal_day import DAY
from tests.portal_server import (
    PASSWORDS,
    form_token,
    member_password,
    member_user,
    sign_in,
    signed_in,
)

pytestmark = pytest.mark.slow

D = DAY.isoformat()
FILES = ["funds.csv", "positions.csv", "trades.csv", "declaration_fees.csv", "margin_calls.csv"]


def member_endpoints(member: str, version: str = "v2") -> list[str]:
    """Every endpoint that names a member, HTML and API."""
    api = f"/api/v1/members/{member}/days/{D}/versions/{version}"
    html = f"/members/{member}/days/{D}/{version}"
    return [
        f"/members/{member}",
        html,
        f"{html}/archive",
        *(f"{html}/files/{name}" for name in FILES),
        f"/api/v1/members/{member}/days",
        f"{api}/manifest",
        f"{api}/changes",
        f"{api}/archive",
        *(f"{api}/files/{name}" for name in FILES),
    ]


STAFF_ENDPOINTS = [
    "/staff",
    f"/staff/days/{D}",
    f"/staff/days/{D}/v1/breaks/1",
    "/staff/access-log",
    "/api/v1/days",
    f"/api/v1/days/{D}",
    "/api/v1/access-log",
]


def accounts_of(story: dict[str, Any], member: str) -> set[str]:
    accounts = Path(story["state"]) / "bundles" / D / "reference" / "accounts.csv"
    rows = [line.split(",") for line in accounts.read_text().splitlines()[1:]]
    return {r[0] for r in rows if r[1] == member}


def raw_get(url: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """A request with the path sent byte for byte (no client-side normalisation of ``..``)."""
    parts = urlsplit(url)
    assert parts.hostname is not None, url
    con = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    con.putrequest("GET", path, skip_accept_encoding=True)
    for key, value in headers.items():
        con.putheader(key, value)
    con.endheaders()
    response = con.getresponse()
    body = response.read()
    con.close()
    return response.status, body


def test_a_member_reads_its_own_files_with_the_manifest_checksums(portal_story) -> None:  # type: ignore[no-untyped-def]
    url, out = portal_story["url"], Path(portal_story["out"])
    manifest = json.loads((out / D / "v2" / "manifest.json").read_text())
    client = signed_in(url, member_user("M003"), member_password("M003"))
    for name in FILES:
        response = client.get(f"/api/v1/members/M003/days/{D}/versions/v2/files/{name}")
        assert response.status_code == 200
        expected = manifest["files"][f"members/M003/{name}"]["sha256"]
        assert hashlib.sha256(response.content).hexdigest() == expected
        assert response.headers["x-content-sha256"] == expected
    archive = client.get(f"/members/M003/days/{D}/v2/archive")
    assert archive.status_code == 200
    # streamed, yet announced whole: its SHA-256 and length come before the body
    assert archive.headers["x-content-sha256"] == hashlib.sha256(archive.content).hexdigest()
    assert archive.headers["content-length"] == str(len(archive.content))
    assert "chunked" not in archive.headers.get("transfer-encoding", "")
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert sorted(n.split("/")[1] for n in names) == sorted([*FILES, "manifest.json"])
    assert all(n.startswith(f"{D}_v2_M003/") for n in names)
    listed = client.get("/api/v1/members/M003/days").json()
    assert listed == [
        {"day": D, "versions": ["v1", "v2"], "latest": "v2", "reissued": True, "final": True}
    ]


def test_no_member_reads_another_members_files_through_any_endpoint(portal_story) -> None:  # type: ignore[no-untyped-def]
    url, members, store = portal_story["url"], portal_story["members"], portal_story["store"]
    for me in members[:3]:
        token = store.issue(member_user(me), "token", 3600, "test")
        session = signed_in(url, member_user(me), member_password(me))
        bearer = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"})
        foreign_accounts = set().union(*(accounts_of(portal_story, m) for m in members if m != me))
        for other in members:
            if other == me:
                continue
            for path in member_endpoints(other) + member_endpoints(other, "v1"):
                for client in (session, bearer):
                    response = client.get(path)
                    assert response.status_code == 403, (me, path, response.status_code)
                    assert not any(a.encode() in response.content for a in foreign_accounts)
        session.close()
        bearer.close()
    log = store.access_log(5000)
    refused = [e for e in log if e["outcome"] == "refused 403" and e["member_id"] == "M001"]
    assert any(
        e["path"] == f"/api/v1/members/M002/days/{D}/versions/v2/files/funds.csv" for e in refused
    )


TRAVERSALS = [
    "/members/M001/days/{D}/v2/files/..%2F..%2FM002%2Ffunds.csv",
    "/members/M001/days/{D}/v2/files/../../M002/funds.csv",
    "/members/M001/days/{D}/v2/files/%2e%2e%2f%2e%2e%2fM002%2ffunds.csv",
    "/members/M001/days/{D}/v2/files/..%5C..%5CM002%5Cfunds.csv",
    "/members/M001/days/{D}/v2/files/%2Fetc%2Fpasswd",
    "/members/M001/days/{D}/v2/files/funds.csv%00.txt",
    "/members/M001/days/{D}/v2/files/manifest.json",
    "/members/M001/days/{D}/v2/files/..%2Fmanifest.json",
    "/members/M001/days/{D}/..%2Fv1/files/funds.csv",
    "/members/M001/days/..%2F..%2F..%2Fetc/v2/files/passwd",
    "/members/M001/days/{D}/v2%2F..%2F..%2Faudit%2Fv1/files/recompute.duckdb",
    "/api/v1/members/M001/days/{D}/versions/v2/files/..%2F..%2Fexchange%2Fsettlement_prices.csv",
    "/api/v1/members/M001/days/{D}/versions/..%2Fv1/archive",
    "/api/v1/members/..%2FM002/days/{D}/versions/v2/files/funds.csv",
    "/api/v1/members/M001%2F..%2FM002/days/{D}/versions/v2/files/funds.csv",
    "/api/v1/members/m002/days/{D}/versions/v2/files/funds.csv",
    "/api/v1/members/M001/days/{D}/versions/v2/files/..%2F..%2F..%2F..%2Fportal%2Fportal.sqlite",
    "/static/..%2F..%2Fpublished%2F{D}%2Fv2%2Fmembers%2FM002%2Ffunds.csv",
    "/static/../app.py",
]


def test_traversal_and_guessed_names_are_refused_and_logged(portal_story) -> None:  # type: ignore[no-untyped-def]
    url, store = portal_story["url"], portal_story["store"]
    token = store.issue(member_user("M001"), "token", 3600, "traversal")
    foreign = set().union(
        *(accounts_of(portal_story, m) for m in portal_story["members"] if m != "M001")
    )
    before = len(store.access_log(100000))
    for template in TRAVERSALS:
        path = template.replace("{D}", D)
        status, body = raw_get(url, path, {"Authorization": f"Bearer {token}"})
        assert status in (400, 403, 404), (path, status)
        assert not any(a.encode() in body for a in foreign), path
        assert b"scrypt$" not in body and b"root:" not in body
    logged = store.access_log(100000)[: len(store.access_log(100000)) - before]
    assert len([e for e in logged if e["outcome"].startswith("refused")]) >= len(TRAVERSALS) - 2


def test_tampered_expired_revoked_and_foreign_tokens_are_refused(portal_story) -> None:  # type: ignore[no-untyped-def]
    url, store = portal_story["url"], portal_story["store"]
    path = f"/api/v1/members/M004/days/{D}/versions/v2/files/funds.csv"
    good = store.issue(member_user("M004"), "token", 3600, "good")
    assert httpx.get(url + path, headers={"Authorization": f"Bearer {good}"}).status_code == 200
    flipped = good[:-1] + ("A" if good[-1] != "A" else "B")
    expired = store.issue(member_user("M004"), "token", -1, "expired")
    revoked = store.issue(member_user("M004"), "token", 3600, "revoked")
    store.revoke(revoked)
    session_as_token = store.issue(member_user("M004"), "session", 3600)
    for attempt in (
        flipped,
        expired,
        revoked,
        session_as_token,
        "-",
        "x" * 500,
        good + "x",
        "null",
    ):
        response = httpx.get(url + path, headers={"Authorization": f"Bearer {attempt}"})
        assert response.status_code == 401, attempt
    # a session cookie that was tampered with, or signed out, is no session
    client = signed_in(url, member_user("M004"), member_password("M004"))
    cookie = client.cookies["dayclear_session"]
    tampered = httpx.get(url + path, cookies={"dayclear_session": cookie[:-2] + "zz"})
    assert tampered.status_code == 401
    client.post(
        "/logout",
        data={"csrf_token": form_token(client, "/members/M004")},
        headers={"Origin": url},
    )
    assert httpx.get(url + path, cookies={"dayclear_session": cookie}).status_code == 401
    # a valid token of another member opens nothing of M004's
    other = store.issue(member_user("M005"), "token", 3600, "other")
    assert httpx.get(url + path, headers={"Authorization": f"Bearer {other}"}).status_code == 403
    refused = [
        e for e in store.access_log(200) if e["path"] == path and e["outcome"] == "refused 401"
    ]
    assert len(refused) >= 8


def test_roles_are_separate(portal_story) -> None:  # type: ignore[no-untyped-def]
    url, store = portal_story["url"], portal_story["store"]
    member = signed_in(url, member_user("M002"), member_password("M002"))
    token = store.issue(member_user("M002"), "token", 3600, "roles")
    for path in STAFF_ENDPOINTS:
        assert member.get(path).status_code == 403, path
        assert (
            httpx.get(url + path, headers={"Authorization": f"Bearer {token}"}).status_code == 403
        )
        assert httpx.get(url + path).status_code in (401, 303), path
    staff = signed_in(url, "staff", PASSWORDS["staff"])
    for path in STAFF_ENDPOINTS:
        assert staff.get(path).status_code == 200, path
    # wrong passwords and unknown users do not sign in, and the attempt is logged
    with httpx.Client(base_url=url) as anonymous:
        assert sign_in(anonymous, "m002", "M002-secret-1").status_code == 401
        assert sign_in(anonymous, "nobody", "x").status_code == 401
    log = staff.get("/api/v1/access-log").json()
    assert any(e["detail"] == "sign-in failed for 'm002'" for e in log)


def test_passwords_and_tokens_are_stored_hashed(portal_story) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    store = portal_story["store"]
    token = store.issue(member_user("M006"), "token", 3600, "hashed")
    database = sqlite3.connect(store.path)
    dump = "\n".join(database.iterdump())
    database.close()
    assert member_password("M006") not in dump and PASSWORDS["staff"] not in dump
    assert token not in dump
    assert "scrypt$16384$8$1$" in dump


def test_every_download_is_in_the_access_log_staff_read(portal_story) -> None:  # type: ignore[no-untyped-def]
    url = portal_story["url"]
    member = signed_in(url, member_user("M007"), member_password("M007"))
    assert member.get(f"/members/M007/days/{D}/v1/files/trades.csv").status_code == 200
    staff = signed_in(url, "staff", PASSWORDS["staff"])
    page = staff.get("/staff/access-log").text
    assert f"/members/M007/days/{D}/v1/files/trades.csv" in page
    entry = next(
        e
        for e in staff.get("/api/v1/access-log").json()
        if e["path"] == f"/members/M007/days/{D}/v1/files/trades.csv"
    )
    assert (entry["username"], entry["member_id"], entry["outcome"]) == ("m007", "M007", "download")
    assert entry["detail"].startswith(f"{D}_v1_M007_trades.csv sha256=")


def test_openapi_describes_the_api_and_pages_use_no_external_assets(portal_story) -> None:  # type: ignore[no-untyped-def]
    url = portal_story["url"]
    spec = httpx.get(url + "/openapi.json").json()
    paths = set(spec["paths"])
    assert "/api/v1/members/{member_id}/days/{day}/versions/{version}/files/{name}" in paths
    assert "/api/v1/members/{member_id}/days/{day}/versions/{version}/archive" in paths
    assert "/api/v1/days/{day}" in paths
    staff = signed_in(url, "staff", PASSWORDS["staff"])
    page = staff.get(f"/staff/days/{D}?version=v1").text
    import re

    assert not re.findall(r"""(?:src|href|action)\s*=\s*["']?(?:https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
    assert "<script" not in page
    assert "script-src 'none'" in staff.get("/staff").headers["content-security-policy"]
