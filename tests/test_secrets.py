"""Secrets and files (issue 13): redaction reaches formatted tracebacks and exception text, a
bad or empty secret stops start-up naming the setting, any start-up failure is one line without
a traceback, and the database, exports and charts are created for the owner only."""

from __future__ import annotations

import io
import logging
import stat
from pathlib import Path

import pytest

from bank.db import Database
from bank.files import write_bank_files
from bank.schema import BankFile
from bot.app import RedactSecrets, redact
from bot.config import ConfigError, load_settings
from bot.port import Image, Message
from tests.support import Harness
from tests.test_bank_files import bank_dict, question_dict
from tests.test_config_cli import dojo

SECRET = "xoxb-1111-2222-abcdefghijkl"
SIGNING = "0123456789abcdef0123456789abcdef"


def _logged(secrets: list[str], emit: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    logger = logging.getLogger("dojo.test-redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        assert callable(emit)
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_tracebacks_and_exception_text_are_redacted() -> None:
    def emit(logger: logging.Logger) -> None:
        try:
            raise RuntimeError(f"the API refused token {SECRET} and {SIGNING}")
        except RuntimeError:
            logger.exception("call failed")
        logger.error("stack", stack_info=True, extra={"note": SECRET})

    text = _logged([SECRET, SIGNING], emit)
    assert "Traceback" in text and "RuntimeError: the API refused token [redacted]" in text
    assert SECRET not in text and SIGNING not in text


def test_token_shapes_are_redacted_even_when_not_configured() -> None:
    other = "xoxp-9999-8888-zyxwvutsrq"
    discord_token = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA.GaBcDe.abcdefghijklmnopqrstuvwxyz0123"
    text = redact(f"user token {other}, bot {discord_token}, app xapp-1-A1-123456", [])
    assert text == "user token [redacted], bot [redacted], app [redacted]"
    assert redact("a normal sentence about tokens", []) == "a normal sentence about tokens"


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("SLACK_SIGNING_SECRET", "", "empty"),
        ("SLACK_SIGNING_SECRET", "abc def", "whitespace"),
        ("SLACK_BOT_TOKEN", " ", "empty"),
        ("SLACK_BOT_TOKEN", "xoxp-user-token-123", "does not start with 'xoxb-'"),
        ("SLACK_BOT_TOKEN", "xoxb-123\n", "whitespace"),
        ("SLACK_APP_TOKEN", "xoxb-123", "does not start with 'xapp-'"),
        ("DISCORD_TOKEN", "Bot abc.def.ghi", "whitespace"),
        ("DISCORD_TOKEN", "Botabc.def.ghi", "without the 'Bot' prefix"),
    ],
)
def test_bad_secret_names_the_setting_and_never_the_value(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"configuration error: {name.upper()}: ") and reason in message
    assert "\n" not in message and (not value.strip() or value.strip() not in message)


def test_empty_signing_secret_stops_dojo_run_in_one_line(tmp_path: Path) -> None:
    result = dojo(
        "run",
        "--platform",
        "slack",
        env={
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
            "SLACK_BOT_TOKEN": SECRET,
            "SLACK_SIGNING_SECRET": "",
        },
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "SLACK_SIGNING_SECRET" in result.stderr
    assert SECRET not in result.stderr + result.stdout
    assert not (tmp_path / "x.db").exists(), "nothing is set up before the settings are sound"


def test_a_start_up_failure_is_one_line_without_a_traceback(tmp_path: Path) -> None:
    """Slack cannot be reached to check the token (a closed port): one line, no token."""
    result = dojo(
        "run",
        "--platform",
        "slack",
        env={
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
            "SLACK_BOT_TOKEN": SECRET,
            "SLACK_SIGNING_SECRET": SIGNING,
            "SLACK_API_URL": "http://127.0.0.1:9/api/",
            "DOJO_LOG_LEVEL": "WARNING",
        },
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    *logged, last = result.stderr.strip().splitlines()  # log lines of the retries, then one
    assert last.startswith("error: URLError: ") and "DOJO_LOG_LEVEL=DEBUG" in last
    assert all(" ERROR " in line or " WARNING " in line for line in logged)
    assert SECRET not in result.stderr + result.stdout


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_exports_and_charts_are_owner_only(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'dojo.db'}")
    with db.engine.connect():
        pass
    assert _mode(tmp_path / "dojo.db") == 0o600
    bank = BankFile.model_validate(bank_dict("private", [question_dict("private-one")]))
    (path,) = write_bank_files([bank], tmp_path / "export")
    assert _mode(tmp_path / "export") == 0o700 and _mode(path) == 0o600
    harness = Harness(db, tmp_path / "charts")
    png = Image("../../escape.png", b"\x89PNG", "a chart")
    harness.port.show(Message("chart", images=(png,)))
    saved = tmp_path / "charts" / "escape.png"
    assert _mode(tmp_path / "charts") == 0o700 and _mode(saved) == 0o600
    assert not (tmp_path.parent / "escape.png").exists()
