"""Half-filled multi-page forms (Discord modals hold five inputs): kept in the database, so a
restart or another shard can take the next page, and dropped after `DRAFT_LIFETIME`."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bank.db import Database
from bank.models import FormDraft
from bank.upsert import insert_ignore
from bot.port import Choice, Form, FormInput

DRAFT_LIFETIME = timedelta(minutes=15)  # an interaction token's lifetime: past it, start again


def save(
    db: Database,
    platform: str,
    user_id: str,
    key: str,
    form: Form,
    fields: dict[str, str],
    now: datetime,
) -> None:
    payload = {"form": asdict(form), "fields": fields}
    expires = now + DRAFT_LIFETIME
    with db.unit_of_work() as session:
        values: dict[str, Any] = {
            "platform": platform,
            "user_external_id": user_id,
            "form_key": key[:200],
            "payload": payload,
            "expires_at": expires,
        }
        if not insert_ignore(
            session, FormDraft, values, ("platform", "user_external_id", "form_key")
        ):
            row = _row(session, platform, user_id, key)
            if row is not None:
                row.payload, row.expires_at = payload, expires


def load(
    db: Database, platform: str, user_id: str, key: str, now: datetime
) -> tuple[Form, dict[str, str]] | None:
    """The draft, or None when there is none or it expired."""
    with db.unit_of_work() as session:
        session.execute(delete(FormDraft).where(FormDraft.expires_at < now))
        row = _row(session, platform, user_id, key)
        if row is None:
            return None
        return _form(row.payload["form"]), dict(row.payload["fields"])


def drop(db: Database, platform: str, user_id: str, key: str) -> None:
    with db.unit_of_work() as session:
        row = _row(session, platform, user_id, key)
        if row is not None:
            session.delete(row)


def _row(session: Session, platform: str, user_id: str, key: str) -> FormDraft | None:
    return session.scalars(
        select(FormDraft).where(
            FormDraft.platform == platform,
            FormDraft.user_external_id == user_id,
            FormDraft.form_key == key[:200],
        )
    ).first()


def _form(data: dict[str, Any]) -> Form:
    inputs = tuple(
        FormInput(**{**i, "choices": tuple(Choice(**c) for c in i.get("choices", []))})
        for i in data["inputs"]
    )
    return Form(**{**data, "inputs": inputs})
