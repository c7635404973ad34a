"""The portal's pure parts: password and secret handling, name validation, member slices, charts."""

from __future__ import annotations

import hashlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

import portal
from portal import archive, charts, i18n, views
from portal import days as d
from portal import formatting as fmt
from portal.guard import forwarded_client
from portal.settings import Throttle
from portal.store import Store, check_password, hash_password
from schemas.registry import group_specs


def test_passwords_are_salted_scrypt_hashes() -> None:
    a, b = hash_password("correct horse"), hash_password("correct horse")
    assert a != b and a.startswith("scrypt$16384$8$1$") and "correct horse" not in a
    assert check_password("correct horse", a) and not check_password("correct hors", a)
    assert not check_password("x", "garbage")


def test_secrets_resolve_only_unexpired_unrevoked_and_of_their_kind(tmp_path: Path) -> None:
    store = Store(tmp_path / "p.sqlite")
    store.add_user("m001", "member", "pw", "M001")
    token = store.issue("m001", "token", 60)
    assert store.resolve(token, "token") == store.user("m001")
    assert store.resolve(token, "session") is None
    assert store.resolve(store.issue("m001", "token", -1), "token") is None
    store.revoke(token)
    assert store.resolve(token, "token") is None
    assert store.authenticate("m001", "pw") is not None
    assert store.authenticate("m001", "PW") is None and store.authenticate("nobody", "pw") is None


