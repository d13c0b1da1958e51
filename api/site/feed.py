"""The Atom 1.0 feed (RFC 4287) of published flight records, built with ElementTree.

Each published version of a record is one entry: ``id`` a tag URI (RFC 4151) naming the
flight and version, ``updated`` when it was published, a link to the flight's page, a
title and a one-line summary in the page's language.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

if TYPE_CHECKING:
    from api.site.i18n import Texts
    from api.storage.models import Disclosure

__all__ = ["ATOM", "TAG_DATE", "atom_feed"]

ATOM = "http://www.w3.org/2005/Atom"
#: The date in the feed's tag URIs (the tag scheme needs one; it never changes).
TAG_DATE = "2026"


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _text(parent: ET.Element, name: str, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{name}", attrs)
    element.text = text
    return element


def atom_feed(rows: Sequence[Disclosure], t: Texts, *, base: str, host: str, agency: str) -> bytes:
    """The feed document of ``rows`` (newest first) as UTF-8 XML."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": t.lang})
    _text(feed, "id", f"tag:{host},{TAG_DATE}:skyledger/disclosures")
    _text(feed, "title", t("feed_title", agency=agency))
    _text(feed, "subtitle", t("feed_subtitle"))
    newest = max((r.published_at for r in rows), default=datetime(2026, 1, 1, tzinfo=UTC))
    _text(feed, "updated", _time(newest))
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "self", "href": f"{base}/feed.atom"})
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "alternate", "href": f"{base}/"})
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", agency)
    for row in rows:
        record = row.record
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _text(entry, "id", f"tag:{host},{TAG_DATE}:skyledger/flight/{row.flight_id}/v{row.version}")
        title = t("feed_entry_title", n=row.flight_id, purpose=record.get("purpose") or "—")
        _text(entry, "title", title)
        _text(entry, "updated", _time(row.published_at))
        _text(entry, "published", _time(row.published_at))
        ET.SubElement(
            entry,
            f"{{{ATOM}}}link",
            {"rel": "alternate", "type": "text/html", "href": f"{base}/flights/{row.flight_id}"},
        )
        asset = (record.get("asset") or {}).get("name") or t("asset_none")
        summary = t(
            "feed_entry_summary",
            date=t.date(record.get("date")),
            time=t.time(record.get("start")),
            duration=t.duration(record.get("duration_s")),
            asset=asset,
            verdict=t.maybe("verdict", record.get("verdict") or "none"),
            version=row.version,
        )
        _text(entry, "summary", summary, type="text")
    text = ET.tostring(feed, encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + text + "\n").encode("utf-8")
