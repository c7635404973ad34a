"""What every route of the portal shares: who is asking, the language and its templates, the CSRF
check of a form, and the access log."""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from portal import csrf, i18n
from portal import days as d
from portal import formatting as fmt
from portal.i18n import N_
from portal.settings import PortalSettings
from portal.store import Principal, Store

HERE = Path(__file__).resolve().parent
COOKIE = "dayclear_session"
PRE_SESSION_COOKIE = "dayclear_pre"  # binds the sign-in form's CSRF token to this browser


def _templates(locale: str) -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(i18n.translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        amount=fmt.amount,
        exact=fmt.exact,
        local_time=fmt.local_time,
        utc_time=fmt.utc_time,
    )
    return Jinja2Templates(env=env)


@dataclass
class Portal:
    settings: PortalSettings
    store: Store
    sources: d.Sources

    def __post_init__(self) -> None:
        self.templates = {locale: _templates(locale) for locale in i18n.LANGUAGES}
        self.csrf_key = self.store.key("csrf")

    # --- who is asking ---------------------------------------------------------------------------
    def principal(self, request: Request) -> Principal | None:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return self.store.resolve(header[7:].strip(), "token")
        return self.store.resolve(request.cookies.get(COOKIE), "session")

    def client(self, request: Request) -> str:
        """The client's address (``portal.guard`` has already replaced a trusted proxy's by the
        address it forwarded for)."""
        return request.client.host if request.client else ""

    # --- language and pages ---------------------------------------------------------------------
    def locale(self, request: Request) -> str:
        return i18n.choose(request.cookies.get(i18n.COOKIE), self.settings.default_language)

    def translator(self, request: Request) -> Callable[[str], str]:
        """``gettext`` of the request's language, for text made outside the templates (charts)."""
        return i18n.translations(self.locale(request)).gettext

    def csrf_binding(self, request: Request) -> str | None:
        """What the page's CSRF token is bound to: the session, else the pre-sign-in cookie."""
        session = request.cookies.get(COOKIE)
        if session and self.store.resolve(session, "session") is not None:
            return "session|" + hashlib.sha256(session.encode()).hexdigest()
        pre = request.cookies.get(PRE_SESSION_COOKIE)
        return "pre|" + pre if pre else None

    def render(
        self,
        request: Request,
        name: str,
        context: dict[str, Any],
        status_code: int = 200,
        binding: str | None = None,
    ) -> Response:
        locale = self.locale(request)
        binding = binding or self.csrf_binding(request)
        return self.templates[locale].TemplateResponse(
            request,
            name,
            {
                "who": None,
                "lang": locale,
                "html_lang": i18n.HTML_LANG[locale],
                "languages": i18n.LANGUAGES,
                "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
                "csrf_field": csrf.FIELD,
                "csrf": csrf.token(self.csrf_key, binding) if binding else "",
                **context,
            },
            status_code=status_code,
        )

    def redirect(self, path: str) -> RedirectResponse:
        """A redirect to one of the portal's own paths, built from the configured base URL."""
        return RedirectResponse(self.settings.url(path), status_code=303)

    # --- forms ---------------------------------------------------------------------------------
    async def check_form(self, request: Request, sign_in: bool = False) -> None:
        """A state-changing form: same origin and the page's CSRF token, or 403 (logged). The
        sign-in form's token is bound to the pre-sign-in cookie, every other form's to the session."""
        if not csrf.same_origin(request.headers, self.settings):
            raise HTTPException(403, N_("Cross-site request refused."))
        sent = (await request.form()).get(csrf.FIELD)
        pre = request.cookies.get(PRE_SESSION_COOKIE)
        binding = ("pre|" + pre if pre else None) if sign_in else self.csrf_binding(request)
        if not csrf.token_fits(self.csrf_key, binding, sent if isinstance(sent, str) else None):
            raise HTTPException(403, N_("This form has expired. Reload the page and try again."))

    # --- the access log -------------------------------------------------------------------------
    def record(
        self, request: Request, who: Principal | None, outcome: str, detail: str = ""
    ) -> None:
        """One access-log row, with the member and trading day the request named (if any)."""
        member = request.path_params.get("member_id")
        day = request.path_params.get("day")
        self.store.log(
            who,
            self.client(request),
            request.method,
            str(request.url.path),
            outcome,
            detail,
            subject_member=member if isinstance(member, str) and d.MEMBER.match(member) else None,
            trading_day=day if isinstance(day, str) and d.DAY.match(day) else None,
        )


def portal_of(request: Request) -> Portal:
    found: Portal = request.app.state.portal
    return found


def signed_in(request: Request) -> Principal:
    who = portal_of(request).principal(request)
    if who is None:
        raise HTTPException(401, N_("Sign in or send a valid API token."))
    request.state.who = who
    return who


def staff(who: Annotated[Principal, Depends(signed_in)]) -> Principal:
    if not who.is_staff:
        raise HTTPException(403, N_("Staff only."))
    return who


def member_access(member_id: str, who: Annotated[Principal, Depends(signed_in)]) -> Principal:
    """A member reads only its own member id; staff may read any (the exchange's own view)."""
    if not who.is_staff and who.member_id != member_id:
        raise HTTPException(403, N_("You may not read another member's data."))
    return who


#: The principals routes ask for: anyone signed in, staff, and a reader of the path's member.
Signed = Annotated[Principal, Depends(signed_in)]
Staff = Annotated[Principal, Depends(staff)]
MemberReader = Annotated[Principal, Depends(member_access)]
