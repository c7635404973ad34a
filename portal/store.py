"""The portal's own state, one SQLite file: users, sessions, API tokens and the access log.

* Passwords are stored as scrypt hashes with a per-user salt (``scrypt$n$r$p$salt$hash``); a sign-in
  compares in constant time.
* Session ids and API tokens are 256-bit random secrets handed out once; only their SHA-256 is stored,
  with an expiry. A tampered, unknown, revoked or expired secret therefore simply finds nothing.
* Every download and every refused request is appended to ``access_log``, which staff can read.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SESSION_SECONDS = 8 * 3600
TOKEN_DAYS = 90

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
"""


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
            con.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=10)
        con.execute("PRAGMA journal_mode=WAL")
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

    def tokens(self, username: str) -> list[dict[str, object]]:
        with self._connect() as con:
            rows = con.execute(
                "SELECT substr(digest, 1, 12), label, expires_at, revoked FROM secrets "
                "WHERE username = ? AND kind = 'token' ORDER BY expires_at",
                (username,),
            ).fetchall()
        return [
            {"id": r[0], "label": r[1], "expires_at": r[2], "revoked": bool(r[3])} for r in rows
        ]

    # --- access log ----------------------------------------------------------------------------
    def log(
        self,
        who: Principal | None,
        client: str,
        method: str,
        path: str,
        outcome: str,
        detail: str = "",
    ) -> None:
        with self._connect() as con:
            con.execute(
                "INSERT INTO access_log (at, username, role, member_id, client, method, path, outcome, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                ),
            )

    def access_log(self, limit: int = 500) -> list[dict[str, object]]:
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            rows = con.execute(
                "SELECT * FROM access_log ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [dict(r) for r in rows]
