"""``skyledger questions list|review|answer``: the staff's side of the questions, in a shell."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from questionkit import disclosed_flight
from sqlalchemy import func, select

from api.app import create_app
from api.cli import main
from api.settings import Settings
from api.storage.models import LedgerEntry, LedgerOutbox

QUESTION = "Why did the drone fly so low? Call me on 555 123 4567."


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data folder with users, a disclosed flight and a pending question (SQLite)."""
    from api.auth import add_user

    data = tmp_path / "data"
    with TestClient(create_app(Settings(data_dir=data))) as client:
        app: Any = client.app
        with app.state.db.session() as session:
            for name, role in (("crew-1", "crew"), ("regulator-1", "regulator")):
                add_user(session, name, role)
        flight_id = disclosed_flight(app)
        asked = client.post(f"/api/public/flights/{flight_id}/questions", json={"text": QUESTION})
        assert asked.json() == {"id": 1, "state": "pending"}
    return data


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def _log(data: Path) -> tuple[int, int]:
    from api.storage.db import Database

    db = Database(Settings(data_dir=data).url)
    try:
        with db.session() as session:
            entries = session.scalar(select(func.count()).select_from(LedgerEntry))
            waiting = session.scalar(select(func.count()).select_from(LedgerOutbox))
            return int(entries or 0), int(waiting or 0)
    finally:
        db.close()


def test_review_and_answer_from_the_shell(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    where = ("--data-dir", str(data_dir))
    status, out, _ = _run(capsys, "questions", "list", "--state", "pending", *where)
    assert status == 0
    assert "Call me on 555 123 4567" in out  # the staff see it as asked
    before, _ = _log(data_dir)

    status, out, err = _run(
        capsys, "questions", "review", "1", "--publish", "--as", "crew-1", "--note", "ok", *where
    )
    assert (status, out, err) == (0, "question 1 about flight 1: published\n", "")
    assert _log(data_dir) == (before + 1, 0)  # appended with the data folder's key

    monkeypatch.setattr("sys.stdin", io.StringIO("We fly at 60 m over roofs at most.\n"))
    status, out, _ = _run(
        capsys, "questions", "answer", "1", "--file", "-", "--as", "crew-1", *where
    )
    assert (status, out) == (0, "question 1 about flight 1: answered\n")
    assert _log(data_dir) == (before + 2, 0)

    status, out, _ = _run(capsys, "questions", "list", "--json", *where)
    (row,) = json.loads(out)
    assert row["state"] == "published" and row["answer"] == "We fly at 60 m over roofs at most."
    assert row["text_public"] == "Why did the drone fly so low? Call me on [phone removed]."
    status, out, _ = _run(capsys, "questions", "list", "--unanswered", *where)
    assert (status, out) == (0, "no questions\n")


def test_refusals_are_one_line(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    where = ("--data-dir", str(data_dir))

    def refused(*argv: str) -> str:
        status, out, err = _run(capsys, *argv, *where)
        assert status == 2 and out == "" and err.count("\n") == 1, (status, out, err)
        return err.strip()

    assert refused("questions", "answer", "1", "--text", "60 m", "--as", "crew-1") == (
        "skyledger: error: question 1 is pending, not published: review and publish it first"
    )
    assert "is a regulator" in refused(
        "questions", "review", "1", "--reject", "--as", "regulator-1"
    )
    assert "no active user 'nobody'" in refused(
        "questions", "review", "1", "--reject", "--as", "nobody"
    )
    assert "question 9 does not exist" in refused(
        "questions", "review", "9", "--reject", "--as", "crew-1"
    )
    assert _run(capsys, "questions", "review", "1", "--reject", "--as", "crew-1", *where)[0] == 0
    assert "rejected already" in refused("questions", "review", "1", "--publish", "--as", "crew-1")
    status, _, err = _run(capsys, "questions", "review", "x", "--publish", "--as", "crew-1")
    assert status == 2 and "not a question id" in err
    status, _, err = _run(
        capsys, "questions", "list", "--data-dir", str(data_dir.parent / "nowhere")
    )
    assert status == 2 and "no database at" in err
