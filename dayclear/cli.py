"""``dayclear``: the command line of the project (see README.md)."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from dayclear import logs
from dayclear.config import (
    KAFKA_BOOTSTRAP,
    ROOT,
    SETTINGS,
    StateLayout,
    code_version,
    deploy_file,
    in_checkout,
    jars_dir,
    kafka_bootstrap,
    state_dir,
    state_layout,
)
from devtools import cluster, kafka_broker
from devtools.demo import run_demo
from devtools.simulator import SimulationConfig, parse_day, simulate
from driver.close import close_day
from driver.journal_follower import resume_offset
from driver.pipeline import replay, summary
from driver.session import SessionError, follower_running, job_running, open_session, read_session
from driver.stream_close import (
    DEFAULT_TIMEOUT_S,
    StreamUnavailable,
    close_from_stream,
    close_stream_first,
)
from jobs.kafka_io import produce_bundle
from portal import formatting as fmt
from portal.server import serve
from portal.store import Store
from settlement.errors import DayclearError

if TYPE_CHECKING:
    from jobs.kafka_io import FeedProgress

log = logging.getLogger("dayclear.cli")


def _simulate(args: argparse.Namespace) -> int:
    config = SimulationConfig(
        day=args.day,
        accounts=args.accounts,
        trades=args.trades,
        seed=args.seed,
        members=args.members,
        orders_per_trade=args.orders_per_trade,
    )
    counts = simulate(config, args.out)
    print(f"simulated {args.day} into {args.out}: {counts}")
    if args.kafka:
        produced = produce_bundle(args.out, args.kafka, args.day)
        print(f"produced to Kafka at {args.kafka}: {produced}")
    return 0


def _progress_line(every_s: float = 5.0):  # type: ignore[no-untyped-def]
    """A live progress line on a terminal (redrawn in place), else a log line every ``every_s``."""
    live, last = sys.stderr.isatty(), [0.0]

    def show(p: FeedProgress) -> None:
        clock = p.clock.strftime("%H:%M:%S.%f") if p.clock else "--:--:--"
        line = (
            f"clock {clock}  {p.sent:,} of {p.total:,} events  "
            f"{p.events_per_second:,.0f} events/s  {p.elapsed_s:,.1f} s"
        )
        if live:
            sys.stderr.write("\r" + line + ("\n" if p.sent == p.total else ""))
            sys.stderr.flush()
        elif p.sent == p.total or time.monotonic() - last[0] >= every_s:
            last[0] = time.monotonic()
            log.info(line)

    return show


def _produce(args: argparse.Namespace) -> int:

    _console_logging()
    pace = f"at {args.rate:,.0f} events/s" if args.rate else "as fast as it goes"
    log.info("feeding %s of %s to %s, %s", args.bundle, args.day, args.bootstrap, pace)
    counts = produce_bundle(
        args.bundle, args.bootstrap, args.day, rate=args.rate, progress=_progress_line()
    )
    log.info("produced %s", counts)
    return 0


def _replay(args: argparse.Namespace) -> int:

    with tempfile.TemporaryDirectory(prefix="dayclear-replay-") as tmp:
        work = args.work or Path(tmp)
        publication = replay(args.bundle, args.day, args.out, work, reason=args.reason or "")
    print(summary(publication))
    return 0


def _kafka(args: argparse.Namespace) -> int:

    if args.action == "start":
        broker = kafka_broker.start()
        kafka_broker.create_topics(broker.bootstrap)
        print(
            f"Kafka broker running at {broker.bootstrap} (pid {broker.pid}, data {broker.data_dir})"
        )
    elif args.action == "stop":
        print("stopped" if kafka_broker.stop() else "no broker was running")
    else:
        running = kafka_broker.status()
        print(f"running at {running.bootstrap} (pid {running.pid})" if running else "not running")
    return 0


def _cluster(args: argparse.Namespace) -> int:
    """``dayclear cluster up|status|down``: the production topology on this machine
    (devtools/cluster.py); ``up`` and ``status`` end non-zero unless every part is healthy."""

    _console_logging()
    settings = cluster.Settings.from_env()
    if args.action == "down":
        stopped = cluster.down(settings)
        log.info("stopped %s", ", ".join(stopped) if stopped else "nothing (nothing was running)")
        return 0
    if args.action == "up":
        try:
            cluster.up(settings, [p for p in cluster.PARTS if p not in args.without])
        except cluster.ClusterError as exc:
            log.error("dayclear cluster up: %s", exc)
            return 2
        log.info("the project's commands reach it with:\n%s", cluster.env_lines(settings))
    lines = cluster.status(settings)
    for line in lines:
        sys.stdout.write(line.line() + "\n")
    return 0 if all(line.healthy for line in lines) else 1


def _close(args: argparse.Namespace) -> int:

    record = close_day(args.bundle, args.day, args.bootstrap, args.snapshot)
    print(
        f"snapshot {args.snapshot} frozen at offsets {record['end_offsets']}; complete: {record['complete']}"
    )
    return 0 if record["complete"] else 3


def _console_logging() -> None:
    """dayclear's own messages (every package's, :data:`dayclear.logs.PACKAGES`) at INFO on
    stderr, not the Kafka client's."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in sorted(logs.PACKAGES):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)


