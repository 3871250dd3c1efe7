"""The `http`, `webhooks` and `posthog` config sections (README: HTTP API). Unknown keys are errors."""

from __future__ import annotations

import re
from typing import Literal, get_args

from pydantic import Field, field_validator, model_validator

from matrix_usage_bot.tracking.fields import ENTRY_POINTS
from matrix_usage_bot.tracking.settings import Strict
from matrix_usage_bot.tracking.validation import SOURCE

_LISTEN = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[^:\s]+):(?P<port>\d{1,5})$")
NoticeKind = Literal["quota_warning", "quota_refused", "runway", "spike", "digest"]
NOTICE_KINDS: tuple[str, ...] = get_args(NoticeKind)
"""What webhooks and PostHog receive (`runway`: the early warning that a monthly quota runs out at this pace)."""


class ApiKey(Strict):
    name: str = Field(description="who holds the key; names it in the log, never the key; the `source` of its events")
    key: str = Field(min_length=16, description="the secret itself, from ${VAR}; at least 16 characters")
    rooms: list[str] | Literal["all"] = Field(description="room ids this key may read and write, or 'all'")
    ingest: bool = Field(default=False, description="may POST /v1/events")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        """Stored as its events' source: the text rules of that field, and no entry point's name."""
        if value in ENTRY_POINTS:
            raise ValueError(f"{value!r} names events of another entry point (their source); pick another name")
        return SOURCE.clean(value)  # type: ignore[return-value]

    @field_validator("rooms")
    @classmethod
    def _rooms(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, list):
            if not value:
                raise ValueError("list at least one room id, or 'all'")
            for room in value:
                if not (room.startswith("!") and ":" in room):
                    raise ValueError(f"{room!r} is not a room id like !abc:example.org")
        return value


class MetricsSettings(Strict):
    labels: list[Literal["room", "agent"]] = Field(
        default_factory=list, description="labels beyond provider and model (each room or agent is a series)"
    )


class HttpSettings(Strict):
    enabled: bool = Field(default=False, description="the bot also serves the HTTP API (usage-bot serve always does)")
    listen: str = "127.0.0.1:8480"
    keys: list[ApiKey] = Field(default_factory=list)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=1024**3)
    request_timeout_s: float = Field(
        default=30.0, gt=0, le=3600,
        description="a request's headers, and then its body, must each arrive within this; an idle connection"
                    " is closed after it too",
    )  # fmt: skip
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    public_url: str | None = Field(
        default=None, description="the address users reach this server at (behind its proxy), for dashboard links"
    )

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^/?#\s]+(/[^?#\s]*)?$", value):
            raise ValueError("must be an http:// or https:// URL without query or fragment, e.g. https://usage.example.org")
        return value.rstrip("/")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        match = _LISTEN.match(value)
        if match is None or not 0 <= int(match["port"]) < 65536:  # 0: any free port
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:8480 or [::1]:8480")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> HttpSettings:
        names = [k.name for k in self.keys]
        if len(set(names)) != len(names):
            raise ValueError("keys: two keys have the same name")
        if len({k.key for k in self.keys}) != len(self.keys):
            raise ValueError("keys: two keys have the same secret")
        return self

    def host_port(self) -> tuple[str, int]:
        match = _LISTEN.match(self.listen)
        assert match is not None
        return match["host"].strip("[]"), int(match["port"])


class WebhookSettings(Strict):
    url: str = Field(description="where the JSON is POSTed")
    events: list[NoticeKind] = Field(default_factory=lambda: list(NOTICE_KINDS), description="which kinds; all of them")
    secret: str = Field(
        min_length=16, description="HMAC-SHA256 key of X-Usage-Signature (over `<timestamp>.<body>`), from ${VAR}"
    )
    attempts: int = Field(default=6, ge=1, le=20, description="tries in all, with exponential backoff")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


class PosthogSettings(Strict):
    api_key: str = Field(min_length=1, description="the project API key, from ${VAR}")
    host: str = Field(default="https://us.i.posthog.com", description="PostHog's (or your instance's) URL")
    events: list[NoticeKind] = Field(default_factory=lambda: list(NOTICE_KINDS), description="which kinds; all of them")
