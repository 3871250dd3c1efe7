"""Configuration: YAML with `${VAR}` from the environment, validated with pydantic.

The tracking library reads only its sections (storage, pricing, quotas, and bot.timezone);
the bot validates the whole file with its own model, built from these sections.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .events import describe_validation_error
from .periods import PeriodError, zone
from .pricing import PriceOverride

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the file, the key path and the reason."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StorageSettings(Strict):
    url: str = Field(default="sqlite:///data/usage.db", description="sqlite:///relative.db, sqlite:////abs.db or postgresql://user:password@host:port/db")
    retention_days: int | None = Field(default=400, ge=1, description="raw events older than this are deleted")
    api_key: str | None = Field(default=None, description="with an https:// url (an HTTP collector): its key")
    spool: str | None = Field(default=None, description="with an https:// url: where events wait while it is away")


class PricingSettings(Strict):
    overrides: list[PriceOverride] = Field(default_factory=list)


class QuotaSpec(Strict):
    scope: Literal["room", "agent", "user", "global"]
    name: str | None = Field(
        default=None, description="the agent name or user id; none for a user quota means every user, each on their own"
    )
    window: Literal["hourly", "daily", "monthly"]
    limit: str = Field(description="tokens ('200k', '1.5m', '5000') or dollars ('$50')")
    hard: bool = False

    @field_validator("limit")
    @classmethod
    def _amount(cls, value: str) -> str:
        from .amounts import parse_amount

        parse_amount(value)
        return value


class QuotaSettings(Strict):
    defaults: list[QuotaSpec] = Field(default_factory=list, description="every room's quotas, counted in the room")
    everywhere: list[QuotaSpec] = Field(default_factory=list, description="quotas counted across all rooms")
    plans: dict[str, list[QuotaSpec]] = Field(default_factory=dict, description="named sets of quotas (tiers)")
    room_plans: dict[str, str] = Field(default_factory=dict, description="room id to plan name")
    user_plans: dict[str, str] = Field(default_factory=dict, description="user id to plan name")
    thresholds: list[int] = Field(default_factory=lambda: [75, 90, 100])
    enforce: bool = False
    reserve_output_tokens: int = Field(default=4096, ge=0, le=10_000_000)
    reservation_timeout_s: float = Field(default=600.0, gt=0, le=86_400)
    unreachable: Literal["refuse", "allow"] = Field(
        default="refuse", description="with an HTTP collector as storage.url, under enforcement: a call whose "
        "quotas the collector cannot be asked about is refused (tracking.QuotaUnavailable) or goes ahead"
    )  # fmt: skip

    @field_validator("thresholds")
    @classmethod
    def _percentages(cls, value: list[int]) -> list[int]:
        if not value or any(not 1 <= v <= 1000 for v in value):
            raise ValueError("thresholds are percentages between 1 and 1000")
        return sorted(set(value))

    @field_validator("everywhere")
    @classmethod
    def _no_room_scope(cls, value: list[QuotaSpec]) -> list[QuotaSpec]:
        if any(spec.scope == "room" for spec in value):
            raise ValueError("a quota counted everywhere is for a user, an agent or global, not a room")
        return value

    @field_validator("plans")
    @classmethod
    def _plan_scopes(cls, value: dict[str, list[QuotaSpec]]) -> dict[str, list[QuotaSpec]]:
        for name, specs in value.items():
            if not name or any(spec.scope == "global" for spec in specs):
                raise ValueError(f"plan {name!r}: a plan holds room, agent and user quotas (global ones: everywhere)")
        return value

    @model_validator(mode="after")
    def _known_plans(self) -> QuotaSettings:
        for where, assigned in (("room_plans", self.room_plans), ("user_plans", self.user_plans)):
            for who, plan in assigned.items():
                if plan not in self.plans:
                    raise ValueError(f"{where}: {who} is put on plan {plan!r}, which quotas.plans does not define")
        return self


def validate_timezone(value: str) -> str:
    try:
        zone(value)
    except PeriodError as exc:
        raise ValueError(str(exc)) from exc
    return value


class TrackingSettings(Strict):
    storage: StorageSettings = Field(default_factory=StorageSettings)
    pricing: PricingSettings = Field(default_factory=PricingSettings)
    quotas: QuotaSettings = Field(default_factory=QuotaSettings)
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return validate_timezone(value)


def read_config_file(path: str | Path, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Parse YAML and substitute `${VAR}` / `${VAR:-default}` in every string value."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a YAML text file (byte {exc.start} is not UTF-8)") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return _substitute(data, os.environ if environ is None else environ, path, ())


def _substitute(value: Any, environ: dict[str, str] | os._Environ[str], path: Path, where: tuple) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, environ, path, (*where, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, environ, path, (*where, i)) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        key = ".".join(str(part) for part in where)
        raise ConfigError(f"{path}: {key}: environment variable {name} is not set")

    return _VAR.sub(replace, value)


def describe_config_error(path: str | Path, exc: ValidationError) -> str:
    return f"{path}: " + describe_validation_error(exc, top="(top level)", unknown="unknown key")


def load_tracking_settings(path: str | Path) -> TrackingSettings:
    data = read_config_file(path)
    section = {key: data[key] for key in ("storage", "pricing", "quotas") if key in data}
    bot = data.get("bot")
    if isinstance(bot, dict) and "timezone" in bot:
        section["timezone"] = bot["timezone"]
    try:
        return TrackingSettings.model_validate(section)
    except ValidationError as exc:
        raise ConfigError(describe_config_error(path, exc)) from exc
