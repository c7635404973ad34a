"""The portal's own state, one SQLite file: users, sessions, API tokens and the access log.

* Passwords are stored as scrypt hashes with a per-user salt (``scrypt$n$r$p$salt$hash``); a sign-in
  compares in constant time.
* Session ids and API tokens are 256-bit random secrets handed out once; only their SHA-256 is stored,
  with an expiry. A tampered, unknown, revoked or expired secret therefore simply finds nothing.
* Every read of member data (staff's too), every download, sign-in, sign-out and refused request is
  appended to ``access_log`` with the member and trading day it concerned; staff read it filtered and
  paged, with the anonymous refusals counted apart so that they never push the rest out of view.
* Sign-in attempts are counted per user name and per client address (``sign_in_failures``: failures
  in a row, attempts being checked, the lock) for the throttle of ``portal.settings.Throttle``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portal.settings import Throttle

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SESSION_SECONDS = 8 * 3600
TOKEN_DAYS = 90
TOKEN_ID_LENGTH = 12  # a token's public id: the first hex digits of its SHA-256

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
  username TEXT PRIMARY KEY,
  role TEXT NOT NULL CHECK (role IN ('staff', 'member')),
  member_id TEXT,
  password_hash TEXT NOT NULL,
  CHECK ((role = 'member') = (member_id IS NOT NULL))
);
CREATE TABLE IF NOT EXISTS secrets (
  digest TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('session', 'token')),
  username TEXT NOT NULL REFERENCES users(username),
  label TEXT NOT NULL DEFAULT '',
  expires_at REAL NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS access_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at REAL NOT NULL,
  username TEXT,
  role TEXT,
  member_id TEXT,
  client TEXT,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  outcome TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS sign_in_failures (
  key TEXT PRIMARY KEY,
  failures INTEGER NOT NULL,
  last_at REAL NOT NULL,
  locked_until REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS portal_keys (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
"""
#: Columns added after the first release: (table, column, definition), added to older databases.
ADDED_COLUMNS = (
    ("access_log", "subject_member", "TEXT"),
    ("access_log", "trading_day", "TEXT"),
    ("sign_in_failures", "pending", "INTEGER NOT NULL DEFAULT 0"),
)
#: An attempt admitted this long ago without an answer (a server stopped mid-check) is not waited for.
PENDING_SECONDS = 300.0
ACCESS_LOG_COLUMNS = (
    "id, at, username, role, member_id, client, method, path, outcome, detail, subject_member, "
    "trading_day"
)


@dataclass(frozen=True)
class LogFilter:
    """Which access-log rows to show: all given conditions hold. ``member`` matches the reader's
    member or the member whose data was read; ``outcome`` is a prefix (``refused`` finds every
    refusal); ``since``/``until`` are epoch seconds; ``anonymous``: only rows without a user (True),
    only rows with one (False), or both (None)."""

    user: str | None = None
    member: str | None = None
    outcome: str | None = None
    since: float | None = None
    until: float | None = None
    anonymous: bool | None = None

    def where(self) -> tuple[str, list[object]]:
        clauses: list[str] = ["1 = 1"]
        args: list[object] = []
        if self.user:
            clauses.append("username = ?")
            args.append(self.user)
        if self.member:
            clauses.append("(member_id = ? OR subject_member = ?)")
            args += [self.member, self.member]
        if self.outcome:
            clauses.append("substr(outcome, 1, ?) = ?")
            args += [len(self.outcome), self.outcome]
        if self.since is not None:
            clauses.append("at >= ?")
            args.append(self.since)
        if self.until is not None:
            clauses.append("at < ?")
            args.append(self.until)
        if self.anonymous is not None:
            clauses.append("username IS NULL" if self.anonymous else "username IS NOT NULL")
        return " AND ".join(clauses), args


@dataclass(frozen=True)
class Principal:
    """Who is asking: staff, or a member's user (``member_id`` set)."""

    username: str
    role: str
    member_id: str | None

    @property
    def is_staff(self) -> bool:
        return self.role == "staff"


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        computed = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(computed.hex(), digest)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# A real hash to compare against when the user does not exist, so timing does not reveal it.
_DUMMY_HASH = hash_password("not a password")


