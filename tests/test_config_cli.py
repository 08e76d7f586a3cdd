"""Settings validation and the `dojo` command, run as a real subprocess like a person would."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bank.config import normalize_database_url
from bot.config import ConfigError, load_settings
from tests.support import DOJO_COMMAND

DOJO = DOJO_COMMAND


def dojo(*args: str, env: dict[str, str], stdin: str = "", cwd: Path | None = None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))}
    full_env.update(env)
    return subprocess.run(
        [*DOJO, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "not a url at all"),
        ("DATABASE_URL", "mysql://user@host/db"),
        ("DOJO_LOG_LEVEL", "LOUD"),
        ("SLACK_API_URL", "ftp://example.invalid"),
    ],
)
def test_bad_setting_is_one_line_naming_it(monkeypatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith(f"configuration error: {variable}:")


def test_postgres_urls_get_our_driver() -> None:
    assert normalize_database_url("postgres://u:p@h:5/db") == "postgresql+psycopg://u:p@h:5/db"
    assert normalize_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_platform_follows_tokens(monkeypatch) -> None:
    for name in ("SLACK_BOT_TOKEN", "DISCORD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert load_settings().default_platform() == "console"
    monkeypatch.setenv("DISCORD_TOKEN", "abc")
    assert load_settings().default_platform() == "discord"
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    assert load_settings().default_platform() == "slack"


def test_cli_bad_config_exits_with_one_line(tmp_path: Path) -> None:
    result = dojo("doctor", env={"DOJO_LOG_LEVEL": "chatty"}, cwd=tmp_path)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "DOJO_LOG_LEVEL" in lines[0], result.stderr


def test_cli_version() -> None:
    result = dojo("--version", env={})
    assert result.returncode == 0 and result.stdout.startswith("mlsd-dojo ")


def test_cli_database_lifecycle(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'dojo.db'}"}
    assert "base (empty)" in dojo("db", "current", env=env).stdout
    upgraded = dojo("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "(head)" in dojo("db", "current", env=env).stdout
    down = dojo("db", "downgrade", "base", env=env)
    assert down.returncode == 0 and "base (empty)" in down.stdout


def test_doctor_names_tokens_but_never_their_values(tmp_path: Path) -> None:
    secret = "xoxb-very-secret-value-123"
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'dojo.db'}", "SLACK_BOT_TOKEN": secret}
    assert dojo("db", "upgrade", env=env).returncode == 0
    result = dojo("doctor", env=env)
    assert result.returncode == 0, result.stderr
    assert "database reachable: yes" in result.stdout
    assert "schema at head: yes" in result.stdout
    assert "SLACK_BOT_TOKEN: set" in result.stdout
    assert "DISCORD_TOKEN: not set" in result.stdout
    assert secret not in result.stdout + result.stderr


def test_doctor_reports_unreachable_database(tmp_path: Path) -> None:
    result = dojo("doctor", env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"})
    assert result.returncode == 1
    assert "database not reachable" in result.stderr


def test_run_defaults_to_sqlite_console_in_working_directory(tmp_path: Path) -> None:
    result = dojo("run", env={"DOJO_LOG_LEVEL": "WARNING"}, stdin="", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "dojo.db").exists()


def test_log_lines_never_carry_secrets(monkeypatch, caplog) -> None:
    import logging

    from bot.app import RedactSecrets

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-logged-by-accident")
    monkeypatch.setenv("DATABASE_URL", "postgresql://dojo:s3cret-pass@db.internal/dojo")
    settings = load_settings()
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "calling with %s on %s",
        ("xoxb-logged-by-accident", settings.database_url),
        None,
    )
    assert RedactSecrets(settings.secret_values()).filter(record)
    assert (
        record.getMessage()
        == "calling with [redacted] on postgresql+psycopg://dojo:[redacted]@db.internal/dojo"
    )
