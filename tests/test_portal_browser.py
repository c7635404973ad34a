"""The portal in a real browser (headless Debian Chromium through Playwright), in Chinese and in
English: staff sign in, find the day, click through to a break and the rows behind it, and filter the
access log; a member signs in, sees the re-issue notice and the changed columns, reads its funds per
account, sorts and pages its positions, downloads a file whose bytes match the manifest's SHA-256, is
refused another member's page and signs out. Every request the pages make goes to the portal itself
(offline: no CDN). With DAYCLEAR_SCREENSHOTS=1 every page is saved under docs/screenshots/<lang>/."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.portal_day import DAY
from tests.portal_server import PASSWORDS, member_password, member_user

if TYPE_CHECKING:
    from playwright.sync_api import Browser

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


def shot(page, tmp_path: Path, lang: str, name: str) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / f"{lang}-{name}.png"
    page.screenshot(path=str(target), full_page=True)
    if os.environ.get("DAYCLEAR_SCREENSHOTS") == "1":
        (DOCS / lang).mkdir(parents=True, exist_ok=True)
        shutil.copy(target, DOCS / lang / f"{name}.png")


#: What the pages say, per language (the assertions read the pages as a user of that language).
SAYS = {
    "zh_CN": {
        "passed": "通过 v2",
        "final": "最终",
        "reissued": "已重新发布",
        "notice": "重新发布：v1 → v2",
        "passed_report": "通过",
        "failed_report": "未通过",
        "no_row": "(无此行)",
        "break": "差异 ",
        "access_log": "访问日志",
        "home": "{member} 的结算",
        "day_reissued": "{day} 已重新发布：现为 v2",
        "see_changes": "查看变动",
        "language": "中文",
        "margin_call": "追加保证金通知",
    },
    "en": {
        "passed": "passed v2",
        "final": "final",
        "reissued": "re-issued",
        "notice": "Re-issued: v1 → v2",
        "passed_report": "Passed",
        "failed_report": "Failed",
        "no_row": "(no row)",
        "break": "Break ",
        "access_log": "Access log",
        "home": "Settlement of {member}",
        "day_reissued": "{day} was re-issued: now v2",
        "see_changes": "See what changed",
        "language": "English",
        "margin_call": "Margin call",
    },
}
LANGUAGES = list(SAYS)


def sign_in(page, url: str, username: str, password: str, lang: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(url + "/")
    assert page.url.endswith("/login")
    assert page.locator("html").get_attribute("lang") == "zh-CN"  # members' default: Chinese
    page.click(f"#language >> text={SAYS[lang]['language']}")
    assert page.url.endswith("/login")
    shot(page, tmp_path, lang, "sign-in")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form[action='/login'] button[type=submit]")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_staff_click_through_to_a_break(
    browser: Browser, portal_story: dict[str, Any], tmp_path: Path, lang: str
) -> None:
    url, says = portal_story["url"], SAYS[lang]
    requests: list[str] = []
    page = new_page(browser, url, requests)
    sign_in(page, url, "staff", PASSWORDS["staff"], lang, tmp_path)
    row = page.locator(f"#days tr[data-day='{D}']")
    assert row.locator("td").nth(2).inner_text().startswith("v2")
    assert row.locator("td").nth(3).inner_text() == says["passed"]
    assert row.locator("td").nth(5).inner_text() == says["final"]
    assert says["reissued"] in row.locator("td").nth(6).inner_text()
    shot(page, tmp_path, lang, "staff-days")

    row.locator("a").click()
    assert page.locator("h1").inner_text().startswith(D)
    assert says["notice"] in page.locator("#status").inner_text()
    assert portal_story["lost_trade"] in page.locator("#status").inner_text()
    assert says["passed_report"] in page.locator("#reconciliation").inner_text()
    assert page.locator("#margin svg").count() == 1 and page.locator("#prices svg").count() == 1
    assert page.locator("#margin svg .axis-label").count() == 2
    totals = page.locator("#margin p").inner_text()
    assert re.search(r"\d{1,3}(,\d{3})+\.\d\d", totals), totals  # separators, two decimals
    assert "-0.1" not in page.locator("#stream").inner_text()
    shot(page, tmp_path, lang, "staff-day")

    page.click(".versions >> text=v1")
    reconciliation = page.locator("#reconciliation").inner_text()
    assert says["failed_report"] in reconciliation
    seq = portal_story["lost_seq"]
    lost = page.locator("#breaks tr", has_text=f"seq={seq} side=BUY").first
    assert "(no row)" in lost.inner_text()  # the audit report's own words (data)
    shot(page, tmp_path, lang, "staff-day-v1-breaks")
    lost.locator("a").click()
    assert page.locator("h1").inner_text().startswith(says["break"])
    details = page.locator("#break").inner_text()
    assert f"seq={seq} side=BUY" in details and says["no_row"] in details  # the page's words
    recomputed = page.locator("table.rows-recomputed tbody tr")
    assert recomputed.count() == 1 and seq in recomputed.first.inner_text()
    shot(page, tmp_path, lang, "staff-break")

    page.click(f"header >> text={says['access_log']}")
    assert page.locator("#access-log").count() == 1
    assert (
        page.locator("#access-log tbody tr")
        .first.locator("td")
        .first.inner_text()
        .endswith("+08:00")
    )
    shot(page, tmp_path, lang, "staff-access-log")
    page.select_option("select[name=outcome]", "signed in")
    page.click("#log-filters button")
    outcomes = page.locator("#access-log tbody tr td:nth-child(10)").all_inner_texts()
    assert outcomes and set(outcomes) == {"signed in"}
    assert all(r.startswith(url) for r in requests), [r for r in requests if not r.startswith(url)]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_member_sees_the_reissue_reads_its_figures_and_downloads_its_file(
    browser: Browser, portal_story: dict[str, Any], tmp_path: Path, lang: str
) -> None:
    url, out, says = portal_story["url"], Path(portal_story["out"]), SAYS[lang]
    requests: list[str] = []
    changes = json.loads((out / D / "v2" / "changes.json").read_text())
    member = sorted(changes["members"])[0]  # a member whose files the correction changed
    page = new_page(browser, url, requests)
    sign_in(page, url, member_user(member), member_password(member), lang, tmp_path)
    assert page.locator("h1").inner_text() == says["home"].format(member=member)
    assert says["day_reissued"].format(day=D) in page.locator("#reissues").inner_text()
    assert page.locator("#history .chart-empty").count() == 1  # one day: the chart says why
    assert page.locator("#token-list").count() == 1
    shot(page, tmp_path, lang, "member-home")

    page.click(f"text={says['see_changes']}")
    notice = page.locator("#changes").inner_text()
    assert says["notice"] in notice and portal_story["reason"] in notice
    for name in changes["members"][member]:
        assert name in notice
    # the diff shows changed columns, old -> new, never whole CSV lines
    diff = page.locator("#changes table.diff[data-file='funds.csv'] tbody tr").first
    assert "→" in diff.inner_text() and "," not in diff.locator("td").nth(2).inner_text()
    assert page.locator("#changes pre").count() == 0
    # the funds summary per account, with separators and two decimals, and the member's total
    funds = page.locator("#funds-summary")
    assert funds.locator("tbody tr").count() > 1
    total = funds.locator("tfoot td").nth(1).inner_text()
    assert re.fullmatch(r"-?\d{1,3}(,\d{3})*\.\d\d", total), total
    if page.locator("#margin-calls").count():
        assert says["margin_call"] in page.locator("#margin-call-notice").inner_text()
    shot(page, tmp_path, lang, "member-version")

    # positions: sort by a numeric column, descending, and page on
    page.click("#table-positions th >> nth=5 >> a")  # long_qty, ascending
    page.click("#table-positions th >> nth=5 >> a")  # then descending
    quantities = page.locator("#table-positions tbody tr td:nth-child(6)").all_inner_texts()
    numbers = [int(q.replace(",", "")) for q in quantities]
    assert numbers == sorted(numbers, reverse=True) and len(numbers) == 25
    page.click("#positions .pager a.next")
    assert page.locator("#positions .pager").inner_text().strip().startswith("←")
    shot(page, tmp_path, lang, "member-positions-sorted")

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
    shot(page, tmp_path, lang, "refused")
    page.click("#sign-out")
    assert page.url.endswith("/login")
    assert page.goto(f"{url}/members/{member}").url.endswith("/login")  # the session is gone
    assert all(r.startswith(url) for r in requests)
