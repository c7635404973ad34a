"""Cross-site request forgery: every state-changing form (sign-in, sign-out, sign-out everywhere,
token creation and revocation) must come from the portal's own origin *and* carry the token of the
page that showed it.

* **Origin.** ``Origin`` must be the base URL's origin (scheme, host and port: a page on another port
  of the same host is another origin). A browser that sends no ``Origin`` must send a ``Referer`` under
  the base URL (the portal sends ``Referrer-Policy: same-origin`` so that its own pages do). Neither:
  refused.
* **Token.** An HMAC, under a server key kept in the store, of the browser's session (signed in) or of
  its pre-sign-in cookie (the sign-in form), so a token from another browser or another session does
  not fit, and nobody without the key can make one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from portal.settings import PortalSettings

FIELD = "csrf_token"


def token(key: bytes, binding: str) -> str:
    return hmac.new(key, f"csrf|{binding}".encode(), hashlib.sha256).hexdigest()


def token_fits(key: bytes, binding: str | None, sent: str | None) -> bool:
    return bool(binding and sent) and hmac.compare_digest(token(key, binding or ""), sent or "")


def same_origin(headers: Mapping[str, str], settings: PortalSettings) -> bool:
    origin = headers.get("origin")
    if origin is not None:
        return origin.strip().lower() == settings.origin
    referer = headers.get("referer", "").strip().lower()
    return referer.startswith(settings.origin + "/")
