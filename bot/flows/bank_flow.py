"""`/mlsd bank …` in chat: browse, show, add, import, export, retire, stats."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.orm import Session

from bank import catalog
from bank.files import BankFileError, dump_bank_file, parse_bank_text
from bank.models import Member, Question
from bank.schema import BankFile, QuestionSpec
from bank.selection import UnknownTopic, family_infos, match_families
from bot import mocks, render
from bot.flows.context import Context
from bot.grammar import BankCommand
from bot.port import Actor, Attachment, Choice, Form, FormInput, Message, Place, Reply, Tone

ADD = "bank:add"
IMPORT = "bank:import"
ADMIN_VERBS = ("add", "import", "retire")
LINES_HINT = "one per line"


def add_form() -> Form:
    """The format-v2 essentials (anchors, red flags) with the core fields; level bars, the kit,
    the reference design and annotated follow-ups come by `bank import`, and until then the
    question is stored marked incomplete."""

    def lines(name: str, label: str) -> FormInput:
        return FormInput(name, label, multiline=True, max_length=3000, hint=LINES_HINT)

    return Form(
        ADD,
        "Add a question",
        (
            FormInput("family", "Family (e.g. recommendation)", max_length=80),
            FormInput("slug", "Slug (lowercase-with-hyphens)", max_length=80),
            FormInput("title", "Title", max_length=120),
            FormInput(
                "level", "Level", choices=tuple(Choice(v, v) for v in ("L3", "L4", "L5", "L6"))
            ),
            FormInput("tags", "Tags (comma-separated)", max_length=300),
            FormInput(
                "prompt", "Prompt, as the interviewer opens it", multiline=True, max_length=3000
            ),
            FormInput("baseline", "Baseline a candidate should name", max_length=600),
            lines("clarify", "Clarify guide"),
            lines("architecture", "Architecture guide"),
            lines("deep_dive", "Deep-dive guide"),
            lines("trade_offs", "Trade-offs (at least three)"),
            lines("follow_ups", "Follow-up questions"),
            FormInput(
                "anchors",
                "Anchors: `criterion_id: 1 | 2 | 3 | 4`, one line per criterion",
                multiline=True,
                max_length=3000,
                hint="what a 1, 2, 3 and 4 look like on this problem, split by |",
            ),
            FormInput(
                "red_flags",
                "Red flags (2-4)",
                multiline=True,
                max_length=3000,
                required=False,
                hint=LINES_HINT,
            ),
        ),
        submit_label="Add",
    )


def import_form() -> Form:
    return Form(
        IMPORT,
        "Import bank YAML",
        (
            FormInput(
                "yaml", "A bank file (family, name, questions: …)", multiline=True, max_length=3000
            ),
        ),
        submit_label="Import",
    )


def handle(ctx: Context, request: BankCommand, actor: Actor, place: Place) -> Reply:
    """Every verb reads or changes the workspace's view of the bank (bank/view.py): the shared
    shipped bank stays read-only from chat; `dojo bank …` on the server changes it."""
    with ctx.seen(actor, place) as (session, seen):
        if request.verb in ADMIN_VERBS and not seen.is_admin:
            return Reply.error(f"only workspace admins can `bank {request.verb}`")
        here = seen.workspace.id
        if request.verb == "list":
            return _list(session, request.argument, here)
        if request.verb == "show":
            question = catalog.get_question(session, request.argument or "", here)
            if _is_candidate_of(session, seen.member, question):
                return Reply(_prompt_only(question))
            return Reply(render.guide(question))
        if request.verb == "retire":
            question = catalog.retire_question(session, request.argument or "", here)
            return Reply(
                Message(
                    f"Retired {question.slug} in this workspace: it will not be drawn here again.",
                    tone=Tone.SUCCESS,
                )
            )
        if request.verb == "stats":
            stats = catalog.bank_stats(session, here)
            fields = tuple((family, str(n)) for family, n in stats.by_family.items())
            levels = ", ".join(f"{lvl} {n}" for lvl, n in stats.by_level.items())
            drawn = ", ".join(f"{s} ({n})" for s, n in stats.most_drawn[:5]) or "none yet"
            incomplete = ", ".join(stats.incomplete[:20]) + (
                f" and {len(stats.incomplete) - 20} more" if len(stats.incomplete) > 20 else ""
            )
            fields += (
                (
                    "Complete (format v2)",
                    f"{stats.complete} of {stats.active}"
                    + (f"; incomplete: {incomplete}" if stats.incomplete else ""),
                ),
            )
            return Reply(
                Message(
                    f"{stats.active} active questions in {len(stats.by_family)} families, "
                    f"{stats.retired} retired. By level: {levels}. Most drawn: {drawn}.",
                    title="Question bank",
                    fields=fields,
                )
            )
        if request.verb == "export":
            # guides stay with interviewers: a candidate's export leaves out their mock's question
            running = mocks.running_mock_of(session, seen.member)
            held = session.get(Question, running.question_id) if running is not None else None
            banks = [
                bank.model_copy(
                    update={"questions": [q for q in bank.questions if q.slug != held.slug]}
                )
                if held is not None
                else bank
                for bank in catalog.export_banks(session, here)
            ]
            files = tuple(
                Attachment(f"{bank.family}.yaml", dump_bank_file(bank))
                for bank in banks
                if bank.questions
            )
            note = (
                f" {held.slug} is left out while you are the candidate of a mock on it."
                if held is not None
                else ""
            )
            return Reply(Message(f"{len(files)} bank files attached.{note}", files=files))
    if request.verb == "add":
        return Reply(Message("Fill in the question.", form=add_form()))
    return Reply(Message("Paste a bank file.", form=import_form()))


def _is_candidate_of(session: Session, member: Member, question: Question) -> bool:
    """True while `member` is the candidate of a running mock on `question`."""
    running = mocks.running_mock_of(session, member)
    return running is not None and running.question_id == question.id


def _prompt_only(question: Question) -> Message:
    return Message(
        f"{question.prompt}\n\n(You are the candidate of a running mock on this question: "
        "the interviewer's guide stays with your interviewers until it ends.)",
        title=question.title,
    )


def _list(session: Session, topic: str | None, workspace_id: int) -> Reply:
    families: list[str | None] = [None]
    if topic:
        infos = family_infos(session, workspace_id)
        matched = match_families(topic, infos)
        if not matched:
            raise UnknownTopic(topic, [f.slug for f in infos])
        families = list(matched)
    rows = [
        row
        for family in families
        for row in catalog.list_questions(session, family, workspace_id=workspace_id)
    ]
    lines = [f"`{q.slug}` · {q.level} · {q.title}" for q, _ in rows[:40]]
    more = f"\n… and {len(rows) - 40} more" if len(rows) > 40 else ""
    return Reply(Message("\n".join(lines) + more, title=f"Questions ({len(rows)})"))


class FormProblem(ValueError):
    """A submitted question form that does not make a valid question; the text is for the user."""


def spec_from_fields(fields: Mapping[str, str]) -> tuple[str, QuestionSpec]:
    """(family slug, question) from the add-question form. Raises `FormProblem`."""

    def split(name: str) -> list[str]:
        return [line.strip(" •-\t") for line in fields.get(name, "").splitlines() if line.strip()]

    rows = dict(line.split(":", 1) for line in split("anchors") if ":" in line)
    anchors = {
        k.strip(): dict(enumerate((p.strip() for p in v.split("|")), start=1))
        for k, v in rows.items()
    }
    data: dict[str, object] = {
        "slug": fields.get("slug", "").strip(),
        "title": fields.get("title", ""),
        "prompt": fields.get("prompt", ""),
        "level": fields.get("level", ""),
        "baseline": fields.get("baseline", ""),
        "tags": [t.strip().lower() for t in fields.get("tags", "").split(",") if t.strip()],
        "guide": {k: split(k) for k in ("clarify", "architecture", "deep_dive", "trade_offs")},
        "follow_ups": split("follow_ups"),
        "anchors": anchors or None,
        "red_flags": split("red_flags") or None,
    }
    try:
        spec = QuestionSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise FormProblem(f"{where}: {first['msg']} ({exc.error_count()} problem(s))") from None
    return fields.get("family", "").strip().lower(), spec


def import_spec(
    session: Session, family: str, spec: QuestionSpec, workspace_id: int
) -> catalog.ImportReport:
    """Put one question into the workspace's layer of the bank under `family`. Raises
    `FormProblem` for a family unknown there."""
    names = {f.slug: f for f in family_infos(session, workspace_id)}
    if family not in names:
        raise FormProblem(f"unknown family {family!r}; families: {', '.join(sorted(names))}")
    info = names[family]
    bank = BankFile(family=info.slug, name=info.name, aliases=list(info.aliases), questions=[spec])
    return catalog.import_banks(session, [bank], workspace_id)


def submit_add(ctx: Context, fields: Mapping[str, str], actor: Actor, place: Place) -> Reply:
    try:
        family, spec = spec_from_fields(fields)
    except FormProblem as exc:
        return Reply.error(f"not added: {exc}")
    with ctx.seen(actor, place) as (session, seen):
        if not seen.is_admin:
            return Reply.error("only workspace admins can add questions")
        try:
            report = import_spec(session, family, spec, seen.workspace.id)
        except FormProblem as exc:
            return Reply.error(f"not added: {exc}")
    if report.rejected:
        return Reply.error("not added: " + "; ".join(report.rejected))
    if not spec.is_complete:  # stored and drawn, but marked: `bank stats` lists it too
        return Reply(
            Message(
                f"Bank updated: {report.summary()}. {spec.slug} is marked incomplete "
                f"(missing {', '.join(spec.missing)}): `bank import` a format-v2 file to "
                "complete it.",
                tone=Tone.WARNING,
            )
        )
    return Reply(Message(f"Bank updated: {report.summary()}.", tone=Tone.SUCCESS))


def submit_import(ctx: Context, fields: Mapping[str, str], actor: Actor, place: Place) -> Reply:
    try:
        bank = parse_bank_text(fields.get("yaml", ""), Path("pasted.yaml"))
    except BankFileError as exc:
        return Reply.error("nothing imported: " + "; ".join(exc.problems[:3]))
    with ctx.seen(actor, place) as (session, seen):
        if not seen.is_admin:
            return Reply.error("only workspace admins can import questions")
        report = catalog.import_banks(session, [bank], seen.workspace.id)
    why = f" Rejected: {'; '.join(report.rejected[:5])}." if report.rejected else ""
    return Reply(Message(f"Imported: {report.summary()}.{why}", tone=Tone.SUCCESS))
