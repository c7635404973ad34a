"""Portal users from the command line: staff, and one user per member (the exchange's member list)."""

from __future__ import annotations

import secrets
from pathlib import Path

from portal.store import Store


def provision_demo_users(store: Store, members: list[str], credentials: Path) -> dict[str, str]:
    """A staff user and one user per member with fresh random passwords, written (mode 600) to
    ``credentials`` for the person running the demo; only the scrypt hashes go into the store."""
    made: dict[str, str] = {}
    if store.user("staff") is None:
        made["staff"] = secrets.token_urlsafe(12)
        store.add_user("staff", "staff", made["staff"])
    for member in members:
        username = member.lower()
        if store.user(username) is None:
            made[username] = secrets.token_urlsafe(12)
            store.add_user(username, "member", made[username], member)
    if made:
        credentials.parent.mkdir(parents=True, exist_ok=True)
        with credentials.open("a") as f:
            credentials.chmod(0o600)
            for user, password in made.items():
                f.write(f"{user} {password}\n")
    return made
