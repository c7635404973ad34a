"""The holes a hostile member found (issue 17), one test each, over real HTTP against the shared
portal server: sign-in throttling per user and per client, body and header limits, CSRF and Origin,
sign-out (here and everywhere), token revocation (page and CLI), forwarded addresses, redirects,
HSTS, and an access log that staff can use."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from portal.store import LogFilter
from tests.conftest import run_dayclear
from tests.portal_day import DAY
from tests.portal_server import PROXY, form_token, member_password, member_user, sign_in, signed_in

pytestmark = pytest.mark.slow

D = DAY.isoformat()
FUNDS = f"/api/v1/members/M005/days/{D}/versions/v2/files/funds.csv"


def via_proxy(url: str, client_address: str, **headers: str) -> httpx.Client:
    """A client that reaches the server from the trusted proxy's address, forwarding for
    ``client_address``."""
    return httpx.Client(
        base_url=url,
        follow_redirects=False,
        transport=httpx.HTTPTransport(local_address=PROXY),
        headers={"X-Forwarded-For": client_address, **headers},
    )


def last_row(store: Any, **where: Any) -> dict[str, Any]:
    rows = store.access_log(1, 0, LogFilter(**where))
    assert rows, where
    return dict(rows[0])


def test_sign_in_locks_a_user_out_after_five_failures(portal_story) -> None:  # type: ignore[no-untyped-def]
    url, store = portal_story["url"], portal_story["store"]
    store.add_user("lockme", "member", "right-password", "M008")
    with httpx.Client(base_url=url) as attacker:
        for _ in range(5):
            assert sign_in(attacker, "lockme", "wrong").status_code == 401
        locked = sign_in(attacker, "lockme", "right-password")
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
    # locked from everywhere (it is the user's lock), while other users still sign in
    with via_proxy(url, "198.51.100.20") as elsewhere:
        assert sign_in(elsewhere, "lockme", "right-password").status_code == 429
    signed_in(url, member_user("M008"), member_password("M008")).close()
    row = last_row(store, outcome="refused 429")
    assert row["detail"] == "sign-in locked for 'lockme'"


def test_sign_in_locks_a_client_out_after_twenty_failures(portal_story) -> None:  # type: ignore[no-untyped-def]
    url = portal_story["url"]
    with via_proxy(url, "203.0.113.9") as guesser:
        for n in range(20):
            assert sign_in(guesser, f"guess{n}", "x").status_code == 401
        assert sign_in(guesser, member_user("M006"), member_password("M006")).status_code == 429
    with via_proxy(url, "203.0.113.10") as someone_else:
        assert (
            sign_in(someone_else, member_user("M006"), member_password("M006")).status_code == 303
        )


def test_large_bodies_and_headers_are_refused_before_they_are_read(portal_story) -> None:  # type: ignore[no-untyped-def]
    url = portal_story["url"]
    started = time.monotonic()
    big = "username=a&password=" + "x" * (3 * 1024 * 1024)
    response = httpx.post(
        url + "/login", content=big, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts as it reads
        for _ in range(200):
            yield b"&f=" + b"y" * 1024

    chunked = httpx.post(
        url + "/login",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert chunked.status_code == 413
    assert httpx.get(url + "/login", headers={"X-Big": "z" * 32 * 1024}).status_code == 431
    try:  # past uvicorn's own bound (64 KiB) the request is refused or the connection dropped
        huge = httpx.get(url + "/login", headers={"X-Huge": "z" * 8 * 1024 * 1024}).status_code
    except httpx.HTTPError:
        huge = 0
    assert huge != 200
    assert time.monotonic() - started < 5


def test_forms_need_the_portals_origin_and_their_csrf_token(portal_story) -> None:  # type: ignore[no-untyped-def]
    url, store = portal_story["url"], portal_story["store"]
    other_port = re.sub(r":(\d+)$", lambda m: f":{int(m.group(1)) + 1}", url)
    # login CSRF: a cross-site form cannot sign a victim in, even with a token it fetched itself
    with httpx.Client(base_url=url) as victim:
        token = form_token(victim, "/login")
        for origin in ("https://evil.example", other_port, "null"):
            forged = victim.post(
                "/login",
                data={"username": "m001", "password": "M001-secret-2", "csrf_token": token},
                headers={"Origin": origin},
            )
            assert forged.status_code == 403, origin
        no_token = victim.post(
            "/login",
            data={"username": "m001", "password": "M001-secret-2"},
            headers={"Origin": url},
        )
        assert no_token.status_code == 403
        assert "dayclear_session" not in victim.cookies
    # a same-site page (another port) cannot create a token; neither can a form without the token
    member = signed_in(url, member_user("M001"), member_password("M001"))
    tokens_before = len(store.tokens("m001"))
    token = form_token(member, "/members/M001")
    assert (
        member.post(
            "/members/M001/tokens",
            data={"label": "x", "csrf_token": token},
            headers={"Origin": other_port},
        ).status_code
        == 403
    )
    assert (
        member.post(
            "/members/M001/tokens", data={"label": "x"}, headers={"Referer": url + "/members/M001"}
        ).status_code
        == 403
    )
    assert len(store.tokens("m001")) == tokens_before
    made = member.post(
        "/members/M001/tokens",
        data={"label": "ok", "csrf_token": token},
        headers={"Referer": url + "/members/M001"},  # a browser without Origin: the Referer counts
    )
    assert made.status_code == 200 and len(store.tokens("m001")) == tokens_before + 1
    # a cross-site sign-out neither ends the session nor deletes the cookie
    logout = member.post("/logout", headers={"Origin": "https://evil.example"})
    assert logout.status_code == 403 and "set-cookie" not in logout.headers
    assert member.get("/members/M001").status_code == 200
    refused = last_row(store, user="m001", outcome="refused 403")
    assert refused["path"] == "/logout" and refused["detail"] == "Cross-site request refused."


def test_sign_out_ends_the_session_and_sign_out_everywhere_ends_them_all(portal_story) -> None:  # type: ignore[no-untyped-def]
    url, store = portal_story["url"], portal_story["store"]
    laptop = signed_in(url, member_user("M002"), member_password("M002"))
    phone = signed_in(url, member_user("M002"), member_password("M002"))
    stolen = laptop.cookies["dayclear_session"]
    out = laptop.post(
        "/logout", data={"csrf_token": form_token(laptop, "/members/M002")}, headers={"Origin": url}
    )
    assert out.status_code == 303 and out.headers["location"] == url + "/login"
    assert (
        httpx.get(
            url + FUNDS.replace("M005", "M002"), cookies={"dayclear_session": stolen}
        ).status_code
        == 401
    )
    assert phone.get("/members/M002").status_code == 200  # the other session lives on
    token = store.issue("m002", "token", 3600, "robot")
    assert (
        httpx.get(
            url + "/api/v1/members/M002/days", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 200
    )
    tablet = signed_in(url, member_user("M002"), member_password("M002"))
    everywhere = tablet.post(
        "/logout/everywhere",
        data={"csrf_token": form_token(tablet, "/members/M002")},
        headers={"Origin": url},
    )
    assert everywhere.status_code == 303
    assert phone.get("/members/M002").status_code == 401
    assert tablet.get("/members/M002").status_code == 401
    assert (
        httpx.get(
            url + "/api/v1/members/M002/days", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 401
    )
    outcomes = [r["outcome"] for r in store.access_log(20, 0, LogFilter(user="m002"))]
    assert "signed out" in outcomes and "signed out everywhere" in outcomes


def test_a_revoked_token_is_refused_from_the_page_and_from_the_cli(portal_story) -> None:  # type: ignore[no-untyped-def]
    url, store, state = portal_story["url"], portal_story["store"], portal_story["state"]
    member = signed_in(url, member_user("M005"), member_password("M005"))
    page = member.post(
        "/members/M005/tokens",
        data={"label": "nightly", "csrf_token": form_token(member, "/members/M005")},
        headers={"Origin": url},
    )
    secret = re.search(r'id="new-token">([^<]+)<', page.text).group(1)  # type: ignore[union-attr]
    bearer = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(url + FUNDS, headers=bearer).status_code == 200
    token_id = next(t["id"] for t in store.tokens("m005") if t["label"] == "nightly")
    listed = member.get("/members/M005").text
    assert f'data-token="{token_id}"' in listed
    revoked = member.post(
        f"/members/M005/tokens/{token_id}/revoke",
        data={"csrf_token": form_token(member, "/members/M005")},
        headers={"Origin": url},
    )
    assert revoked.status_code == 303
    assert httpx.get(url + FUNDS, headers=bearer).status_code == 401
    # another member cannot revoke M005's token, even by its id
    other = signed_in(url, member_user("M006"), member_password("M006"))
    cli_secret = store.issue("m005", "token", 3600, "cli")
    cli_id = next(t["id"] for t in store.tokens("m005") if t["label"] == "cli")
    assert (
        other.post(
            f"/members/M006/tokens/{cli_id}/revoke",
            data={"csrf_token": form_token(other, "/members/M006")},
            headers={"Origin": url},
        ).status_code
        == 404
    )
    # the CLI lists and revokes; it refuses a token that would be born expired
    listing = run_dayclear("portal", "token", "m005", "--list", "--state", str(state), check=True)
    assert cli_id in listing.stdout and "active" in listing.stdout
    run_dayclear("portal", "token", "m005", "--revoke", cli_id, "--state", str(state), check=True)
    assert (
        httpx.get(url + FUNDS, headers={"Authorization": f"Bearer {cli_secret}"}).status_code == 401
    )
    zero = run_dayclear("portal", "token", "m005", "--days", "0", "--state", str(state))
    assert zero.returncode == 2 and "1 to 3650 days" in zero.stderr


def test_a_forged_x_forwarded_for_is_not_trusted(portal_story) -> None:  # type: ignore[no-untyped-def]
    url, store = portal_story["url"], portal_story["store"]
    token = store.issue("m007", "token", 3600, "xff")
    headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": "198.51.100.66"}
    assert httpx.get(url + "/api/v1/members/M007/days", headers=headers).status_code == 200
    row = last_row(store, user="m007")
    assert row["client"] == "127.0.0.1"
    # from the configured proxy the forwarded address is the client's (the rightmost untrusted hop)
    with via_proxy(url, "10.9.9.9, 198.51.100.67") as proxied:
        proxied.get("/api/v1/members/M007/days", headers={"Authorization": f"Bearer {token}"})
    assert last_row(store, user="m007")["client"] == "198.51.100.67"


def test_redirects_are_built_from_the_base_url_never_from_host(portal_story) -> None:  # type: ignore[no-untyped-def]
    url = portal_story["url"]
    for path in ("/staff/", "/members/M001/", "/"):
        response = httpx.get(url + path, headers={"Host": "evil.example"})
        assert response.status_code in (303, 307), path
        assert response.headers["location"].startswith(url + "/"), response.headers["location"]
    assert (
        "evil.example"
        not in httpx.get(url + "/language/en?next=//evil.example/x").headers["location"]
    )


def test_hsts_only_over_tls_as_the_trusted_proxy_says(portal_story) -> None:  # type: ignore[no-untyped-def]
    url = portal_story["url"]
    with via_proxy(url, "198.51.100.30", **{"X-Forwarded-Proto": "https"}) as tls:
        assert "max-age=" in tls.get("/login").headers["strict-transport-security"]
    plain = httpx.get(url + "/login")
    forged = httpx.get(url + "/login", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in plain.headers
    assert "strict-transport-security" not in forged.headers


def test_the_access_log_filters_pages_and_keeps_member_events_in_view(portal_story) -> None:  # type: ignore[no-untyped-def]
    url = portal_story["url"]
    member = signed_in(url, member_user("M003"), member_password("M003"))
    assert member.get(f"/members/M003/days/{D}/v2/files/trades.csv").status_code == 200
    assert member.get(f"/api/v1/members/M003/days/{D}/versions/v2/changes").status_code == 200
    staff = signed_in(url, "staff", "staff-secret-1")
    staff.cookies.set("dayclear_lang", "en")
    assert staff.get(f"/members/M004/days/{D}/v2").status_code == 200  # a staff read of M004
    with httpx.Client(base_url=url) as anonymous:
        for _ in range(600):
            anonymous.get(FUNDS)
    page = staff.get("/staff/access-log").text
    assert f"/members/M003/days/{D}/v2/files/trades.csv" in page
    assert "(anonymous)" not in page
    counted = re.search(r'id="anonymous-count" data-count="(\d+)"', page)
    assert counted and int(counted.group(1)) >= 600
    # staff reads, /changes and the day's ISO times (exchange time and UTC)
    staff_read = staff.get("/api/v1/access-log", params={"user": "staff", "member": "M004"}).json()
    assert staff_read[0]["outcome"] == "read" and staff_read[0]["trading_day"] == D
    assert staff_read[0]["at_local"].endswith("+08:00") and staff_read[0]["at_utc"].endswith("Z")
    changes = staff.get(
        "/api/v1/access-log", params={"member": "M003", "outcome": "read", "limit": 50}
    ).json()
    assert any(r["path"].endswith("/changes") for r in changes)
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    filtered = staff.get(
        "/staff/access-log",
        params={"user": "m003", "member": "M003", "outcome": "download", "day": today},
    ).text
    assert f"/members/M003/days/{D}/v2/files/trades.csv" in filtered and "/changes" not in filtered
    assert "+08:00" in filtered and re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", filtered)
    assert staff.get("/staff/access-log", params={"day": "2000-01-01"}).text.count("<tr") == 2
    # paging: 600 anonymous refusals are 6 pages of 100
    anonymous_page = staff.get("/staff/access-log", params={"anonymous": "true", "page": 2}).text
    assert "(anonymous)" in anonymous_page and 'class="older"' in anonymous_page
