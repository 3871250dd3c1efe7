"""A throwaway PostgreSQL server for the tests and benchmarks: initdb in a temporary directory, pg_ctl on a
loopback port, one fresh database per test. Debian's `postgresql` package provides the binaries (.ci/run
installs it when missing); as root the server runs as the `postgres` user, since PostgreSQL refuses root.

The server outlives no one: a watchdog process waits on a pipe from the process that started it, and when that
closes (`stop()`, or that process ended any way at all: Ctrl-C, SIGTERM, SIGKILL) it stops the server and
removes its folder."""

from __future__ import annotations

import itertools
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path


def bindir() -> Path | None:
    """Where initdb and pg_ctl are: pg_config's answer, else Debian's versioned folders, newest first."""
    if (found := shutil.which("pg_config")) is not None:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0 and (Path(out.stdout.strip()) / "initdb").exists():
            return Path(out.stdout.strip())
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if candidates:
        return candidates[-1].parent
    if (initdb := shutil.which("initdb")) is not None:
        return Path(initdb).parent
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """One server. `start()`, then `new_database()` for each test, `restart()` and `stop()`."""

    def __init__(self, *, durable: bool = False, parent: str | None = None) -> None:
        """`parent`: the folder to make the server's own in; by default the disk's temporary folder (the tests
        keep their other files in memory, in a folder the server's user may not enter)."""
        found = bindir()
        if found is None:
            raise RuntimeError("PostgreSQL is not installed (no initdb; apt-get install postgresql)")
        self.bin = found
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="usage-pg-", dir=parent or os.environ.get("USAGE_BOT_TESTS_ON_DISK")))
        self.data = self.root / "data"
        self.port = _free_port()
        self._names = itertools.count(1)
        self._user = "postgres" if os.geteuid() == 0 else None
        self._watchdog: subprocess.Popen[bytes] | None = None

    def _command(self, *args: str) -> list[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        return command

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(self._command(*args), capture_output=True, text=True, timeout=120)
        if check and out.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
        return out

    def start(self) -> PgServer:
        if self._user is not None:
            pwd.getpwnam(self._user)  # KeyError: no such user to run the server as
            shutil.chown(self.root, self._user)
            self.root.chmod(0o755)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale")
        options = [f"-p {self.port}", "-c listen_addresses=127.0.0.1", f"-c unix_socket_directories={self.root}",
                   "-c max_connections=200", "-c shared_buffers=128MB"]  # fmt: skip
        if not self.durable:  # a test server: the data dies with it, so skip the fsyncs
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._options = " ".join(options)
        self._start_watchdog()
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", self._options, "-w", "start")
        return self

    @property
    def _stop_now(self) -> tuple[str, ...]:
        """pg_ctl stopping the server at once, without waiting for its clients (the run is over)."""
        return ("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def _start_watchdog(self) -> None:
        """A shell that reads its standard input, our pipe, to the end, then stops the server and starts removing
        its folder. In a session of its own, so a Ctrl-C meant for us does not end it first."""
        stop = shlex.join(self._command(*self._stop_now))
        script = f"cat >/dev/null; {stop} >/dev/null 2>&1; rm -rf {shlex.quote(str(self.root))} &"
        self._watchdog = subprocess.Popen(["sh", "-c", script], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self, template: str | None = None) -> str:
        """A fresh database, empty or a copy of another (by URL, with no one connected to it); its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        source = template.rsplit("/", 1)[1] if template else "template0"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {source}")
        return self.url(name)

    def restart(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", self._options, "-m", "fast", "-w",
                  "restart")

    def stop(self) -> None:
        """Stop the server and remove its folder: the watchdog's work, started by closing its pipe. It returns
        once the server has stopped; the folder goes in the background (a run's test databases are gigabytes,
        a minute and more of deleting on a busy disk, which the run need not wait for). A process forked from
        ours keeps the pipe open: then the server is stopped here, and the watchdog ended."""
        if self._watchdog is None:
            shutil.rmtree(self.root, ignore_errors=True)
            return
        assert self._watchdog.stdin is not None
        self._watchdog.stdin.close()
        try:
            self._watchdog.wait(10)
        except subprocess.TimeoutExpired:  # a process forked from ours holds the pipe open too: no end of input
            self._run(*self._stop_now, check=False)
            os.killpg(self._watchdog.pid, signal.SIGKILL)  # its session: the shell and its `cat`
            self._watchdog.wait(10)
            shutil.rmtree(self.root, ignore_errors=True)
        self._watchdog = None
