"""The bot's whole configuration file (README: Configuration). Unknown keys are errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from pydantic import Field, ValidationError, field_validator

from matrix_usage_bot.tracking.settings import (
    ConfigError,
    PricingSettings,
    QuotaSettings,
    StorageSettings,
    Strict,
    TrackingSettings,
    describe_config_error,
    read_config_file,
    validate_timezone,
)

from .dashboard.settings import DashboardSettings
from .http.settings import HttpSettings, PosthogSettings, WebhookSettings

_USER_ID = re.compile(r"^@[^:\s]+:\S+$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _matching(pattern: re.Pattern[str], problem: str) -> Callable[[type, str], str]:
    """A field validator: the value must match the pattern, else `problem` is the error."""

    def check(cls: type, value: str) -> str:
        if not pattern.match(value):
            raise ValueError(problem)
        return value

    return check


def _user_ids(cls: type, value: list[str]) -> list[str]:
    for user in value:
        if not _USER_ID.match(user):
            raise ValueError(f"{user!r} is not a full Matrix user id")
    return value


class MatrixConfig(Strict):
    homeserver: str = Field(description="https://matrix.example.org")
    user_id: str
    password: str | None = None
    access_token: str | None = None
    device_id: str = "USAGEBOT"
    store_path: Path = Path("data/matrix-store")
    allowed_inviters: list[str] = Field(default_factory=list)
    bot_admins: list[str] = Field(default_factory=list)

    @field_validator("homeserver")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    _mxid = field_validator("user_id")(_matching(_USER_ID, "must be a full Matrix user id like @usagebot:example.org"))

    _admins = field_validator("bot_admins")(_user_ids)

    @field_validator("allowed_inviters")
    @classmethod
    def _inviters(cls, value: list[str]) -> list[str]:
        for entry in value:
            if not (_USER_ID.match(entry) or re.match(r"^:\S+$", entry)):
                raise ValueError(f"{entry!r}: use a user id (@alice:example.org) or a server (:example.org)")
        return value


class BotSettings(Strict):
    command_prefix: str = Field(default="!usage", min_length=1)
    timezone: str = "UTC"
    grace_seconds: int = Field(default=300, ge=0)
    admins: list[str] = Field(default_factory=list, description="bot admins, also in plugin mode")
    responders: list[str] = Field(
        default_factory=list, description="where several bots run this plugin in one room: who answers, in order"
    )

    _user_ids = field_validator("admins", "responders")(_user_ids)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return validate_timezone(value)

    @field_validator("command_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if any(ch.isspace() for ch in value):
            raise ValueError("must not contain spaces")
        return value


class DigestSettings(Strict):
    default_time: str = Field(default="09:00", description="HH:MM in bot.timezone")
    enabled_by_default: bool = False

    _time = field_validator("default_time")(_matching(_HHMM, "must be HH:MM (24-hour clock)"))


class WarningSettings(Strict):
    enabled: bool = True
    dm_admins: bool = False
    spike_factor: Decimal = Field(
        default=Decimal(10), ge=0, le=10_000, description="warn when the last hour costs this many times usual; 0: off"
    )
    spike_min_usd: Decimal = Field(default=Decimal(5), ge=0, le=1_000_000, description="and at least this much")


class AdviceSettings(Strict):
    alternatives: dict[str, list[str]] = Field(
        default_factory=dict,
        description="model (name, provider/model or genai-prices id) to cheaper models, over the built-in"
        " defaults (tracking.advice.DEFAULT_ALTERNATIVES); [] removes a default",
    )

    @field_validator("alternatives")
    @classmethod
    def _names(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for model, cheaper in value.items():
            if not model.strip() or any(not name.strip() for name in cheaper):
                raise ValueError(f"{model!r}: model names must not be empty")
        return value


class IngestSettings(Strict):
    mindroom: bool = False
    mindroom_agent_prefix: str = Field(default="mindroom_", description="only senders whose localpart starts so")
    mindroom_agents: list[str] = Field(
        default_factory=list,
        description="trusted agent accounts: user id globs ('@mindroom_*:example.org') or servers (':example.org');"
        " empty: accounts with the prefix on the bot's own homeserver",
    )

    @field_validator("mindroom_agents")
    @classmethod
    def _agents(cls, value: list[str]) -> list[str]:
        for entry in value:
            if not (entry.startswith("@") and ":" in entry) and not (entry.startswith(":") and len(entry) > 1):
                raise ValueError(f"{entry!r} is neither a user id glob like '@mindroom_*:example.org' nor a server"
                                 " like ':example.org'")  # fmt: skip
        return value


class Config(Strict):
    """The ``matrix`` section is the standalone bot's account; plugin mode runs on the host's and needs none."""

    matrix: MatrixConfig | None = None
    bot: BotSettings = Field(default_factory=BotSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    pricing: PricingSettings = Field(default_factory=PricingSettings)
    quotas: QuotaSettings = Field(default_factory=QuotaSettings)
    digests: DigestSettings = Field(default_factory=DigestSettings)
    warnings: WarningSettings = Field(default_factory=WarningSettings)
    advice: AdviceSettings = Field(default_factory=AdviceSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    webhooks: list[WebhookSettings] = Field(default_factory=list)
    posthog: PosthogSettings | None = None
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)

    def bot_admins(self) -> set[str]:
        """``bot.admins`` and, for the standalone bot, ``matrix.bot_admins``: both lists count."""
        return set(self.bot.admins) | set(self.matrix.bot_admins if self.matrix is not None else ())

    def standalone(self) -> MatrixConfig:
        """The ``matrix`` section, which ``usage-bot run`` needs (it logs in as its own account)."""
        if self.matrix is None:
            raise ConfigError("matrix: this section is required to run the bot on its own account"
                              " (only the plugin inside another bot does without it)")  # fmt: skip
        if not self.matrix.password and not self.matrix.access_token:
            raise ConfigError("matrix: set password or access_token: usage-bot run logs in with one of them"
                              " (usage-bot serve and plugin mode do without)")  # fmt: skip
        return self.matrix

    def tracking(self) -> TrackingSettings:
        return TrackingSettings(
            storage=self.storage, pricing=self.pricing, quotas=self.quotas, timezone=self.bot.timezone
        )


def load_config(path: str | Path) -> Config:
    """Read, substitute `${VAR}`, validate. Raises ConfigError naming the key path and the reason."""
    data = read_config_file(path)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_config_error(path, exc)) from exc
