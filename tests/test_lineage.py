"""The manifest's lineage, built by one function for both paths that settle a day (issue 16: the
settlement DAG and the replay built it each in their own shape). The shapes below are what
published manifests hold: a path's manifest bytes stay the same."""

from __future__ import annotations

from hashlib import sha256
from pathlib import Path

from dayclear.config import code_version
from driver.pipeline import lineage


def _bundle(root: Path) -> Path:
    for folder, name in (("reference", "products.csv"), ("opening", "positions.csv")):
        (root / folder).mkdir(parents=True)
        (root / folder / name).write_text(f"{folder}\n")
    (root / "events").mkdir()
    (root / "events" / "trades.csv").write_text("events\n")
    return root


def _sha(text: str) -> str:
    return sha256(text.encode()).hexdigest()


def test_the_two_paths_lineage(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path / "bundle")
    terms = {
        "opening/positions.csv": _sha("opening\n"),
        "reference/products.csv": _sha("reference\n"),
    }
    stream = {"path": "stream", "reason": "the stream froze at the end offsets"}
    offsets = {"trades": {"0": 7}}
    assert lineage(bundle, stream, end_offsets=offsets) == {
        "source": "kafka",
        "end_offsets": offsets,
        "inputs": terms,  # the close read the events from Kafka, not from the bundle
        "code_version": code_version(),
        "settled_by": stream,
    }
    batch = {"path": "batch", "reason": "replay"}
    assert lineage(bundle, batch, events={"trades": 1}) == {
        "source": "bundle",
        "inputs": {**terms, "events/trades.csv": _sha("events\n")},
        "events": {"trades": 1},
        "code_version": code_version(),
        "settled_by": batch,
    }
