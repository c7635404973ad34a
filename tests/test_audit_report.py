"""The reconciliation page shows a bounded number of rows and says how many it leaves out; the JSON
report holds every one (issue 16: the page cut at 2,000 differences and 200 rows silently)."""

from __future__ import annotations

from audit.reconcile import Reconciliation, render_html


def _report(differences: int, violations: int) -> Reconciliation:
    return {
        "trading_day": "2026-11-23",
        "version": 1,
        "folder": "out/2026-11-23/v1",
        "passed": False,
        "summary": {
            "differences": differences,
            "invariants_failed": ["open_interest_balances"] if violations else [],
            "rows_compared": {},
        },
        "differences": [
            {"table": "funds", "record": f"account_id=A{n}", "column": "balance"}
            | {"published": "1.00", "recomputed": "2.00"}
            for n in range(differences)
        ],
        "invariants": {"open_interest_balances": [{"n": n} for n in range(violations)]},
    }


def test_the_page_says_how_many_rows_it_leaves_out() -> None:
    page = render_html(_report(2120, 320))
    assert page.count("<tr><td>funds</td>") == 2000
    assert "... and 120 more (every one is in the JSON report beside this page)" in page
    assert "... and 120 more" in page.split("open_interest_balances</h3>")[1]
    assert "&quot;n&quot;: 199" in page and "&quot;n&quot;: 200" not in page


def test_a_page_that_shows_everything_adds_nothing() -> None:
    assert "more (every one" not in render_html(_report(3, 2))
