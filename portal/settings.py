"""The portal's settings, in one place, with their defaults and the environment variables that set them.

=================================  =====================================================================
``DAYCLEAR_PORTAL_BASE_URL``       the address users reach the portal at (``https://...`` behind the
                                   exchange's TLS proxy); every redirect and the Origin check use it,
                                   never the request's Host. Default ``http://127.0.0.1:8300``.
``DAYCLEAR_PORTAL_TRUSTED_PROXIES`` comma-separated addresses whose ``X-Forwarded-For`` and
                                   ``X-Forwarded-Proto`` are believed; from anyone else they are
                                   ignored. Default: none.
``DAYCLEAR_PORTAL_SECURE_COOKIE``  ``1``: cookies are ``Secure`` (also implied by an https base URL).
=================================  =====================================================================
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from dayclear.config import PORTAL_BASE_URL, PORTAL_SECURE_COOKIE, PORTAL_TRUSTED_PROXIES

DEFAULT_BASE_URL = "http://127.0.0.1:8300"


@dataclass(frozen=True)
class Throttle:
    """Sign-in throttling (docs/portal.md "Sign-in throttling"): every sign-in is counted against its
    user name and its client address before its password is checked; once one of them has
    ``user_failures`` (name) or ``client_failures`` (address) attempts in a row that did not succeed,
    further sign-ins of that name or address are refused (429) for ``base_seconds``, doubled for every
    further attempt, up to ``max_seconds``. A success clears the name's and the address's count; a
    count untouched for ``forget_seconds`` after its last lock ended starts again. ``clock`` is the
    time the throttle reads (tests move it instead of sleeping)."""

    user_failures: int = 5
    client_failures: int = 20
    base_seconds: float = 30.0
    max_seconds: float = 900.0
    forget_seconds: float = 900.0
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)

    def lock_seconds(self, failures: int, threshold: int) -> float:
        """How long to lock after ``failures`` failures in a row (0: not locked)."""
        if failures < threshold:
            return 0.0
        return float(min(self.max_seconds, self.base_seconds * 2 ** (failures - threshold)))


@dataclass(frozen=True)
class PortalSettings:
    base_url: str = DEFAULT_BASE_URL
    trusted_proxies: frozenset[str] = frozenset()
    secure_cookie: bool = False
    max_body_bytes: int = 64 * 1024  # the largest form is a sign-in: a few hundred bytes
    max_header_bytes: int = 16 * 1024  # all request headers together
    #: password checks run at once, in their own threads: scrypt takes 16 MiB and ~50 ms of a core
    #: each, so more at once than the cores only adds memory (docs/benchmarks.md, "Portal under load")
    password_checks: int = 4
    throttle: Throttle = field(default_factory=Throttle)
    default_language: str = "zh_CN"

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"portal base URL must be http(s)://host[:port]: {self.base_url!r}")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` of the base URL, as browsers send it in ``Origin``."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}".lower()

    @property
    def tls(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def cookie_secure(self) -> bool:
        return self.secure_cookie or self.tls

    def url(self, path: str) -> str:
        """An absolute URL of one of the portal's own paths (``path`` starts with ``/``)."""
        if not path.startswith("/") or path.startswith("//"):
            path = "/"
        return self.base_url + path

    @classmethod
    def from_env(cls, **overrides: object) -> PortalSettings:
        proxies = PORTAL_TRUSTED_PROXIES.get() or ""
        found: dict[str, object] = {
            "base_url": PORTAL_BASE_URL.get() or DEFAULT_BASE_URL,
            "trusted_proxies": frozenset(p.strip() for p in proxies.split(",") if p.strip()),
            "secure_cookie": PORTAL_SECURE_COOKIE.get() == "1",
        }
        return cls(**{**found, **overrides})  # type: ignore[arg-type]
