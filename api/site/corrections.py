"""The corrections of a flight's record as its page shows them (:mod:`api.site.pages`).

Not a page module: :func:`page_corrections` turns the log's ``correction`` entries
(:func:`api.work.correcting.flight_corrections`) into the lines of the page's
"Corrections" section, in the page's language: when, why, which fields changed (from what
to what, as the published versions say) and which log entry it corrects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from api.site.i18n import Texts

__all__ = ["page_corrections"]


def _field(t: Texts, name: str) -> str:
    key = f"field_{name}"
    return t(key) if key in t.messages else name


def page_corrections(t: Texts, session: Session, flight_id: int) -> list[dict[str, Any]]:
    """Each correction of flight ``flight_id``'s record, oldest first: ``index``,
    ``corrects``, ``version``, ``date`` (text), ``reason`` and ``changes`` (lines of text)."""
    from api.work.correcting import flight_corrections

    shown = []
    for c in flight_corrections(session, flight_id):
        changes = []
        for change in c.changes:
            if change.old is None or change.new is None:
                changes.append(t("correction_changed", field=_field(t, change.field)))
            else:
                changes.append(
                    t(
                        "correction_change",
                        field=_field(t, change.field),
                        old=str(change.old),
                        new=str(change.new),
                    )
                )
        shown.append(
            {
                "index": c.index,
                "corrects": c.corrects,
                "version": c.version,
                "date": t.date(c.time),
                "reason": c.reason,
                "changes": changes,
            }
        )
    return shown
