"""The portal's pure parts: password and secret handling, name validation, member slices, charts."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from portal import charts
from portal import days as d
from portal.store import Store, check_password, hash_password


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
    import hashlib

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
    archive = d.member_archive(src, "2026-11-23", "v1", "M001")
    assert b"A-M002" not in archive
    assert archive == d.member_archive(src, "2026-11-23", "v1", "M001")  # same bytes every time
    (tmp_path / "published/2026-11-23/v1/members/M001/funds.csv").write_text("account_id\nX\n")
    with pytest.raises(RuntimeError, match="does not match its manifest"):
        d.member_file(src, "2026-11-23", "v1", "M001", "funds.csv")


def test_charts_print_exact_values_and_escape_labels() -> None:
    svg = charts.bars("Margin <top>", ["M001", "<M&2>"], {"margin": [Decimal("1234.50"), 7]})
    assert "1,234.50" in svg and "&lt;M&amp;2&gt;" in svg and "Margin &lt;top&gt;" in svg
    line = charts.lines("VWAP", ["w2", "w1"], {"vwap": [Decimal("10.5"), None]}, levels={"s": 10})
    assert line.count("<circle") == 1 and "s 10" in line


def test_settled_by_comes_from_the_versions_lineage_else_the_status() -> None:
    stream = {"path": "stream", "reason": "proof complete"}
    batch = {"path": "batch", "reason": "re-issue"}
    assert d.settled_by({"lineage": {"settled_by": stream}}, {"settled_by": batch}) == stream
    assert d.settled_by({"lineage": {"source": "kafka"}}, {"settled_by": batch}) == batch
    assert d.settled_by(None, {"trading_day": "2026-11-23"}) is None
