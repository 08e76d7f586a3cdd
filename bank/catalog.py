"""Bank services: import (idempotent upsert by slug), export, listing, retiring, statistics.

Every function takes the caller's session, so a whole import is one transaction: a file that
fails validation or a near-duplicate question leaves the bank exactly as it was.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Select, func, insert, select, union_all
from sqlalchemy.orm import Session

from bank.files import BUILTIN_DIR, BankFileError, bank_paths, load_bank_file
from bank.models import Channel, DailyPrompt, Family, Interview, Question, WorkspaceRetirement
from bank.schema import BankFile, QuestionSpec, Status
from bank.similarity import NearDuplicates, Sketches, guide_text
from bank.upsert import insert_ignore
from bank.view import owned_by, readable, retired_here, visible


class BankError(Exception):
    """A bank operation that cannot go ahead; the message is fit to show a user."""


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.rejected)} rejected"
        )


SPEC_FIELDS = tuple(name for name in QuestionSpec.model_fields if name != "slug")


def spec_fields(spec: QuestionSpec) -> dict[str, object]:
    """The column values a question spec stores: every field but the slug, as JSON-ready data
    (anchors keyed "1"-"4", as in the files)."""
    return spec.model_dump(mode="json", exclude={"slug"}, by_alias=True)


def question_spec(question: Question) -> QuestionSpec:
    """The stored question as a spec; parts it lacks (v1 or v2 ones) are left out, not nulled."""
    values = {name: getattr(question, name) for name in SPEC_FIELDS}
    return QuestionSpec.model_validate(
        {"slug": question.slug, **{k: v for k, v in values.items() if v is not None}}
    )


def _compared(prompt: str, guide: Mapping[str, Iterable[str]]) -> dict[str, str]:
    return {"prompt": prompt, "guide": guide_text(guide)}


@dataclass(frozen=True)
class _Candidate:
    """A question of the files that is new or changed: it still has to pass the near-duplicate
    check before it is written."""

    spec: QuestionSpec
    family_id: int
    values: dict[str, object]
    question: Question | None  # the stored row to update; None for a new question


def _same(question: Question, family_id: int, values: Mapping[str, object]) -> bool:
    return question.family_id == family_id and all(
        getattr(question, key) == value for key, value in values.items()
    )


def _index_of_known(
    session: Session, existing: Mapping[str, Question], workspace_id: int | None
) -> NearDuplicates:
    """The near-duplicate index over what the importing workspace sees, never another's."""
    seen = set(session.scalars(select(Question.id).where(owned_by(workspace_id))))
    known = [q for q in existing.values() if q.id in seen]
    index = NearDuplicates()
    texts = [_compared(q.prompt, q.guide) for q in known]
    for question, sketches in zip(known, index.sketches_of(texts), strict=True):
        index.add(question.slug, sketches)
    return index


