"""A workspace's view of the question bank: the shared shipped bank plus its own layer.

The shipped bank (`questions.workspace_id IS NULL`) belongs to the operator and is read-only from
chat. A workspace adds questions of its own (visible to it alone) and retires questions for itself
(`workspace_retirements`). Every chat read of the bank — selection, stats, list, show, export,
the daily rotation — filters through `visible` / `readable` here, so the rule lives in one place.
`workspace_id=None` is the operator's view: the shared bank alone.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, or_

from bank.models import Question, WorkspaceRetirement
from bank.schema import Status


def owned_by(workspace_id: int | None) -> ColumnElement[bool]:
    """Questions of the shared bank, plus (for a workspace) the ones it added itself."""
    if workspace_id is None:
        return Question.workspace_id.is_(None)
    return or_(Question.workspace_id.is_(None), Question.workspace_id == workspace_id)


def retired_here(workspace_id: int | None) -> ColumnElement[bool]:
    """True for questions retired in this view: by the operator, or by this workspace."""
    operator = Question.status == Status.RETIRED.value
    if workspace_id is None:
        return operator
    return or_(
        operator,
        exists().where(
            WorkspaceRetirement.question_id == Question.id,
            WorkspaceRetirement.workspace_id == workspace_id,
        ),
    )


def readable(workspace_id: int | None) -> ColumnElement[bool]:
    """What `bank show` and `bank export` may reach: owned questions, active or retired."""
    return owned_by(workspace_id)


def visible(workspace_id: int | None) -> ColumnElement[bool]:
    """What may be drawn, listed and counted as active in this view."""
    return and_(owned_by(workspace_id), ~retired_here(workspace_id))