class Store:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(SCHEMA)
            for table, column, definition in ADDED_COLUMNS:
                present = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
                if column not in present:
                    con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    def _connect(self) -> sqlite3.Connection:
        """WAL (set once, in the file) lets readers run beside the one writer; ``synchronous=NORMAL``
        syncs at checkpoints instead of at every commit, which WAL keeps consistent (a power cut can
        lose the last rows of the access log, never corrupt it); a writer waits up to 30 s."""
        con = sqlite3.connect(self.path, timeout=30)
        con.execute("PRAGMA synchronous=NORMAL")
        return con

    # --- users ----------------------------------------------------------------------------------
    def add_user(
        self, username: str, role: str, password: str, member_id: str | None = None
    ) -> None:
        with self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO users (username, role, member_id, password_hash) VALUES (?, ?, ?, ?)",
                (username, role, member_id if role == "member" else None, hash_password(password)),
            )

    def user(self, username: str) -> Principal | None:
        with self._connect() as con:
            row = con.execute(
                "SELECT username, role, member_id FROM users WHERE username = ?", (username,)
            ).fetchone()
        return Principal(*row) if row else None

    def authenticate(self, username: str, password: str) -> Principal | None:
        with self._connect() as con:
            row = con.execute(
                "SELECT username, role, member_id, password_hash FROM users WHERE username = ?",
                (username,),
            ).fetchone()
        if row is None:
            check_password(password, _DUMMY_HASH)
            return None
        return Principal(*row[:3]) if check_password(password, row[3]) else None

    # --- sessions and tokens -------------------------------------------------------------------
    def issue(self, username: str, kind: str, seconds: float, label: str = "") -> str:
        secret = secrets.token_urlsafe(32)
        with self._connect() as con:
            con.execute(
                "INSERT INTO secrets (digest, kind, username, label, expires_at) VALUES (?, ?, ?, ?, ?)",
                (_digest(secret), kind, username, label, time.time() + seconds),
            )
        return secret

    def resolve(self, secret: str | None, kind: str) -> Principal | None:
        if not secret or len(secret) > 200:
            return None
        with self._connect() as con:
            row = con.execute(
                "SELECT u.username, u.role, u.member_id FROM secrets s JOIN users u USING (username) "
                "WHERE s.digest = ? AND s.kind = ? AND s.revoked = 0 AND s.expires_at > ?",
                (_digest(secret), kind, time.time()),
            ).fetchone()
        return Principal(*row) if row else None

    def revoke(self, secret: str) -> None:
        with self._connect() as con:
            con.execute("UPDATE secrets SET revoked = 1 WHERE digest = ?", (_digest(secret),))

    def revoke_token(self, username: str, token_id: str) -> bool:
        """Revoke the user's API token named by its id (the first 12 hex digits of its digest, as
        :meth:`tokens` lists it). False when the user has no live token of that id."""
        if len(token_id) != TOKEN_ID_LENGTH or not all(c in "0123456789abcdef" for c in token_id):
            return False
        with self._connect() as con:
            done = con.execute(
                "UPDATE secrets SET revoked = 1 WHERE username = ? AND kind = 'token' "
                "AND substr(digest, 1, ?) = ? AND revoked = 0",
                (username, TOKEN_ID_LENGTH, token_id),
            ).rowcount
        return done > 0

    def revoke_all(self, username: str) -> int:
        """Sign out everywhere: every session and every API token of the user. Returns how many."""
        with self._connect() as con:
            return con.execute(
                "UPDATE secrets SET revoked = 1 WHERE username = ? AND revoked = 0", (username,)
            ).rowcount

    def tokens(self, username: str) -> list[dict[str, object]]:
        with self._connect() as con:
            rows = con.execute(
                "SELECT substr(digest, 1, ?), label, expires_at, revoked FROM secrets "
                "WHERE username = ? AND kind = 'token' ORDER BY expires_at",
                (TOKEN_ID_LENGTH, username),
            ).fetchall()
        now = time.time()
        return [
            {
                "id": r[0],
                "label": r[1],
                "expires_at": r[2],
                "revoked": bool(r[3]),
                "live": not r[3] and r[2] > now,
            }
            for r in rows
        ]

    # --- sign-in throttling --------------------------------------------------------------------
    def sign_in_attempt(
        self, keys: list[tuple[str, int]], throttle: Throttle
    ) -> tuple[float, bool]:
        """May a sign-in be checked now? ``keys``: ``(user:NAME | client:ADDRESS, threshold)``.

        Returns ``(seconds, False)`` while one of the keys is locked; ``(0, False)`` while a key's
        failures in a row plus the attempts being checked already reach its threshold, or, past a
        lock, one attempt is being checked (ask again shortly: one of them may succeed); else ``(0, True)``, the attempt now counted as being
        checked. The read and the count are one write transaction, so however many guesses arrive at
        once, no more than the threshold get to the password check before the lock; and a burst of
        members signing in from one address waits its turn instead of being refused.
        Every admitted attempt ends with :meth:`sign_in_done`."""
        now = throttle.clock()
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            rows = {
                key: con.execute(
                    "SELECT failures, pending, last_at, locked_until FROM sign_in_failures "
                    "WHERE key = ?",
                    (key,),
                ).fetchone()
                for key, _ in keys
            }
            wait = max([float(row[3]) - now for row in rows.values() if row] + [0.0])
            if wait > 0:
                return wait, False
            forgotten: list[tuple[str]] = []
            for key, threshold in keys:
                failures, pending, last_at, locked_until = rows[key] or (0, 0, now, 0.0)
                pending = 0 if now - last_at > PENDING_SECONDS else pending
                if now - max(last_at, locked_until) > throttle.forget_seconds:
                    failures = 0
                    forgotten.append((key,))
                # below the threshold, as many at once as failures are left; past a lock, one
                if pending >= max(threshold - failures, 1):
                    return 0.0, False
            con.executemany(
                "UPDATE sign_in_failures SET failures = 0, locked_until = 0 WHERE key = ?",
                forgotten,
            )
            for key, _ in keys:
                con.execute(
                    "INSERT INTO sign_in_failures (key, failures, pending, last_at) "
                    "VALUES (?, 0, 1, ?) ON CONFLICT (key) DO UPDATE SET pending = "
                    "CASE WHEN ? - last_at > ? THEN 1 ELSE pending + 1 END, last_at = ?",
                    (key, now, now, PENDING_SECONDS, now),
                )
        return 0.0, True

    def sign_in_done(
        self, keys: list[tuple[str, int]], throttle: Throttle, succeeded: bool
    ) -> list[tuple[str, int, float]]:
        """An admitted attempt's answer: a success clears the keys' failures; a failure counts one
        more in a row (a count is forgotten ``throttle.forget_seconds`` after its last attempt or the
        end of its lock, whichever is later) and locks a key that reached its threshold. Returns
        ``[(key, failures in a row, seconds it is now locked for), ...]``."""
        now = throttle.clock()
        counted = []
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            for key, threshold in keys:
                row = con.execute(
                    "SELECT failures, last_at, locked_until FROM sign_in_failures WHERE key = ?",
                    (key,),
                ).fetchone()
                failures, last_at, locked_until = row or (0, now, 0.0)
                if succeeded:
                    failures, lock = 0, 0.0
                else:
                    forgotten = now - max(last_at, locked_until) > throttle.forget_seconds
                    failures = 1 if forgotten else failures + 1
                    lock = throttle.lock_seconds(failures, threshold)
                con.execute(
                    "INSERT INTO sign_in_failures (key, failures, pending, last_at, locked_until) "
                    "VALUES (?, ?, 0, ?, ?) ON CONFLICT (key) DO UPDATE SET failures = ?, "
                    "pending = max(pending - 1, 0), locked_until = max(locked_until, ?)",
                    (key, failures, now, now + lock if lock else 0.0, failures,
                     now + lock if lock else 0.0),
                )  # fmt: skip
                if succeeded:
                    con.execute(
                        "UPDATE sign_in_failures SET locked_until = 0 WHERE key = ?", (key,)
                    )
                counted.append((key, failures, lock))
        return counted

    # --- keys ----------------------------------------------------------------------------------
    def key(self, name: str) -> bytes:
        """A 256-bit server key (made on first use, kept in the store so it survives restarts)."""
        with self._connect() as con:
            con.execute(
                "INSERT OR IGNORE INTO portal_keys (name, value) VALUES (?, ?)",
                (name, secrets.token_hex(32)),
            )
            row = con.execute("SELECT value FROM portal_keys WHERE name = ?", (name,)).fetchone()
        return bytes.fromhex(row[0])

    # --- access log ----------------------------------------------------------------------------
    def log(
        self,
        who: Principal | None,
        client: str,
        method: str,
        path: str,
        outcome: str,
        detail: str = "",
        subject_member: str | None = None,
        trading_day: str | None = None,
    ) -> None:
        with self._connect() as con:
            con.execute(
                "INSERT INTO access_log (at, username, role, member_id, client, method, path, "
                "outcome, detail, subject_member, trading_day) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    who.username if who else None,
                    who.role if who else None,
                    who.member_id if who else None,
                    client,
                    method,
                    path[:500],
                    outcome,
                    detail[:500],
                    subject_member[:40] if subject_member else None,
                    trading_day[:10] if trading_day else None,
                ),
            )

    def access_log(
        self, limit: int = 500, offset: int = 0, where: LogFilter | None = None
    ) -> list[dict[str, Any]]:
        """Rows matching ``where``, newest first, ``limit`` of them after skipping ``offset``."""
        clause, args = (where or LogFilter()).where()
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            rows = con.execute(
                f"SELECT {ACCESS_LOG_COLUMNS} FROM access_log WHERE {clause} "
                "ORDER BY id DESC LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return [dict(r) for r in rows]

    def access_log_count(self, where: LogFilter | None = None) -> int:
        clause, args = (where or LogFilter()).where()
        with self._connect() as con:
            found = con.execute(f"SELECT count(*) FROM access_log WHERE {clause}", args).fetchone()
        return int(found[0])