def _session(args: argparse.Namespace) -> int:
    """``dayclear session open|close|status``: the day's streaming session (driver/session.py)."""

    _console_logging()
    if args.action == "status":
        session = read_session(args.day)
        if session is None:
            log.error("no streaming session of %s", args.day)
            return 1
        state = {
            **session.as_json(),
            "running": job_running(session),
            "journal_running": follower_running(session),
            "journal_priced_to_offset": resume_offset(session.paths.journal),
            "frozen": session.paths.done.exists(),
            "folder": str(session.paths.root),
        }
        sys.stdout.write(json.dumps(state, indent=1, sort_keys=True) + "\n")
        return 0
    if not (args.bundle and args.bootstrap):
        raise SystemExit(f"dayclear session {args.action}: --bundle and --bootstrap are needed")
    if args.action == "open":
        try:
            session = open_session(
                args.day, args.bundle, args.bootstrap, snapshot=args.snapshot, restore=args.restore
            )
        except SessionError as exc:
            log.error("dayclear session open: %s", exc)
            return 2
        log.info("job log: %s", session.paths.log)
        return 0
    return _session_close(args)


def _session_close(args: argparse.Namespace) -> int:

    timeout = DEFAULT_TIMEOUT_S if args.timeout is None else args.timeout
    snapshot = args.snapshot or state_layout().snapshot(args.day)
    close = close_stream_first if args.fallback else close_from_stream
    try:
        record = close(args.day, args.bundle, args.bootstrap, snapshot, timeout)
    except StreamUnavailable as exc:
        log.error("the stream cannot close %s: %s", args.day, exc)
        log.error("close it with the bounded batch job: dayclear close, or add --fallback")
        return 4
    frozen_by = record["frozen_by"]
    assert isinstance(frozen_by, dict)
    log.info(
        "snapshot %s frozen by the %s path (%s) at offsets %s; complete: %s",
        snapshot,
        frozen_by["path"],
        frozen_by["reason"],
        record["end_offsets"],
        record["complete"],
    )
    return 0 if record["complete"] else 3


def _demo(args: argparse.Namespace) -> int:

    return run_demo(args.day, accounts=args.accounts, trades=args.trades, serve=args.serve)


def _portal(args: argparse.Namespace) -> int:

    state = args.state or state_dir()
    store = Store(StateLayout(state).portal_db)
    if args.action == "serve":
        print(f"dayclear portal on http://{args.host}:{args.port}/ (state {state})", flush=True)
        serve(state, args.host, args.port)
    elif args.action == "add-user":
        if args.role == "member" and not args.member:
            raise SystemExit("dayclear portal add-user: a member user needs --member")

        password = args.password or getpass.getpass(f"password for {args.username}: ")
        store.add_user(args.username, args.role, password, args.member)
        print(f"user {args.username} ({args.role}{' ' + args.member if args.member else ''}) saved")
    else:
        if store.user(args.username) is None:
            raise SystemExit(f"dayclear portal token: no user {args.username!r}")
        if args.revoke:
            if not store.revoke_token(args.username, args.revoke):
                raise SystemExit(
                    f"dayclear portal token: {args.username!r} has no live token {args.revoke!r}"
                )
            print(f"token {args.revoke} of {args.username} revoked")
        elif args.list:
            for t in store.tokens(args.username):
                state_word = "revoked" if t["revoked"] else "active" if t["live"] else "expired"
                expires = fmt.local_time(float(t["expires_at"]))  # type: ignore[arg-type]
                print(f"{t['id']}  {state_word:<8} expires {expires}  {t['label']}")
        else:
            print(store.issue(args.username, "token", args.days * 86400, args.label))
    return 0