def import_banks(
    session: Session, banks: Sequence[BankFile], workspace_id: int | None = None
) -> ImportReport:
    """Upsert every question by slug. Near-duplicates of another slug are rejected, not added.

    `workspace_id=None` is the operator changing the shared bank; a workspace id adds to (or
    updates) that workspace's own layer only: a slug owned by the shared bank or by another
    workspace is rejected (slugs are unique across the deployment), and shared families keep
    their names.

    Two passes, so the costly parts run once for all questions: the first sorts out unchanged
    questions and foreign slugs, the second sketches every new or changed question in one
    batch and checks them in file order (a later question is compared with the earlier ones it
    follows). New questions are written with one multi-row INSERT. An import where nothing
    changed builds no index at all.
    """
    report = ImportReport()
    slugs = Counter(q.slug for bank in banks for q in bank.questions)
    repeated = sorted(slug for slug, count in slugs.items() if count > 1)
    if repeated:
        raise BankError(f"slug used more than once across the files: {', '.join(repeated)}")
    families = {f.slug: f for f in session.scalars(select(Family))}
    existing = {q.slug: q for q in session.scalars(select(Question))}
    steps: list[_Candidate | tuple[list[str], str]] = []  # in file order, for the report
    for bank in banks:
        family = families.get(bank.family)
        if family is None:
            family = Family(slug=bank.family, name=bank.name, aliases=list(bank.aliases))
            session.add(family)
            session.flush()
            families[bank.family] = family
        elif workspace_id is None:
            family.name, family.aliases = bank.name, list(bank.aliases)
        for spec in bank.questions:
            question = existing.get(spec.slug)
            if question is not None and question.workspace_id != workspace_id:
                owner = "the shared bank" if question.workspace_id is None else "another workspace"
                taken = f"{spec.slug}: that slug is already used by {owner}"
                steps.append((report.rejected, taken))
                continue
            values = spec_fields(spec)
            if question is not None and _same(question, family.id, values):
                steps.append((report.unchanged, spec.slug))  # checked when it was first imported
                continue
            steps.append(_Candidate(spec, family.id, values, question))
    candidates = [step for step in steps if isinstance(step, _Candidate)]
    index = NearDuplicates()
    sketched: Iterator[Sketches] = iter(())
    if candidates:
        index = _index_of_known(session, existing, workspace_id)
        texts = [_compared(c.spec.prompt, c.values["guide"]) for c in candidates]  # type: ignore[arg-type]
        sketched = iter(index.sketches_of(texts))
    rows: list[dict[str, object]] = []
    for step in steps:
        if not isinstance(step, _Candidate):
            outcome, text = step
            outcome.append(text)
            continue
        spec, compared = step.spec, next(sketched)
        twin = index.match(spec.slug, compared)
        if twin is not None:
            report.rejected.append(
                f"{spec.slug}: nearly the same as existing {twin.key!r} "
                f"({twin.part}, {twin.similarity:.0%} alike)"
            )
            continue
        index.add(spec.slug, compared)
        if step.question is None:
            rows.append(
                {
                    "slug": spec.slug,
                    "family_id": step.family_id,
                    "workspace_id": workspace_id,
                    **step.values,
                }
            )
            report.added.append(spec.slug)
        else:
            step.question.family_id = step.family_id
            for key, value in step.values.items():
                setattr(step.question, key, value)
            report.updated.append(spec.slug)
    if rows:
        session.execute(insert(Question), rows)
    session.flush()
    return report


def load_files(path: Path) -> list[BankFile]:
    """Parse every bank file under `path`; all files are checked before any error is raised."""
    if not path.exists():
        raise BankError(f"{path}: no such file or directory")
    paths = bank_paths(path)
    if not paths:
        raise BankError(f"{path}: no .yaml bank files found")
    banks, problems = [], []
    first_file: dict[str, str] = {}
    for bank_path in paths:
        try:
            bank = load_bank_file(bank_path).bank
        except BankFileError as exc:
            problems.extend(exc.problems)
            continue
        banks.append(bank)
        for question in bank.questions:
            other = first_file.setdefault(question.slug, bank_path.name)
            if other != bank_path.name:
                problems.append(
                    f"{bank_path.name}: question {question.slug!r}, field slug: "
                    f"duplicate slug, already used in {other}"
                )
    if problems:
        raise BankError("\n".join(problems))
    return banks


def ensure_builtin_bank(session: Session) -> ImportReport | None:
    """Load the shipped bank into an empty database; a bank that has questions is left alone."""
    if session.scalar(select(func.count()).where(Question.workspace_id.is_(None))):
        return None
    return import_banks(session, load_files(BUILTIN_DIR))


def export_banks(session: Session, workspace_id: int | None = None) -> list[BankFile]:
    """The operator's shared bank (None), or everything a workspace sees: the shared questions
    it has not retired plus its own."""
    wanted = readable(None) if workspace_id is None else visible(workspace_id)
    banks = []
    for family in session.scalars(select(Family).order_by(Family.slug)):
        questions = session.scalars(
            select(Question).where(Question.family_id == family.id, wanted).order_by(Question.slug)
        ).all()
        if questions:
            specs = [question_spec(q) for q in questions]
            complete = all(spec.is_complete and spec.difficulty is None for spec in specs)
            banks.append(
                BankFile(
                    version=2 if complete else 1,
                    family=family.slug,
                    name=family.name,
                    aliases=list(family.aliases),
                    questions=specs,
                )
            )
    return banks


