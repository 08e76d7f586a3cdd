"""A workspace's own rubric (validated file) and a configurable points table."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from bank.catalog import ensure_builtin_bank
from bank.db import Database
from bot import migrate
from scoring.ledger import PointKind, points_table
from scoring.models import PointsEntry
from tests.support import Harness
from tests.test_config_cli import dojo

CUSTOM = {
    "name": "short",
    "criteria": [
        {
            "id": "framing",
            "name": "Framing",
            "weight": 50,
            "anchors": ["none", "some", "good", "great"],
            "advice": "Frame the problem first.",
        },
        {
            "id": "depth",
            "name": "Depth",
            "weight": 30,
            "anchors": ["none", "some", "good", "great"],
            "advice": "Go deeper on the model.",
        },
        {
            "id": "talk",
            "name": "Talk",
            "weight": 20,
            "anchors": ["none", "some", "good", "great"],
            "advice": "Say where you are.",
        },
    ],
}


def test_custom_rubric_file_is_validated_and_used(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dojo.db'}"
    env = {"DATABASE_URL": url}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**CUSTOM, "criteria": CUSTOM["criteria"][:2]}))
    refused = dojo("rubric", "set", str(bad), env=env)
    assert refused.returncode == 1 and "weights must sum to 100, not 80" in refused.stderr
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(CUSTOM))
    assert dojo("rubric", "set", str(good), env=env).returncode == 0
    shown = yaml.safe_load(dojo("rubric", "show", env=env).stdout)
    assert [c["id"] for c in shown["criteria"]] == ["framing", "depth", "talk"]

    db = Database(url)
    migrate.upgrade(db)
    with db.unit_of_work() as session:
        ensure_builtin_bank(session)
    h = Harness(db, tmp_path, admins=("alice",))
    h.feed("alice: /mlsd mock recsys @bob", "alice: /mlsd end #1")
    six = h.command("bob", "vote #1 3 3 3 3 3 3 hire")
    assert six is not None and "give 3 scores" in six.message.text
    three = h.command("bob", "vote #1 4 2 3 hire")
    assert three is not None and "weighted 3.20" in three.message.text  # .5*4 + .3*2 + .2*3
    db.dispose()


def test_points_table_can_be_overridden(
    monkeypatch: pytest.MonkeyPatch, bank_db: Database, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOJO_POINTS", '{"daily-answer": 15}')
    points_table.cache_clear()
    try:
        assert points_table()[PointKind.DAILY_ANSWER] == 15
        assert points_table()[PointKind.PEER_VOTE] == 5
        h = Harness(bank_db, tmp_path, admins=("lead",))
        h.feed("lead: /mlsd daily now", "carol #daily: an answer")
        with bank_db.unit_of_work() as session:
            assert list(session.scalars(select(PointsEntry.points))) == [15]
    finally:
        points_table.cache_clear()