def _token_days(text: str) -> int:
    """``--days``: a whole number of days from 1 (0 would issue a token that has already expired)."""
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {text!r}") from None
    if not 1 <= days <= 3650:
        raise argparse.ArgumentTypeError(f"a token lives 1 to 3650 days, not {days}")
    return days


class _BootstrapOption(TypedDict):
    """The keyword arguments of ``add_argument("--bootstrap", ...)``."""

    default: str | None
    required: bool
    help: str


def _bootstrap_option() -> _BootstrapOption:
    """``--bootstrap``: Kafka's brokers, comma-separated; $DAYCLEAR_KAFKA_BOOTSTRAP when set (what
    ``dayclear cluster up`` prints), else required."""
    default = KAFKA_BOOTSTRAP.get()
    return {
        "default": default,
        "required": not default,
        "help": "Kafka bootstrap servers, comma-separated (default $DAYCLEAR_KAFKA_BOOTSTRAP)",
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dayclear", description="Streaming intraday-to-end-of-day settlement."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser(
        "simulate", help="write a simulated trading day as a bundle (and to Kafka)"
    )
    sim.add_argument("--day", type=parse_day, required=True)
    sim.add_argument("--out", type=Path, required=True, help="bundle directory to write")
    sim.add_argument("--accounts", type=int, default=2000)
    sim.add_argument("--members", type=int, default=150)
    sim.add_argument("--trades", type=int, default=4000)
    sim.add_argument("--orders-per-trade", type=int, default=20)
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument("--kafka", metavar="BOOTSTRAP", help="also produce the events to this Kafka")
    sim.set_defaults(func=_simulate)

    produce = sub.add_parser(
        "produce",
        help="feed a bundle's day to Kafka in the exchange's order (ts), unpaced or at --rate",
    )
    produce.add_argument("bundle", type=Path)
    produce.add_argument("--day", type=parse_day, required=True)
    produce.add_argument("--bootstrap", **_bootstrap_option())
    produce.add_argument(
        "--rate", type=float, help="events per second of wall time (default: as fast as it goes)"
    )
    produce.set_defaults(func=_produce)

    rep = sub.add_parser(
        "replay", help="settle a day bundle through the production path and publish it"
    )
    rep.add_argument("bundle", type=Path)
    rep.add_argument("--day", type=parse_day, required=True)
    rep.add_argument("--out", type=Path, required=True)
    rep.add_argument(
        "--work", type=Path, help="keep staging and snapshot here (default: a temporary folder)"
    )
    rep.add_argument(
        "--reason", help="why this run happens (recorded in the manifest of a new version)"
    )
    rep.set_defaults(func=_replay)

    kafka = sub.add_parser("kafka", help="the embedded single-node KRaft broker")
    kafka.add_argument("action", choices=["start", "stop", "status"])
    kafka.set_defaults(func=_kafka)

    cluster = sub.add_parser(
        "cluster",
        help="the production topology on this machine: 3 Kafka brokers, Flink JobManager and 2"
        " TaskManagers, PostgreSQL and Airflow, the portal (state under $DAYCLEAR_STATE/cluster)",
    )
    cluster.add_argument("action", choices=["up", "status", "down"])
    cluster.add_argument(
        "--without",
        action="append",
        default=[],
        choices=["kafka", "flink", "airflow", "portal"],
        help="up: leave this part out (status then checks only the parts started)",
    )
    cluster.set_defaults(func=_cluster)

    close = sub.add_parser(
        "close", help="record the close offsets and freeze the day's pre-aggregates from Kafka"
    )
    close.add_argument(
        "bundle", type=Path, help="bundle with the day's reference data and opening state"
    )
    close.add_argument("--day", type=parse_day, required=True)
    close.add_argument("--bootstrap", **_bootstrap_option())
    close.add_argument("--snapshot", type=Path, required=True)
    close.set_defaults(func=_close)

    session = sub.add_parser(
        "session", help="the day's streaming pre-aggregation: open it, close the day from it"
    )
    session.add_argument("action", choices=["open", "close", "status"])
    session.add_argument("--day", type=parse_day, required=True)
    session.add_argument("--bundle", type=Path, help="the day's reference data and opening state")
    session.add_argument(
        "--bootstrap",
        default=KAFKA_BOOTSTRAP.get(),
        help="Kafka bootstrap servers (default $DAYCLEAR_KAFKA_BOOTSTRAP)",
    )
    session.add_argument(
        "--snapshot",
        type=Path,
        help="the day's snapshot (default $DAYCLEAR_STATE/snapshots/<D>); open: the previous"
        " close is looked up beside it",
    )
    session.add_argument(
        "--restore", action="store_true", help="open: resume the recorded run from its checkpoint"
    )
    session.add_argument(
        "--timeout",
        type=float,
        help="close: seconds to wait for the job to reach the end offsets and stop (default 300)",
    )
    session.add_argument(
        "--fallback",
        action="store_true",
        help="close: if the stream cannot close the day, close it with the bounded batch job",
    )
    session.set_defaults(func=_session)

    portal = sub.add_parser(
        "portal", help="the settlement portal: serve it, add users, issue tokens"
    )
    portal.add_argument("action", choices=["serve", "add-user", "token"])
    portal.add_argument("username", nargs="?", default="")
    portal.add_argument(
        "--state",
        type=Path,
        help="state folder (default $DAYCLEAR_STATE, else the checkout's .state)",
    )
    portal.add_argument("--host", default="127.0.0.1")
    portal.add_argument("--port", type=int, default=8300)
    portal.add_argument("--role", choices=["staff", "member"], default="member")
    portal.add_argument("--member", help="the member id of a member user")
    portal.add_argument("--password", help="(default: asked for)")
    portal.add_argument("--days", type=_token_days, default=90, help="token lifetime (1-3650)")
    portal.add_argument("--list", action="store_true", help="token: list the user's tokens")
    portal.add_argument("--revoke", metavar="TOKEN_ID", help="token: revoke one (id from --list)")
    portal.add_argument("--label", default="", help="what the token is for")
    portal.set_defaults(func=_portal)

    demo = sub.add_parser("demo", help="the whole path once on the embedded default (see README)")
    demo.add_argument("--day", type=parse_day, default=parse_day("2026-11-23"))
    demo.add_argument("--accounts", type=int, default=2000)
    demo.add_argument("--trades", type=int, default=4000)
    demo.add_argument(
        "--serve", action="store_true", help="then serve the settlement portal over the result"
    )
    demo.set_defaults(func=_demo)

    settings = sub.add_parser(
        "config", help="the settings in effect: every DAYCLEAR_* variable, the state folder, jars"
    )
    settings.set_defaults(func=_config)
    return parser


def _config(args: argparse.Namespace) -> int:
    """``dayclear config``: what this process would use (dayclear/config.py), one line each."""
    rows = [(s.name, os.environ.get(s.name) or "", s.default or "", s.meaning) for s in SETTINGS]
    width = max(len(r[0]) for r in rows)
    print(f"state folder     {state_dir()}")
    print(f"checkout         {ROOT if in_checkout() else '(installed: ' + str(ROOT) + ')'}")
    print(f"version          {code_version()}")
    print(f"kafka            {kafka_bootstrap()}")
    print(f"jars             {jars_dir()}")
    print(f"thresholds       {deploy_file('')}")
    print()
    for name, value, default, meaning in rows:
        shown = f"={value}" if value else f" (default {default or 'unset'})"
        print(f"{name:<{width}}{shown}  {meaning}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except DayclearError as exc:
        print(f"dayclear: {exc}", file=sys.stderr)
        print("nothing was published.", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
