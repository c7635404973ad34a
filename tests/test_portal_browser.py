"""The portal in a real browser (headless Debian Chromium through Playwright): staff sign in, find the
day, click through to a break and the rows behind it; a member signs in, sees the re-issue notice and
what changed, and downloads a file whose bytes match the manifest's SHA-256. Every request the pages
make goes to the portal itself (offline: no CDN). With DAYCLEAR_SCREENSHOTS=1 the screenshots are
saved under docs/screenshots/."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from portal_day import DAY
from portal_server import PASSWORDS, member_password, member_user

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
D = DAY.isoformat()


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian chromium is not installed at {CHROMIUM} (make browser)")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def new_page(browser, url: str, requests: list[str]):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.on("request", lambda r: requests.append(r.url))
    return page


def shot(page, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    if os.environ.get("DAYCLEAR_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(target, DOCS / f"{name}.png")


def sign_in(page, url: str, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url + "/")
    assert page.url.endswith("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_staff_click_through_to_a_break(browser, portal_story, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, requests = portal_story["url"], []
    page = new_page(browser, url, requests)
    sign_in(page, url, "staff", PASSWORDS["staff"])
    row = page.locator(f"#days tr[data-day='{D}']")
    assert row.locator("td").nth(2).inner_text() == "v2"
    assert row.locator("td").nth(3).inner_text() == "passed v2"
    assert row.locator("td").nth(5).inner_text() == "final"
    assert "re-issued" in row.locator("td").nth(6).inner_text()
    shot(page, tmp_path, "staff-days")

    row.locator("a").click()
    assert page.locator("h1").inner_text().startswith(D)
    assert "Re-issued: v1 → v2" in page.locator("#status").inner_text()
    assert portal_story["lost_trade"] in page.locator("#status").inner_text()
    assert "Passed" in page.locator("#reconciliation").inner_text()
    assert page.locator("#margin svg").count() == 1 and page.locator("#prices svg").count() == 1
    shot(page, tmp_path, "staff-day")

    page.click("text=v1")
    reconciliation = page.locator("#reconciliation").inner_text()
    assert "Failed" in reconciliation
    seq = portal_story["lost_seq"]
    lost = page.locator("#breaks tr", has_text=f"seq={seq} side=BUY").first
    assert "(no row)" in lost.inner_text()
    shot(page, tmp_path, "staff-day-v1-breaks")
    lost.locator("a").click()
    assert page.locator("h1").inner_text().startswith("Break ")
    details = page.locator("#break").inner_text()
    assert f"seq={seq} side=BUY" in details and "(no row)" in details
    recomputed = page.locator("table.rows-recomputed tbody tr")
    assert recomputed.count() == 1 and seq in recomputed.first.inner_text()
    shot(page, tmp_path, "staff-break")

    page.click("text=Access log")
    assert page.locator("#access-log").count() == 1
    assert all(r.startswith(url) for r in requests), [r for r in requests if not r.startswith(url)]


def test_member_sees_the_reissue_and_downloads_its_file(
    browser, portal_story, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    url, out, requests = portal_story["url"], Path(portal_story["out"]), []
    changes = json.loads((out / D / "v2" / "changes.json").read_text())
    member = sorted(changes["members"])[0]  # a member whose files the correction changed
    page = new_page(browser, url, requests)
    sign_in(page, url, member_user(member), member_password(member))
    assert page.locator("h1").inner_text() == f"Settlement files of {member}"
    assert f"{D} was re-issued: now v2" in page.locator("#reissues").inner_text()
    shot(page, tmp_path, "member-home")

    page.click("text=See what changed")
    notice = page.locator("#changes").inner_text()
    assert "Re-issued: v1 → v2" in notice and portal_story["reason"] in notice
    for name in changes["members"][member]:
        assert name in notice
    shot(page, tmp_path, "member-version")

    manifest = json.loads((out / D / "v2" / "manifest.json").read_text())
    expected = manifest["files"][f"members/{member}/funds.csv"]["sha256"]
    assert expected in page.locator("#files").inner_text()
    with page.expect_download() as info:
        page.click("#files >> text=funds.csv")
    download = info.value
    data = Path(download.path()).read_bytes()
    assert hashlib.sha256(data).hexdigest() == expected
    assert download.suggested_filename == f"{D}_v2_{member}_funds.csv"
    with page.expect_download() as info:
        page.click("#archive")
    assert info.value.suggested_filename == f"{D}_v2_{member}.zip"

    other = next(m for m in portal_story["members"] if m != member)
    response = page.goto(f"{url}/members/{other}/days/{D}/v2")
    assert response is not None and response.status == 403
    assert all(r.startswith(url) for r in requests)
