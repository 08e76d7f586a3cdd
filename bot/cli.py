"""The `dojo` command. Every subcommand turns failures into one readable line and an exit code."""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Annotated

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bank.catalog import (
    BankError,
    bank_stats,
    export_banks,
    get_question,
    import_banks,
    list_questions,
    load_files,
    question_spec,
    retire_question,
)
from bank.consistency import rate_problems
from bank.db import Database
from bank.files import (
    BUILTIN_DIR,
    BankFileError,
    bank_paths,
    dump_bank_file,
    load_bank_file,
    write_bank_files,
)
from bank.models import Workspace
from bank.schema import BankFile
from bank.vocabulary import (
    all_text,
    interviewer_material,
    rewrite_tags,
    tag_problems,
    vocabulary,
)
from bot import migrate
from bot.app import configure_logging, open_database, redact
from bot.community import workspace_for
from bot.config import ConfigError, Platform, Settings, load_settings
from bot.ratelimit import RateLimiter, RateLimitSettings
from bot.workqueue import WorkQueue
from scoring import totals
from scoring.results import rebuild_results
from scoring.rubric import Rubric, rubric_for

app = typer.Typer(
    help="mlsd-dojo: ML system design interview practice in your team chat.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
bank_app = typer.Typer(help="The question bank.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(bank_app, name="bank")
rubric_app = typer.Typer(help="A workspace's scoring rubric.", no_args_is_help=True)
app.add_typer(rubric_app, name="rubric")
admins_app = typer.Typer(help="A workspace's dojo admins.", no_args_is_help=True)
app.add_typer(admins_app, name="admins")
slack_app = typer.Typer(help="Slack set-up.", no_args_is_help=True)
app.add_typer(slack_app, name="slack")
discord_app = typer.Typer(help="Discord set-up.", no_args_is_help=True)
app.add_typer(discord_app, name="discord")
scoring_app = typer.Typer(help="Leaderboard totals and stored results.", no_args_is_help=True)
app.add_typer(scoring_app, name="scoring")
WorkspaceOption = Annotated[
    str, typer.Option("--workspace", help="PLATFORM:ID, e.g. slack:T0123 (default: the console).")
]
out = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)


def _settings() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    configure_logging(settings)
    return settings


def _limiter() -> RateLimiter:
    """The rate limits from `DOJO_RATE_LIMIT_*`; a bad value stops start-up naming the setting."""
    try:
        return RateLimiter(RateLimitSettings())
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "DOJO_RATE_LIMIT_" + str(first["loc"][0]).upper() if first["loc"] else "rate limit"
        raise fail(f"configuration error: {name}: {first['msg']}", 2) from None
    except ValueError as exc:  # an unknown storage scheme
        raise fail(f"configuration error: DOJO_RATE_LIMIT_STORAGE: {exc}", 2) from None


def _database(upgrade: bool = True) -> Database:
    return open_database(_settings(), upgrade=upgrade)


def _version(value: bool) -> None:
    if value:
        out.print(f"mlsd-dojo {version('mlsd-dojo')}")
        raise typer.Exit()


@app.callback()
def root(
    _: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """mlsd-dojo: ML system design interview practice in your team chat."""


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the schema (default: to head) and load the built-in bank into an empty database."""
    db = _database(upgrade=False)
    migrate.upgrade(db, revision)
    if revision == "head":
        db.dispose()
        db = _database()
    out.print(f"schema at {migrate.current_revision(db)}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target, e.g. -1 or base.")]) -> None:
    """Migrate the schema down to REVISION."""
    db = _database(upgrade=False)
    migrate.downgrade(db, revision)
    out.print(f"schema at {migrate.current_revision(db) or 'base (empty)'}")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the database and whether it is at head."""
    db = _database(upgrade=False)
    current, head = migrate.current_revision(db), migrate.head_revision(db)
    out.print(
        f"{current or 'base (empty)'}" + (" (head)" if current == head else f" (head is {head})")
    )


@app.command()
def doctor() -> None:
    """Check the set-up: database reachable, schema at head, which tokens are set."""
    settings = _settings()
    db = Database(settings.database_url)
    out.print(f"database: {db.engine.url.render_as_string(hide_password=True)}")
    try:
        current, head = migrate.current_revision(db), migrate.head_revision(db)
    except OperationalError as exc:
        raise fail(f"database not reachable: {str(exc.orig).strip().splitlines()[0]}") from None
    out.print("database reachable: yes")
    state = (
        "yes"
        if current == head
        else f"no (at {current or 'base'}, head is {head}; run `dojo db upgrade`)"
    )
    out.print(f"schema at head: {state}")
    for name, present in settings.token_report().items():
        out.print(f"{name}: {'set' if present else 'not set'}")
    out.print(f"platform for `dojo run`: {settings.default_platform()}")


@app.command()
def run(
    platform: Annotated[
        Platform | None, typer.Option(help="Default: from the tokens present.")
    ] = None,
    admins: Annotated[
        str | None, typer.Option(help="Console: comma-separated admin names.")
    ] = None,
    speed: Annotated[
        float | None, typer.Option(help="Console: clock speed-up, e.g. 60 for a one-minute mock.")
    ] = None,
    start: Annotated[
        datetime | None, typer.Option(help="Console: start the clock here (UTC), for scripts.")
    ] = None,
    port: Annotated[int, typer.Option(help="Slack HTTP mode: port for /slack/events.")] = 3000,
    shards: Annotated[str, typer.Option(help="Discord: `auto` to shard, `1` for one.")] = "1",
) -> None:
    """Start the bot (no tokens: a local console channel on this terminal)."""
    settings = _settings()
    chosen = platform or settings.default_platform()
    if chosen == "slack":
        _run_slack(settings, port)
        return
    if chosen == "discord":
        _run_discord(settings, shards == "auto")
        return
    db = open_database(settings)
    from bot.adapters.console import run_console

    begin = None if start is None else start.replace(tzinfo=start.tzinfo or UTC)
    run_console(
        db,
        admins=admins.split(",") if admins else None,
        speed=speed,
        start=begin,
        max_interviewers=settings.dojo_max_interviewers,
    )


@bank_app.command("import")
def bank_import(
    target: Annotated[Path, typer.Argument(help="A bank file or a directory of them.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report only, change nothing.")
    ] = False,
) -> None:
    """Add or update questions from YAML bank files (by slug; safe to repeat)."""
    db = _database()
    try:
        banks = load_files(target)
        with db.sessions() as session:
            report = import_banks(session, banks)
            if dry_run:
                session.rollback()
            else:
                session.commit()
    except BankError as exc:
        raise fail(f"nothing imported:\n{exc}") from None
    for line in report.rejected:
        out.print(f"rejected {line}")
    out.print(("would import: " if dry_run else "imported: ") + report.summary())
    if report.rejected:
        raise typer.Exit(1)


@bank_app.command("export")
def bank_export(directory: Annotated[Path, typer.Argument()] = Path("bank-export")) -> None:
    """Write the bank as YAML files, one per family, that import back to the same bank."""
    with _database().unit_of_work() as session:
        paths = write_bank_files(export_banks(session), directory)
    out.print(f"wrote {len(paths)} files to {directory}")


@bank_app.command("list")
def bank_list(
    family: Annotated[str | None, typer.Option(help="Only this family.")] = None,
    level: Annotated[str | None, typer.Option(help="Only this level (L3–L6).")] = None,
) -> None:
    """List the active questions."""
    table = Table("family", "level", "v2", "title")
    table.columns.insert(0, Column("slug", no_wrap=True))
    with _database().unit_of_work() as session:
        rows = list_questions(session, family, level)
        for question, fam in rows:
            complete = "yes" if question_spec(question).is_complete else "incomplete"
            table.add_row(question.slug, fam.slug, question.level, complete, question.title)
    out.print(table)
    out.print(f"{len(rows)} questions")


@bank_app.command("show")
def bank_show(slug: str) -> None:
    """Print one question in full, as bank-file YAML."""
    with _database().unit_of_work() as session:
        try:
            question = get_question(session, slug)
        except BankError as exc:
            raise fail(str(exc)) from None
        spec = question_spec(question)
        bank = BankFile(
            version=2 if spec.is_complete and spec.difficulty is None else 1,
            family=question.family.slug,
            name=question.family.name,
            questions=[spec],
        )
    typer.echo(dump_bank_file(bank))


@bank_app.command("retire")
def bank_retire(slug: str) -> None:
    """Stop drawing a question (its history stays)."""
    try:
        with _database().unit_of_work() as session:
            question = retire_question(session, slug)
    except BankError as exc:
        raise fail(str(exc)) from None
    out.print(f"retired {question.slug}")


@bank_app.command("stats")
def bank_stats_cmd() -> None:
    """Counts by family and level, completeness (format v2), and the most drawn questions."""
    with _database().unit_of_work() as session:
        stats = bank_stats(session)
    out.print(
        f"{stats.active} active questions in {len(stats.by_family)} families "
        f"({stats.retired} retired)"
    )
    families = Table("family", "questions")
    for name, count in stats.by_family.items():
        families.add_row(name, str(count))
    out.print(families)
    out.print("by level: " + ", ".join(f"{lvl} {n}" for lvl, n in stats.by_level.items()))
    out.print(f"complete (format v2): {stats.complete} of {stats.active}")
    if stats.incomplete:
        out.print("incomplete: " + ", ".join(stats.incomplete))
    if stats.most_drawn:
        out.print("most drawn: " + ", ".join(f"{slug} ({n})" for slug, n in stats.most_drawn))


@bank_app.command("check")
def bank_check(
    target: Annotated[Path, typer.Argument(help="A bank file or a folder of them.")] = BUILTIN_DIR,
    fix_tags: Annotated[
        bool, typer.Option("--fix-tags", help="Rewrite each question's tags from its text.")
    ] = False,
) -> None:
    """Check bank files: tags from the vocabulary and grounded in the text, rates that add up."""
    vocab = vocabulary()
    try:
        loaded = [load_bank_file(path) for path in bank_paths(target)]
        if fix_tags:
            for item in loaded:
                wanted = {
                    q.slug: vocab.discussed_in(interviewer_material(q)) or list(q.tags)
                    for q in item.bank.questions
                }
                text = item.path.read_text(encoding="utf-8")
                item.path.write_text(rewrite_tags(text, wanted), encoding="utf-8")
            loaded = [load_bank_file(item.path) for item in loaded]
    except BankFileError as exc:
        raise fail(str(exc)) from None
    problems: list[str] = []
    for item in loaded:
        problems += tag_problems(item.bank.questions, vocab)
        for question in item.bank.questions:
            problems += rate_problems(question.slug, all_text(question))
    for line in problems:
        out.print(line, markup=False, highlight=False)
    count = sum(len(item.bank.questions) for item in loaded)
    out.print(f"{count} questions in {len(loaded)} files: {len(problems)} problems")
    if problems:
        raise typer.Exit(1)


@scoring_app.command("rebuild")
def scoring_rebuild() -> None:
    """Recompute the leaderboard totals from the points ledger and every stored mock result from
    its votes (after a restore or a manual ledger edit). One transaction: readers see the old
    totals until it commits."""
    with _database().unit_of_work() as session:
        rows = totals.rebuild(session)
        results = rebuild_results(session, datetime.now(UTC))
    out.print(f"rebuilt {rows} leaderboard totals and {results} mock results")


def _workspace(session: Session, spec: str) -> Workspace:
    platform, _, external_id = spec.partition(":")
    if platform not in ("console", "slack", "discord") or not external_id:
        raise fail(f"--workspace must look like slack:T0123, not {spec!r}")
    return workspace_for(session, platform, external_id)


@rubric_app.command("show")
def rubric_show(workspace: WorkspaceOption = "console:console") -> None:
    """Print the rubric in force (as a file `rubric set` accepts)."""
    with _database().unit_of_work() as session:
        rubric = rubric_for(_workspace(session, workspace).rubric)
    typer.echo(yaml.safe_dump(rubric.model_dump(mode="json"), sort_keys=False, width=100))


@rubric_app.command("set")
def rubric_set(file: Path, workspace: WorkspaceOption = "console:console") -> None:
    """Use the rubric in FILE (YAML; criteria weights must sum to 100) for a workspace."""
    try:
        rubric = Rubric.model_validate(yaml.safe_load(file.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise fail(f"{file}: cannot be read as YAML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(file)"
        raise fail(f"{file}: {where}: {first['msg']}") from None
    with _database().unit_of_work() as session:
        _workspace(session, workspace).rubric = rubric.model_dump(mode="json")
    out.print(f"rubric {rubric.name!r} with {len(rubric.criteria)} criteria set for {workspace}")


@rubric_app.command("reset")
def rubric_reset(workspace: WorkspaceOption = "console:console") -> None:
    """Go back to the default rubric."""
    with _database().unit_of_work() as session:
        _workspace(session, workspace).rubric = None
    out.print(f"default rubric restored for {workspace}")


def _run_slack(settings: Settings, port: int) -> None:
    token, secret = settings.slack_bot_token, settings.slack_signing_secret
    if token is None or (secret is None and settings.slack_app_token is None):
        raise fail("Slack needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN)")
    limiter = _limiter()
    db = open_database(settings)
    from bot.adapters.slack import run_slack
    from bot.clock import SystemClock
    from bot.engine import Dojo

    app_token = settings.slack_app_token
    run_slack(
        lambda chat: Dojo(
            db,
            chat,
            SystemClock(),
            "slack",
            max_interviewers=settings.dojo_max_interviewers,
            limiter=limiter,
        ),
        token.get_secret_value(),
        secret.get_secret_value() if secret else None,
        settings.slack_api_url,
        app_token.get_secret_value() if app_token else None,
        port,
        WorkQueue(settings.dojo_workers, settings.dojo_queue_limit),
    )


def _discord_token(settings: Settings) -> str:
    if settings.discord_token is None:
        raise fail("Discord needs DISCORD_TOKEN (the bot token of your application)")
    return settings.discord_token.get_secret_value()


def _run_discord(settings: Settings, sharded: bool) -> None:
    token = _discord_token(settings)
    limiter = _limiter()
    db = open_database(settings)
    from bot.adapters.discord import run_discord
    from bot.clock import SystemClock
    from bot.engine import Dojo

    run_discord(
        lambda chat: Dojo(
            db,
            chat,
            SystemClock(),
            "discord",
            max_interviewers=settings.dojo_max_interviewers,
            limiter=limiter,
        ),
        token,
        settings.discord_api_url,
        settings.discord_gateway_url,
        sharded,
        voice_rooms=settings.discord_voice_rooms,
        members_intent=settings.discord_members_intent,
        work=WorkQueue(settings.dojo_workers, settings.dojo_queue_limit),
    )


@discord_app.command("sync")
def discord_sync() -> None:
    """Register the /mlsd commands in every server the bot is in (also done at start)."""
    settings = _settings()
    token = _discord_token(settings)
    db = open_database(settings)
    from bot.adapters.discord import sync_commands
    from bot.clock import SystemClock
    from bot.engine import Dojo

    count = sync_commands(
        lambda chat: Dojo(db, chat, SystemClock(), platform="discord"),
        token,
        settings.discord_api_url,
        settings.discord_gateway_url,
    )
    out.print(f"/mlsd synced to {count} server(s)")


@discord_app.command("invite-url")
def discord_invite_url(
    client_id: Annotated[str | None, typer.Option(help="Default: read from DISCORD_TOKEN.")] = None,
) -> None:
    """Print the OAuth2 URL that adds the bot with exactly the permissions it needs."""
    from bot.adapters.discord import client_id_from_token, invite_url

    settings = _settings()
    if client_id is None:
        client_id = client_id_from_token(_discord_token(settings))
    typer.echo(invite_url(client_id, settings.discord_voice_rooms))


@slack_app.command("manifest")
def slack_manifest(
    url: Annotated[str, typer.Option(help="Public base URL of `dojo run` (HTTP mode).")] = (
        "https://dojo.example.com"
    ),
    socket_mode: Annotated[bool, typer.Option(help="For Socket Mode (no public URL).")] = False,
) -> None:
    """Print the Slack app manifest (YAML) to paste when creating the app."""
    from bot.adapters.slack_manifest import manifest_yaml

    typer.echo(manifest_yaml(url, socket_mode))


@admins_app.command("show")
def admins_show(workspace: WorkspaceOption = "console:console") -> None:
    """List the users made dojo admins for a workspace (besides the platform's own admins)."""
    with _database().unit_of_work() as session:
        ids = list(_workspace(session, workspace).admin_ids)
    out.print(", ".join(ids) if ids else "(none)")


@admins_app.command("set")
def admins_set(
    users: Annotated[
        str, typer.Argument(help="Comma-separated user ids; Discord: role ids or names.")
    ],
    workspace: WorkspaceOption = "console:console",
) -> None:
    """Make these users dojo admins (replaces the list). On Discord the list holds role ids:
    a role name is resolved to its id now (an unknown or ambiguous name is refused)."""
    entries = sorted({u.strip() for u in users.split(",") if u.strip()})
    if workspace.startswith("discord:") and entries:
        entries = _discord_role_ids(workspace.removeprefix("discord:"), entries)
    with _database().unit_of_work() as session:
        _workspace(session, workspace).admin_ids = entries
    out.print(f"dojo admins for {workspace}: {', '.join(entries) or '(none)'}")


def _discord_role_ids(guild_id: str, entries: list[str]) -> list[str]:
    import asyncio

    from bot.adapters.discord import RoleError, admin_role_ids, fetch_roles

    settings = _settings()
    api_url = settings.discord_api_url or "https://discord.com/api/v10"
    try:
        roles = asyncio.run(fetch_roles(api_url, _discord_token(settings), guild_id))
        return admin_role_ids(entries, roles)
    except RoleError as exc:
        raise fail(str(exc)) from None


def main() -> None:
    """Entry point: known failures become one line on stderr, not a traceback."""
    try:
        app()
    except OperationalError as exc:
        message = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        err.print(f"error: database not reachable: {message}", markup=False)
        sys.exit(1)
    except BankError as exc:
        err.print(f"error: the question bank cannot be loaded:\n{exc}", markup=False)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # anything else (e.g. Slack refusing the token at start): one line
        logging.getLogger("dojo").debug("stopped by an error", exc_info=True)  # redacted
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        text = redact(f"{type(exc).__name__}: {first}".rstrip(": "), _env_secrets())
        err.print(f"error: {text} (DOJO_LOG_LEVEL=DEBUG shows the details)", markup=False)
        sys.exit(1)


def _env_secrets() -> list[str]:
    """Secret values straight from the environment: the settings may be what failed."""
    names = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "DISCORD_TOKEN")
    return [os.environ[name] for name in names if os.environ.get(name)]
