"""Chinese and English, with gettext catalogues managed by Babel.

The English text in the templates and in ``portal/*.py`` (marked ``_()`` / ``N_()``) is the message
id; ``portal/locale/<locale>/LC_MESSAGES/messages.po`` holds the translations. The ``.po`` files are
the source of truth and are compiled to ``.mo`` in memory when the portal starts (Babel's
``read_po`` / ``write_mo``), so no compiled file is kept in the repository or can go stale.
``make messages`` extracts the message ids again (``babel.cfg``) and updates the catalogues.

The language: the ``dayclear_lang`` cookie that the switch in every page's header sets, else
``PortalSettings.default_language`` (zh_CN: the exchange's members and users read Chinese).
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
SOURCE_LOCALE = "en"
#: The languages offered, each named in itself (the switch shows these).
LANGUAGES = {"zh_CN": "中文", "en": "English"}
COOKIE = "dayclear_lang"
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


def catalogue_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalogue of ``locale`` (the source language needs none)."""
    if locale == SOURCE_LOCALE:
        return NullTranslations()
    with catalogue_path(locale).open("rb") as po:
        catalogue = read_po(po, locale=locale, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def choose(cookie: str | None, default: str) -> str:
    return cookie if cookie in LANGUAGES else default
