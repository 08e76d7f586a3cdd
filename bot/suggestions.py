"""Member-suggested questions: a queue per workspace that admins approve or reject.

The suggestion keeps the validated question (the same shape as a bank file entry), so approving
it later cannot fail on a form problem; it can still be refused by the bank (a slug taken since).
Each decision is claimed with a conditional UPDATE, so two admins clicking at once decide once,
and the author's points go through the ledger's one award function (counted once).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bank.models import Member, Suggestion
from bank.schema import QuestionSpec
from bank.upsert import affected_rows
from scoring.ledger import PointKind, award, points_table

MAX_REASON = 300


class SuggestionError(Exception):
    """A review step that cannot be done; the message is for the user."""


def submit(
    session: Session,
    workspace_id: int,
    channel_id: int,
    member: Member,
    family: str,
    spec: QuestionSpec,
    now: datetime,
) -> Suggestion:
    suggestion = Suggestion(
        workspace_id=workspace_id,
        channel_id=channel_id,
        member_id=member.id,
        family=family,
        slug=spec.slug,
        title=spec.title,
        spec=spec.model_dump(mode="json"),
        status="pending",
        created_at=now,
    )
    session.add(suggestion)
    session.flush()
    return suggestion


def pending(session: Session, workspace_id: int) -> list[Suggestion]:
    return list(
        session.scalars(
            select(Suggestion)
            .where(Suggestion.workspace_id == workspace_id, Suggestion.status == "pending")
            .order_by(Suggestion.created_at, Suggestion.id)
        )
    )


def pending_count(session: Session, workspace_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Suggestion)
            .where(Suggestion.workspace_id == workspace_id, Suggestion.status == "pending")
        )
        or 0
    )


def find(session: Session, workspace_id: int, suggestion_id: int) -> Suggestion:
    suggestion = session.get(Suggestion, suggestion_id)
    if suggestion is None or suggestion.workspace_id != workspace_id:
        raise SuggestionError("that suggestion no longer exists")
    return suggestion


def decide(
    session: Session,
    suggestion: Suggestion,
    reviewer: Member,
    status: str,
    now: datetime,
    reason: str | None = None,
) -> None:
    """Approve or reject once; raises `SuggestionError` if it was decided already."""
    claim = (
        update(Suggestion)
        .where(Suggestion.id == suggestion.id, Suggestion.status == "pending")
        .values(
            status=status,
            reviewed_by_id=reviewer.id,
            reviewed_at=now,
            reason=(reason or "")[:MAX_REASON] or None,
        )
        .execution_options(synchronize_session=False)
    )
    if affected_rows(session, claim) != 1:
        raise SuggestionError(f"suggestion {suggestion.slug} was already reviewed")
    session.refresh(suggestion)


def reward(session: Session, suggestion: Suggestion, now: datetime) -> int:
    """Points for the author of an approved suggestion (`suggestion-approved`, configurable)."""
    award(
        session,
        suggestion.workspace_id,
        suggestion.member_id,
        PointKind.SUGGESTION_APPROVED,
        f"suggestion:{suggestion.id}",
        now,
    )
    return points_table()[PointKind.SUGGESTION_APPROVED]


def spec_of(suggestion: Suggestion) -> QuestionSpec:
    return QuestionSpec.model_validate(suggestion.spec)
