"""Sign-in throttling over real HTTP (a real uvicorn server, in a thread, over an empty state): the
attempt after the limit is refused with 429 and ``Retry-After``, the right password too while the
lock lasts, guesses sent at once are counted one after the other, and sign-in works again when the
lock ends. The throttle's clock is the test's, so nothing sleeps; the limits are small ones (the
defaults are the same code with larger numbers; bench/portal_load.py's guessing run shows them)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from portal.settings import Throttle
from portal.store import LogFilter, Store
from tests.portal_server import PROXY, serve, sign_in

USER_LIMIT, CLIENT_LIMIT, LOCK_SECONDS = 3, 4, 30.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Clock, Store]]:
    state: Path = tmp_path_factory.mktemp("throttle-state")
    store = Store(state / "portal" / "portal.sqlite")
    for name in ("lockme", "racer", "bystander", "sprayed"):
        store.add_user(name, "member", f"{name}-password", "M001")
    clock = Clock()
    throttle = Throttle(
        user_failures=USER_LIMIT,
        client_failures=CLIENT_LIMIT,
        base_seconds=LOCK_SECONDS,
        clock=clock,
    )
    with serve(state, throttle) as url:
        yield url, clock, store


def client_at(url: str, address: str) -> httpx.Client:
    """A browser at ``address``, reaching the server through the trusted proxy."""
    return httpx.Client(
        base_url=url,
        transport=httpx.HTTPTransport(local_address=PROXY),
        headers={"X-Forwarded-For": address},
    )


def test_a_user_is_locked_after_its_limit_from_everywhere_and_free_again_after_the_lock(
    portal: tuple[str, Clock, Store],
) -> None:
    url, clock, store = portal
    with client_at(url, "198.51.100.1") as guesser, client_at(url, "198.51.100.2") as owner:
        for _ in range(USER_LIMIT):
            assert sign_in(guesser, "lockme", "wrong").status_code == 401
        refused = sign_in(guesser, "lockme", "lockme-password")
        assert refused.status_code == 429 and refused.headers["retry-after"] == "31"
        assert sign_in(owner, "lockme", "lockme-password").status_code == 429  # the user's lock
        assert sign_in(owner, "bystander", "bystander-password").status_code == 303
        clock.now += LOCK_SECONDS - 1
        assert sign_in(owner, "lockme", "lockme-password").headers["retry-after"] == "2"
        clock.now += 1
        assert sign_in(owner, "lockme", "lockme-password").status_code == 303
    refusals = store.access_log(10, 0, LogFilter(outcome="refused 429"))
    assert [r["detail"] for r in refusals] == ["sign-in locked for 'lockme'"] * 3


def test_a_client_is_locked_after_its_limit_whatever_the_names_it_tries(
    portal: tuple[str, Clock, Store],
) -> None:
    url, clock, _ = portal
    with client_at(url, "203.0.113.7") as sprayer, client_at(url, "203.0.113.8") as member:
        for n in range(CLIENT_LIMIT):  # one guess per name: no user reaches its own limit
            assert sign_in(sprayer, f"guess{n}", "x").status_code == 401
        refused = sign_in(sprayer, "sprayed", "sprayed-password")
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) == 31
        assert sign_in(member, "sprayed", "sprayed-password").status_code == 303  # not the user's
        clock.now += LOCK_SECONDS
        assert sign_in(sprayer, "sprayed", "sprayed-password").status_code == 303


def test_guesses_sent_at_once_get_no_more_tries_than_the_limit(
    portal: tuple[str, Clock, Store],
) -> None:
    url, clock, _ = portal

    def guess(n: int) -> int:
        with client_at(url, f"192.0.2.{n}") as guesser:  # from many addresses: the user's limit
            return sign_in(guesser, "racer", "wrong").status_code

    with ThreadPoolExecutor(12) as pool:
        answers = sorted(pool.map(guess, range(1, 13)))
    assert answers == [401] * USER_LIMIT + [429] * (12 - USER_LIMIT)
    clock.now += LOCK_SECONDS
    with client_at(url, "192.0.2.99") as owner:
        assert sign_in(owner, "racer", "racer-password").status_code == 303


def test_sign_ins_at_once_from_one_address_wait_their_turn_instead_of_being_refused(
    portal: tuple[str, Clock, Store],
) -> None:
    url, _, _ = portal

    def member_signs_in(_: int) -> int:
        with client_at(url, "198.51.100.77") as office:  # one firm's address, many sign-ins
            return sign_in(office, "bystander", "bystander-password").status_code

    with ThreadPoolExecutor(CLIENT_LIMIT + 2) as pool:
        answers = list(pool.map(member_signs_in, range(CLIENT_LIMIT + 2)))
    assert answers == [303] * (CLIENT_LIMIT + 2)  # more at once than either limit, none refused