def get_question(session: Session, slug: str, workspace_id: int | None = None) -> Question:
    """A question of this view by slug (retired ones too); raises `BankError` otherwise."""
    question = session.scalar(
        select(Question).where(Question.slug == slug.strip().lower(), readable(workspace_id))
    )
    if question is None:
        raise BankError(f"no question with slug {slug!r} (try `bank list`)")
    return question


def list_questions(
    session: Session,
    family: str | None = None,
    level: str | None = None,
    workspace_id: int | None = None,
) -> list[tuple[Question, Family]]:
    query = (
        select(Question, Family)
        .join(Family, Question.family_id == Family.id)
        .where(visible(workspace_id))
        .order_by(Family.slug, Question.level, Question.slug)
    )
    if family:
        query = query.where(Family.slug == family)
    if level:
        query = query.where(Question.level == level.upper())
    return [(q, f) for q, f in session.execute(query)]


def retire_question(session: Session, slug: str, workspace_id: int | None = None) -> Question:
    """The operator retires for everyone (None); a workspace retires for itself alone."""
    question = get_question(session, slug, workspace_id)
    if workspace_id is None:
        question.status = Status.RETIRED.value
    else:
        insert_ignore(
            session,
            WorkspaceRetirement,
            {"workspace_id": workspace_id, "question_id": question.id},
            ("workspace_id", "question_id"),
        )
    return question


@dataclass(frozen=True)
class BankStats:
    by_family: dict[str, int]
    by_level: dict[str, int]
    active: int
    retired: int
    most_drawn: list[tuple[str, int]]
    # active questions carrying every format-v2 part, and the slugs of those that do not
    complete: int = 0
    incomplete: list[str] = field(default_factory=list)


def _draws(workspace_id: int) -> Select[tuple[int, int]]:
    """(question id, times drawn) from this workspace's own daily prompts and mocks."""
    drawn = union_all(
        select(DailyPrompt.question_id.label("qid"))
        .join(Channel, Channel.id == DailyPrompt.channel_id)
        .where(Channel.workspace_id == workspace_id),
        select(Interview.question_id.label("qid")).where(Interview.workspace_id == workspace_id),
    ).subquery()
    return select(drawn.c.qid, func.count().label("n")).group_by(drawn.c.qid)


def bank_stats(session: Session, workspace_id: int | None = None) -> BankStats:
    """Counts over this view; "most drawn" counts the workspace's own draws (or, for the
    operator, every draw), so one workspace's usage never shows in another's."""
    active = visible(workspace_id)
    by_family = dict(
        session.execute(
            select(Family.slug, func.count(Question.id))
            .join(Question, Question.family_id == Family.id)
            .where(active)
            .group_by(Family.slug)
            .order_by(Family.slug)
        ).all()
    )
    by_level = dict(
        session.execute(
            select(Question.level, func.count())
            .where(active)
            .group_by(Question.level)
            .order_by(Question.level)
        ).all()
    )
    retired = (
        session.scalar(
            select(func.count()).where(owned_by(workspace_id), retired_here(workspace_id))
        )
        or 0
    )
    if workspace_id is None:
        counted = select(Question.slug, Question.times_drawn).where(Question.times_drawn > 0)
        order = (Question.times_drawn.desc(), Question.slug)
    else:
        draws = _draws(workspace_id).subquery()
        counted = select(Question.slug, draws.c.n).join(draws, draws.c.qid == Question.id)
        order = (draws.c.n.desc(), Question.slug)
    most_drawn = [(slug, int(n)) for slug, n in session.execute(counted.order_by(*order).limit(10))]
    count = sum(by_family.values())
    incomplete = sorted(
        q.slug
        for q in session.scalars(select(Question).where(active))
        if not question_spec(q).is_complete
    )
    return BankStats(
        by_family, by_level, count, retired, most_drawn, count - len(incomplete), incomplete
    )
