"""Languages of the public site: choosing one, the message catalogs, and local formats.

A page's language is, in order: ``?lang=`` in the URL (the visible switch; remembered in the
``lang`` cookie), the cookie, the best match of the browser's ``Accept-Language``, English.
Catalogs live in :mod:`api.site.messages_en` and :mod:`api.site.messages_es` (the same keys;
a test checks). Messages are :meth:`str.format` templates.

>>> choose_language(None, None, "es-MX,es;q=0.9,en;q=0.5")
'es'
>>> Texts("es").duration(3725)
'1 h 2 min'
>>> Texts("en").number(12345.6, 1)
'12,345.6'
>>> Texts("es").number(12345.6, 1)
'12.345,6'
"""

from __future__ import annotations

import importlib
import math
from datetime import date, datetime
from typing import Any

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LANGUAGE_COOKIE",
    "Texts",
    "catalog",
    "choose_language",
    "parse_accept_language",
]

#: The site's languages, each with its name in itself (for the switch).
LANGUAGES = {"en": "English", "es": "Español"}
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "lang"


def catalog(lang: str) -> dict[str, str]:
    """The message catalog of ``lang`` (one of :data:`LANGUAGES`)."""
    if lang not in LANGUAGES:
        raise ValueError(f"language {lang!r} is not one of {', '.join(LANGUAGES)}")
    module = importlib.import_module(f"api.site.messages_{lang}")
    messages: dict[str, str] = module.MESSAGES
    return messages


def parse_accept_language(header: str | None) -> list[str]:
    """The primary language tags of an ``Accept-Language`` header, most wanted first.

    >>> parse_accept_language("fr-CH, fr;q=0.9, es;q=0.8, *;q=0.5")
    ['fr', 'es', '*']
    """
    if not header:
        return []
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower().split("-")[0]
        if not tag:
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if math.isfinite(quality) and quality > 0:
            ranked.append((-quality, position, tag))
    seen: list[str] = []
    for _, _, tag in sorted(ranked):
        if tag not in seen:
            seen.append(tag)
    return seen


def choose_language(query: str | None, cookie: str | None, accept: str | None) -> str:
    """The page's language (see the module notes)."""
    for chosen in (query, cookie):
        if chosen and chosen.lower() in LANGUAGES:
            return chosen.lower()
    for tag in parse_accept_language(accept):
        if tag in LANGUAGES:
            return tag
        if tag == "*":
            break
    return DEFAULT_LANGUAGE


class Texts:
    """The messages and formats of one language: ``t("key", n=3)``, ``t.date(...)`` ..."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.messages = catalog(lang)

    def __call__(self, key: str, /, **values: Any) -> str:
        text = self.messages.get(key)
        if text is None:
            raise KeyError(f"message {key!r} is not in the {self.lang} catalog")
        return text.format(**values) if values else text

    def maybe(self, prefix: str, value: str | None, default: str | None = None) -> str:
        """The message ``prefix.value`` when the catalog has one, else ``default`` or the value."""
        key = f"{prefix}.{value}"
        if key in self.messages:
            return self.messages[key]
        return default if default is not None else str(value)

    def plural(self, key: str, count: int, **values: Any) -> str:
        """``key.one`` for a count of 1, else ``key.other`` (English and Spanish agree)."""
        return self(f"{key}.{'one' if count == 1 else 'other'}", n=self.number(count), **values)

    def number(self, value: float, decimals: int = 0) -> str:
        """``value`` with this language's separators."""
        text = f"{value:,.{decimals}f}"
        if self.lang == "es":
            text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        return text

    def date(self, value: date | datetime | str | None) -> str:
        """``7 December 2026`` / ``7 de diciembre de 2026``."""
        if value is None:
            return "—"
        day = _as_date(value)
        month = self(f"month.{day.month}")
        return self("date_format", day=day.day, month=month, year=day.year)

    def month(self, value: str) -> str:
        """``2026-12`` as ``December 2026`` / ``diciembre de 2026``."""
        year, _, month = value.partition("-")
        return self("month_format", month=self(f"month.{int(month)}"), year=year)

    def month_short(self, value: str) -> str:
        """``2026-12`` as ``Dec 2026`` / ``dic 2026``."""
        year, _, month = value.partition("-")
        return f"{self(f'month_short.{int(month)}')} {year}"

    def time(self, value: datetime | str | None) -> str:
        """``07:13 UTC``."""
        if value is None:
            return "—"
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return f"{moment:%H:%M} UTC"

    def duration(self, seconds: float | None) -> str:
        """``12 min 5 s``, ``1 h 2 min``."""
        if seconds is None:
            return "—"
        total = round(seconds)
        hours, rest = divmod(total, 3600)
        minutes, secs = divmod(rest, 60)
        if hours:
            return f"{hours} h {minutes} min"
        if minutes:
            return f"{minutes} min {secs} s" if secs else f"{minutes} min"
        return f"{secs} s"

    def waited(self, seconds: float) -> str:
        """How long an answer took: ``2 days 3 hours``, ``45 minutes``."""
        minutes = max(0, round(seconds / 60))
        days, rest = divmod(minutes, 24 * 60)
        hours, minutes = divmod(rest, 60)
        if days:
            text = self.plural("days", days)
            return f"{text} {self.plural('hours', hours)}" if hours else text
        if hours:
            text = self.plural("hours", hours)
            return f"{text} {self.plural('minutes', minutes)}" if minutes else text
        return self.plural("minutes", minutes)

    def distance(self, metres: float | None) -> str:
        """``850 m``, ``2.3 km``."""
        if metres is None:
            return "—"
        if metres < 1000:
            return f"{self.number(metres)} m"
        return f"{self.number(metres / 1000, 1)} km"

    def percent(self, share: float | None) -> str:
        """``87 %``."""
        if share is None:
            return "—"
        return f"{self.number(share * 100)} %"


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value[:10])
