"""A throwaway Synapse homeserver on loopback, for the e2e tests and ``usage-bot demo``.

Synapse runs as a subprocess of this Python process, with SQLite, federation off,
every rate limit lifted and shared-secret registration on. Its output goes to
``synapse.log`` in the work directory; the tail of that file is part of the error
if it fails to start.

Works as a plain or an async context manager::

    with LocalSynapse() as hs:                    # pytest session fixture
        user_id, token = hs.register_user("alice", "pw")

    async with LocalSynapse() as hs:              # asyncio program
        user_id, token = await hs.aregister_user("alice", "pw")

Synapse itself is only needed at run time (the ``demo`` extra); importing this
module does not import it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import yaml

from .synapse_config import synapse_config

log = logging.getLogger(__name__)

class SynapseError(RuntimeError):
    """Synapse did not start, or an admin request to it failed."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM Synapse if this process dies without cleaning up."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class LocalSynapse:
    """A Synapse on ``127.0.0.1:<port>`` with its data in a temporary directory.

    ``start()``/``stop()`` can be called more than once: the configuration,
    database and port are kept, so a stopped server comes back with the same
    users and rooms (the tests use this to simulate a lost homeserver).
    ``close()`` stops it and removes the directory.
    """

    def __init__(
        self,
        server_name: str = "localhost",
        *,
        port: int | None = None,
        workdir: Path | None = None,
        extra_config: dict[str, Any] | None = None,
        startup_timeout: float = 90.0,
    ) -> None:
        self.server_name = server_name
        self.port = port or free_port()
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="usagebot-synapse-"))
        self.extra_config = extra_config or {}
        self.startup_timeout = startup_timeout
        self.shared_secret = secrets.token_hex(16)
        self.startup_seconds: float | None = None
        self._started_at = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_handle: Any = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.workdir / "homeserver.yaml"

    @property
    def log_path(self) -> Path:
        return self.workdir / "synapse.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def config(self) -> dict[str, Any]:
        """The homeserver.yaml content (secrets included: it never leaves the work directory)."""
        return synapse_config(self.server_name, self.port, self.workdir, self.shared_secret, self.extra_config)

    def _write_files(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        key = self.workdir / "signing.key"
        if not key.exists():
            seed = base64.b64encode(os.urandom(32)).decode().rstrip("=")
            key.write_text(f"ed25519 a_local {seed}\n")
        self.config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))

    def _spawn(self) -> None:
        if self.running:
            return
        self._write_files()
        self._log_handle = open(self.log_path, "ab")
        self._started_at = time.monotonic()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path)],
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    def _probe(self) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + "/_matrix/client/versions", timeout=2) as resp:
                return bool(resp.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def _startup_problem(self) -> str | None:
        """Why waiting for Synapse is pointless (it exited, or took too long), if it is."""
        if self._proc is not None and self._proc.poll() is not None:
            return f"Synapse exited with status {self._proc.returncode} while starting"
        if time.monotonic() - self._started_at > self.startup_timeout:
            return f"Synapse did not answer within {self.startup_timeout:.0f}s"
        return None

    def _ready(self) -> None:
        self.startup_seconds = time.monotonic() - self._started_at
        log.info("Synapse up on %s after %.2fs (logs: %s)", self.base_url, self.startup_seconds, self.log_path)

    def start(self) -> Self:
        """Start Synapse and block until its client API answers."""
        self._spawn()
        try:
            while not self._probe():
                if problem := self._startup_problem():
                    raise SynapseError(problem)
                time.sleep(0.05)
        except BaseException as err:
            self.stop()
            if isinstance(err, SynapseError):
                raise SynapseError(f"{err}:\n{self.log_tail()}") from None
            raise
        self._ready()
        return self

    async def astart(self) -> Self:
        """``start()`` for asyncio programs: the event loop keeps running while Synapse boots."""
        self._spawn()
        try:
            while not await asyncio.to_thread(self._probe):
                if problem := self._startup_problem():
                    raise SynapseError(problem)
                await asyncio.sleep(0.05)
        except BaseException as err:
            await self.astop()
            if isinstance(err, SynapseError):
                raise SynapseError(f"{err}:\n{self.log_tail()}") from None
            raise
        self._ready()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the process (SIGTERM, then SIGKILL); the work directory stays."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self._reap()

    async def astop(self, timeout: float = 15.0) -> None:
        await asyncio.to_thread(self.stop, timeout)

    def _reap(self) -> None:
        self._proc = None
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def close(self) -> None:
        """Stop Synapse and delete the work directory if this object created it."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no Synapse log)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        try:
            return await self.astart()
        except BaseException:
            await asyncio.to_thread(self.close)
            raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.close)

    # -- admin API -------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return dict(json.loads(resp.read() or b"{}"))
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")
            raise SynapseError(f"{method} {path} failed: HTTP {err.code} {detail}") from None

    def register_user(self, localpart: str, password: str, admin: bool = False) -> tuple[str, str]:
        """Create a user with the shared-secret admin API; returns ``(user_id, access_token)``."""
        nonce = self._request("GET", "/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        for part in (nonce, localpart, password):
            mac.update(part.encode())
            mac.update(b"\x00")
        mac.update(b"admin" if admin else b"notadmin")
        reply = self._request(
            "POST",
            "/_synapse/admin/v1/register",
            {"nonce": nonce, "username": localpart, "password": password, "admin": admin, "mac": mac.hexdigest()},
        )
        return str(reply["user_id"]), str(reply["access_token"])

    async def aregister_user(self, localpart: str, password: str, admin: bool = False) -> tuple[str, str]:
        return await asyncio.to_thread(self.register_user, localpart, password, admin)

    def admin_request(self, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call any admin/client API path with a (server admin's) access token."""
        return self._request(method, path, body, token)
