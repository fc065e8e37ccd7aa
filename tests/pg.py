"""A throwaway PostgreSQL server for the tests: Debian's `postgresql` package, started by initdb/pg_ctl.

One server per pytest process (so one per xdist worker), on a free port, fsync off, stopped at the
end of the session. Each test gets a database of its own, created from a template.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER = "postgres"


def bin_dir() -> Path:
    """The newest installed PostgreSQL's binaries (Debian lays them out per major version)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(pg_ctl).parent
    raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (.ci/test does).")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """initdb + pg_ctl in a temporary directory; as the `postgres` user when run as root (initdb refuses root)."""

    def __init__(self) -> None:
        self.bin = bin_dir()
        self.dir = Path(tempfile.mkdtemp(prefix="dataops-pg-"))
        self.data = self.dir / "data"
        self.port = 0
        self._names = itertools.count()

    def _as_owner(self, *command: str) -> subprocess.CompletedProcess[str]:
        argv = list(command)
        if os.geteuid() == 0:
            argv = ["su", USER, "-s", "/bin/sh", "-c", " ".join(_quote(a) for a in argv)]
        return subprocess.run(argv, check=False, capture_output=True, text=True, timeout=120)

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            shutil.chown(self.dir, USER)
        done = self._as_owner(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", USER,
                              "--no-sync", "-E", "UTF8", "--locale", "C")
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr}")
        # the superuser connects without a password; any other role needs its password
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
        )
        for _ in range(5):  # a port taken between the probe and the start: try another
            self.port = _free_port()
            options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
            done = self._as_owner(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "pg.log"),
                                  "-w", "-t", "60", "start", "-o", options)
            if done.returncode == 0:
                return self
            time.sleep(0.2)
        log = (self.dir / "pg.log").read_text(errors="replace") if (self.dir / "pg.log").exists() else ""
        raise RuntimeError(f"PostgreSQL did not start: {done.stderr}\n{log[-2000:]}")

    def stop(self) -> None:
        self._as_owner(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres", *, user: str = USER, password: str | None = None) -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as con:
            cursor = con.execute(statement)
            return cursor.fetchall() if cursor.description else []

    def create_database(self, template: str = "template0") -> str:
        """A new empty database (from `template`); returns its name."""
        name = f"t{os.getpid()}_{next(self._names)}"
        self.sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def drop_database(self, name: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