def _version(tmp_path: Path) -> d.Sources:
    folder = tmp_path / "published" / "2026-11-23" / "v1"
    for member in ("M001", "M002"):
        (folder / "members" / member).mkdir(parents=True)
        (folder / "members" / member / "funds.csv").write_text(f"account_id\nA-{member}\n")

    files = {
        f"members/{m}/funds.csv": {
            "sha256": hashlib.sha256(f"account_id\nA-{m}\n".encode()).hexdigest(),
            "rows": 1,
        }
        for m in ("M001", "M002")
    }
    manifest = {"trading_day": "2026-11-23", "version": 1, "files": files, "members": {}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return d.Sources.under(tmp_path)


@pytest.mark.parametrize(
    ("day", "version", "member", "name"),
    [
        ("../2026-11-23", "v1", "M001", "funds.csv"),
        ("2026-11-23", "v1/..", "M001", "funds.csv"),
        ("2026-11-23", "v2", "M001", "funds.csv"),
        ("2026-11-23", "v1", "../M002", "funds.csv"),
        ("2026-11-23", "v1", "M001", "../M002/funds.csv"),
        ("2026-11-23", "v1", "M001", "manifest.json"),
        ("2026-11-23", "v1", "M003", "funds.csv"),
    ],
)
def test_only_listed_files_of_the_member_can_be_named(
    tmp_path: Path, day: str, version: str, member: str, name: str
) -> None:
    src = _version(tmp_path)
    with pytest.raises(d.NotFound):
        d.member_file(src, day, version, member, name)


def test_a_member_slice_holds_only_its_own_files_and_a_tampered_file_is_not_served(
    tmp_path: Path,
) -> None:
    src = _version(tmp_path)
    assert d.member_file(src, "2026-11-23", "v1", "M001", "funds.csv") == b"account_id\nA-M001\n"
    assert list(d.member_manifest(src, "2026-11-23", "v1", "M001")["files"]) == ["funds.csv"]
    zipped = archive.archive_bytes(src, "2026-11-23", "v1", "M001")
    assert b"A-M002" not in zipped
    assert zipped == archive.archive_bytes(src, "2026-11-23", "v1", "M001")  # same bytes every time
    (tmp_path / "published/2026-11-23/v1/members/M001/funds.csv").write_text("account_id\nX\n")
    with pytest.raises(RuntimeError, match="does not match its manifest"):
        d.member_file(src, "2026-11-23", "v1", "M001", "funds.csv")


def test_charts_print_exact_values_label_their_axes_and_escape_labels() -> None:
    svg = charts.bars(
        "Margin <top>", ["M001", "<M&2>"], {"margin": [Decimal("1234.50"), 7]}, "CNY", "member"
    )
    assert "1,234.50" in svg and "&lt;M&amp;2&gt;" in svg and "Margin &lt;top&gt;" in svg
    assert ">CNY</text>" in svg and 'class="axis-label">member<' in svg
    line = charts.lines(
        "VWAP",
        ["w2", "w1"],
        {"vwap": [Decimal("10.5"), None]},
        "window",
        "price",
        "-",
        levels={"s": 10},
    )
    assert line.count("<circle") == 1 and "s 10" in line
    assert ">window<" in line and ">price<" in line and line.count('class="grid-line"') == 5
    assert ">10.00<" in line and ">10.13<" in line and ">10.50<" in line  # half up, 2 places
    one = charts.lines("Lag", ["10:00"], {"lag": [3]}, "time", "records", "one reading so far")
    assert "<svg" not in one and "one reading so far" in one


def test_amounts_have_thousands_separators_and_fixed_decimals() -> None:
    assert fmt.amount("37901035996.44") == "37,901,035,996.44"
    assert fmt.amount("-776294.2") == "-776,294.20" and fmt.amount(Decimal(5)) == "5.00"
    assert fmt.amount("0.005") == "0.01"  # Round half up (the numbers module), not half even
    assert fmt.exact("5787.8") == "5,787.8" and fmt.cell("1234", "int") == "1,234"
    assert fmt.cell("A000001", "string") == "A000001" and fmt.amount("") == ""
    assert (
        fmt.local_time(0) == "1970-01-01T08:00:00+08:00"
        and fmt.utc_time(0) == "1970-01-01T00:00:00Z"
    )


def test_a_trade_at_the_close_instant_is_in_the_last_hour_window() -> None:
    """Issue 16: the portal numbered the §3 windows without the rules' max(1, ...), so a trade at
    the close instant (minute 240 of the 240-minute index session) fell into a "window 0"."""
    minutes = pl.DataFrame(
        {"minute": [240, 239, 180, 179], "pq": [10.0, 30.0, 5.0, 7.0], "qty": [1, 1, 1, 1]}
    )
    assert views.window_vwaps(minutes, 240) == [
        (1, Decimal("15.0000")),  # minutes 180-240: (10 + 30 + 5) / 3
        (2, Decimal("7.0000")),
    ]


def test_no_stream_reading_is_negative_and_an_empty_chart_says_why() -> None:
    shown = views.health_reading({"checkpoint_age_seconds": -0.1, "events_per_second": 12.5})
    assert shown == {"checkpoint_age_seconds": 0, "events_per_second": 12.5}
    none = views.stream_chart([], str)
    assert "<svg" not in none and "ops DAG" in none
    one = views.stream_chart([{"at": 0, "events_per_second": -1, "topics": {}}], str)
    assert "<svg" not in one and "one reading so far (at 08:00)" in one


def test_settlement_prices_are_checked_against_the_manifest(tmp_path: Path) -> None:
    src = _version(tmp_path)
    folder = tmp_path / "published" / "2026-11-23" / "v1"
    (folder / "exchange").mkdir()
    (folder / "exchange" / "settlement_prices.csv").write_text("instrument_id\nIF2612\n")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["exchange/settlement_prices.csv"] = {
        "sha256": hashlib.sha256(b"instrument_id\nIF2612\n").hexdigest(),
        "rows": 1,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert d.exchange_file(src, "2026-11-23", "v1", "settlement_prices.csv").startswith(b"instr")
    (folder / "exchange" / "settlement_prices.csv").write_text("instrument_id\nIF2612X\n")
    with pytest.raises(d.Tampered, match="does not match its manifest"):
        d.exchange_file(src, "2026-11-23", "v1", "settlement_prices.csv")
    with pytest.raises(d.NotFound):
        d.exchange_file(src, "2026-11-23", "v1", "../manifest.json")


def test_forwarded_addresses_count_only_from_a_trusted_proxy() -> None:
    proxy = frozenset({"10.0.0.2"})
    assert forwarded_client("203.0.113.5", "198.51.100.1", proxy) == "203.0.113.5"
    assert forwarded_client("10.0.0.2", "198.51.100.1", proxy) == "198.51.100.1"
    assert forwarded_client("10.0.0.2", "1.2.3.4, 198.51.100.1", proxy) == "198.51.100.1"
    assert forwarded_client("10.0.0.2", "198.51.100.1, 10.0.0.2", proxy) == "198.51.100.1"
    assert forwarded_client("10.0.0.2", "", proxy) == "10.0.0.2"


class Clock:
    """The throttle's time, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_sign_in_lock_doubles_up_to_its_cap_and_is_forgotten_after(tmp_path: Path) -> None:
    clock = Clock()
    throttle = Throttle(user_failures=5, base_seconds=30, max_seconds=900, clock=clock)
    assert [throttle.lock_seconds(n, 5) for n in (4, 5, 6, 7, 10)] == [0, 30, 60, 120, 900]
    store = Store(tmp_path / "p.sqlite")
    keys = [("user:x", 5), ("client:y", 20)]

    def fail() -> list[tuple[str, int, float]]:
        assert store.sign_in_attempt(keys, throttle) == (0, True)
        return store.sign_in_done(keys, throttle, succeeded=False)

    for n in range(1, 5):
        assert fail() == [("user:x", n, 0), ("client:y", n, 0)]
    assert fail() == [("user:x", 5, 30), ("client:y", 5, 0)]
    assert store.sign_in_attempt(keys, throttle) == (30, False)  # locked: refused, not counted
    locks = []
    for _ in range(7):  # each failure after a lock ends locks twice as long, up to the cap
        waited, _ = store.sign_in_attempt(keys, throttle)
        assert waited > 0
        clock.now += waited
        locks.append(fail()[0][2])
    assert locks == [60, 120, 240, 480, 900, 900, 900]
    clock.now += 900 + 901  # the lock ends, then 15 minutes untouched: forgotten
    assert fail()[0] == ("user:x", 1, 0)
    assert store.sign_in_attempt(keys, throttle) == (0, True)
    assert store.sign_in_done(keys, throttle, succeeded=True) == [
        ("user:x", 0, 0),
        ("client:y", 0, 0),
    ]


def test_attempts_at_once_wait_for_those_being_checked(tmp_path: Path) -> None:
    throttle = Throttle(user_failures=5, client_failures=20, clock=Clock())
    store = Store(tmp_path / "p.sqlite")
    keys = [("user:x", 5)]
    with ThreadPoolExecutor(16) as pool:
        found = list(pool.map(lambda _: store.sign_in_attempt(keys, throttle), range(40)))
    assert found.count((0, True)) == 5 and found.count((0, False)) == 35  # the rest wait
    for _ in range(4):
        store.sign_in_done(keys, throttle, succeeded=False)
    assert store.sign_in_attempt(keys, throttle) == (0, False)  # 4 failed, one still checked
    store.sign_in_done(keys, throttle, succeeded=True)  # it was the right password
    assert store.sign_in_attempt(keys, throttle) == (0, True)
    store.sign_in_done(keys, throttle, succeeded=False)
    assert [store.sign_in_attempt(keys, throttle) for _ in range(5)] == [(0, True)] * 4 + [
        (0, False)
    ]


def test_every_message_has_a_chinese_translation_with_the_same_placeholders() -> None:
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    root = Path(portal.__file__).resolve().parent
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None, "N_": None}
    found = {m[2] for m in extract_from_dir(root, method_map, options, keywords=keywords) if m[2]}
    with i18n.catalogue_path("zh_CN").open("rb") as po:
        catalogue = read_po(po)
    translated = {m.id: m.string for m in catalogue if m.id}
    assert found - set(translated) == set(), "run make messages and translate"
    for msgid in found:
        text = translated[msgid]
        assert text, msgid
        assert isinstance(msgid, str) and isinstance(text, str), msgid  # no plural forms
        assert sorted(re.findall(r"%\(\w+\)s", msgid)) == sorted(re.findall(r"%\(\w+\)s", text)), (
            msgid
        )
    assert i18n.translations("zh_CN").gettext("Sign in") == "登录"
    column_names = {c for spec in group_specs("published") for c in spec.column_names}
    assert column_names <= found


def test_settled_by_comes_from_the_versions_lineage_else_the_status() -> None:
    stream = {"path": "stream", "reason": "proof complete"}
    batch = {"path": "batch", "reason": "re-issue"}
    assert d.settled_by({"lineage": {"settled_by": stream}}, {"settled_by": batch}) == stream
    assert d.settled_by({"lineage": {"source": "kafka"}}, {"settled_by": batch}) == batch
    assert d.settled_by(None, {"trading_day": "2026-11-23"}) is None
