"""The intraday risk monitor: follows the streaming pre-aggregation job's committed output and raises
risk alerts within seconds (ISSUE: intraday streaming, items 6 and 7).

Every ``--interval`` seconds it reads what is new in the day's aggregate topics (``read_committed``:
only what a completed checkpoint committed; it keeps its positions, so each cycle reads only the
new records), folds them to the last value per key, and runs :func:`settlement.risk.risk_alerts`
(the end of day's own rules at the last traded prices). Each (kind, account, subject) in breach is
raised once a day on the ``alerts`` topic with source ``risk``; on a restart the alerts already
raised are read back from the topic, so a crash neither loses nor repeats one.

    python -m jobs.risk_monitor --bootstrap 127.0.0.1:19092 --day 2026-11-23 --bundle BUNDLE
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import time
from datetime import date
from pathlib import Path
from typing import Any

from dayclear import logs
from dayclear.config import RISK_LIMITS, deploy_file
from edge.bundle import load_inputs
from jobs.kafka_io import producer
from jobs.stream_health import committed_alerts
from jobs.stream_jobs import PREAGGREGATE_GROUP
from jobs.stream_snapshot import AggregateTopics
from schemas.registry import ALERTS_TOPIC
from settlement.calendar import exchange_time
from settlement.risk import risk_alerts

LIMITS = deploy_file(RISK_LIMITS)

log = logging.getLogger("jobs.risk_monitor")


def alert_record(alert: dict[str, Any], day: date, now: float) -> dict[str, Any]:
    """A risk alert as it goes on the alerts topic, raised at ``now`` (epoch seconds): its
    ``event_ts`` in the exchange's time zone with the offset (ISO 8601)."""
    return {
        **alert,
        "source": "risk",
        "trading_day": day.isoformat(),
        "event_ts": exchange_time(now),
    }


def raised_before(bootstrap: str, day: str) -> set[tuple[str, str, str]]:
    """(kind, account, subject) of the risk alerts of ``day`` already on the alerts topic."""
    return {
        (a["kind"], a["account_id"], a["subject"])
        for a in committed_alerts(bootstrap, idle_ms=1500)
        if a.get("source") == "risk" and a.get("trading_day") == day
    }


def run(
    bootstrap: str,
    day: date,
    bundle: Path,
    group: str = PREAGGREGATE_GROUP,
    interval: float = 2.0,
    until: Path | None = None,
) -> None:

    inputs = load_inputs(bundle, day)
    limits = json.loads(LIMITS.read_text())
    followed = AggregateTopics(bootstrap, group, day.isoformat())
    raised = raised_before(bootstrap, day.isoformat())
    sender = producer(bootstrap)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    log.info("risk monitor for %s: %d alerts raised before", day, len(raised))
    try:
        while not stopping:
            last = until is not None and until.exists()  # one more cycle after the freeze
            if followed.catch_up():
                found = risk_alerts(
                    day,
                    inputs.reference,
                    inputs.opening,
                    followed.aggregates(),
                    limits["position_limits"],
                    limits["otr_min_messages"],
                )
                for alert in found.iter_rows(named=True):
                    key = (alert["kind"], alert["account_id"], alert["subject"])
                    if key in raised:
                        continue
                    value = alert_record(alert, day, time.time())
                    sender.send(ALERTS_TOPIC, key=alert["kind"], value=value)
                    sender.flush()  # on the topic before it counts as raised
                    raised.add(key)
                    log.info("raised %s", key)
            if last:
                break
            time.sleep(interval)
    finally:
        sender.close()
        followed.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--day", required=True, type=date.fromisoformat)
    parser.add_argument(
        "--bundle", type=Path, required=True, help="the day's reference and opening"
    )
    parser.add_argument("--group", default=PREAGGREGATE_GROUP, help="the streaming run to follow")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between cycles")
    parser.add_argument("--until", type=Path, help="stop after the cycle that sees this file")
    args = parser.parse_args(argv)
    logs.setup(args.day)
    run(args.bootstrap, args.day, args.bundle, args.group, args.interval, args.until)


if __name__ == "__main__":
    main()
