"""The configuration of the throwaway Synapse: SQLite, loopback only, federation off, no rate limits."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

_UNLIMITED = {"per_second": 100_000, "burst_count": 100_000}

#: Every rate limiter Synapse reads from its config (synapse/config/ratelimiting.py).
_RATE_LIMITS: dict[str, Any] = {
    "rc_message": _UNLIMITED,
    "rc_registration": _UNLIMITED,
    "rc_registration_token_validity": _UNLIMITED,
    "rc_login": {"address": _UNLIMITED, "account": _UNLIMITED, "failed_attempts": _UNLIMITED},
    "rc_admin_redaction": _UNLIMITED,
    "rc_joins": {"local": _UNLIMITED, "remote": _UNLIMITED},
    "rc_joins_per_room": _UNLIMITED,
    "rc_key_requests": _UNLIMITED,
    "rc_3pid_validation": _UNLIMITED,
    "rc_invites": {"per_room": _UNLIMITED, "per_user": _UNLIMITED, "per_issuer": _UNLIMITED},
    "rc_third_party_invite": _UNLIMITED,
    "rc_media_create": _UNLIMITED,
    "rc_presence": {"per_user": _UNLIMITED},
    "rc_delayed_event_mgmt": _UNLIMITED,
    "rc_room_creation": _UNLIMITED,
    "rc_reports": _UNLIMITED,
    "rc_user_directory": _UNLIMITED,
    "rc_profile": _UNLIMITED,
    "rc_federation": {"window_size": 1000, "sleep_limit": 10_000, "reject_limit": 10_000, "concurrent": 100},
}


def synapse_config(
    server_name: str, port: int, workdir: Path, shared_secret: str, extra_config: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The homeserver.yaml content (secrets included: it never leaves the work directory)."""
    work = str(workdir)
    cfg: dict[str, Any] = {
        "server_name": server_name,
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "pid_file": os.path.join(work, "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": os.path.join(work, "homeserver.db")}},
        "media_store_path": os.path.join(work, "media"),
        "signing_key_path": os.path.join(work, "signing.key"),
        "registration_shared_secret": shared_secret,
        "macaroon_secret_key": secrets.token_hex(16),
        "form_secret": secrets.token_hex(16),
        "report_stats": False,
        "enable_metrics": False,
        "enable_registration": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_domain_whitelist": [],
        "federation_sender_instances": [],
        "presence": {"enabled": False},
        "url_preview_enabled": False,
        "user_directory": {"enabled": False},
        # Throwaway accounts: the lowest bcrypt cost Synapse allows makes each registration and login
        # about 60 times cheaper than the default 12 rounds (most of a test run's Synapse time).
        "bcrypt_rounds": 4,
        **_RATE_LIMITS,
    }
    cfg.update(extra_config or {})
    return cfg
