"""All settings of DESIGN.md §6. Secrets are `SecretStr`: they never print, log or reach the DB."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict
from sqlalchemy.engine import make_url

from bank.config import DatabaseSettings
from scoring.ledger import PointsSettings

Platform = Literal["console", "slack", "discord"]


class Settings(DatabaseSettings, PointsSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    discord_token: SecretStr | None = None
    discord_api_url: str | None = None
    discord_gateway_url: str | None = None
    # a voice channel beside each booked or running mock (needs Manage Channels); off by default
    discord_voice_rooms: bool = False
    # ask for Discord's privileged Server Members intent (switch it on in the Developer Portal
    # too): only with it does Discord send GUILD_MEMBER_REMOVE, which hides departed members
    discord_members_intent: bool = False
    # how many interviewers one mock may name (mentions beyond it are refused)
    dojo_max_interviewers: int = Field(default=4, ge=1, le=25)
    # acknowledge first (bot/workqueue.py): threads for the core's database work (the database
    # pool is sized to match), and jobs admitted at once before "busy, try again" answers
    dojo_workers: int = Field(default=8, ge=1, le=64)
    dojo_queue_limit: int = Field(default=200, ge=1, le=100_000)

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token", "discord_token")
    @classmethod
    def _well_formed_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """A set but empty or mangled secret stops start-up here, naming the setting, instead of
        starting a bot that every platform request fails against (Slack answers `invalid_auth`,
        a bad signing secret turns every request into a 401)."""
        if value is None:
            return None
        secret = value.get_secret_value()
        if not secret.strip():
            raise ValueError("is set but empty (remove it or give the value)")
        if any(char.isspace() for char in secret):
            raise ValueError("contains whitespace (a line break or space pasted with it?)")
        prefix = {"slack_bot_token": "xoxb-", "slack_app_token": "xapp-"}.get(info.field_name or "")
        if prefix and not secret.startswith(prefix):
            raise ValueError(f"does not start with {prefix!r}: is it another kind of token?")
        if info.field_name == "discord_token" and secret.lower().startswith("bot"):
            raise ValueError("give the token alone, without the 'Bot' prefix")
        return value

    @field_validator("slack_api_url", "discord_api_url", "discord_gateway_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError(f"{value!r} is not an http(s) or ws(s) URL")
        return value

    def default_platform(self) -> Platform:
        """The platform whose tokens are present; none at all means the local console."""
        if self.slack_bot_token is not None:
            return "slack"
        if self.discord_token is not None:
            return "discord"
        return "console"

    def secret_values(self) -> list[str]:
        """The configured secrets (and the database password), for log redaction only."""
        secrets = [
            s.get_secret_value()
            for s in (
                self.slack_bot_token,
                self.slack_signing_secret,
                self.slack_app_token,
                self.discord_token,
            )
            if s is not None
        ]
        password = make_url(self.database_url).password
        return [*secrets, *([str(password)] if password else [])]

    def token_report(self) -> dict[str, bool]:
        """Which secrets are set: names only, never values."""
        names = ("slack_bot_token", "slack_signing_secret", "slack_app_token", "discord_token")
        return {name.upper(): getattr(self, name) is not None for name in names}


class ConfigError(Exception):
    """Bad configuration, already phrased as the one line a person should read."""


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "configuration"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"configuration error: {name}: {message}") from None
