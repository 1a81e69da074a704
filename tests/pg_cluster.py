"""A private PostgreSQL cluster for the tests (and benchmarks): initdb in a fresh folder,
listening on 127.0.0.1 at a free port and on a socket in a private folder, stopped and
deleted at exit. ``initdb`` refuses to run as root, so as root the cluster is made and run by
the ``postgres`` user (``runuser -u postgres --``). Nothing outlives the process that started
it: ``stop()`` runs ``pg_ctl stop -m immediate`` and removes the folder (also at interpreter
exit, should a test run end early).

``python tests/pg_cluster.py`` starts one, prints its URL and waits for Enter (for the
benchmarks' dialect part and for trying things by hand)."""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "postgres"


def bindir() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: PATH, then Debian's /usr/lib/postgresql/N/bin
    (newest first), then ``pg_config --bindir``."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True):
        if (Path(folder) / "initdb").exists():
            return Path(folder)
    config = shutil.which("pg_config")
    if config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([config, "--bindir"], capture_output=True, text=True, timeout=10).stdout.strip()
            if (Path(out) / "initdb").exists():
                return Path(out)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    folder: Path
    port: int
    bin: Path
    as_user: list[str]

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def user(self) -> str:
        return SUPERUSER

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str, timeout: float = 120) -> None:
        done = subprocess.run([*self.as_user, *args], capture_output=True, text=True, timeout=timeout,
                              cwd=self.folder)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {(done.stderr or done.stdout).strip()[-1500:]}")

    def stop(self) -> None:
        if not self.folder.exists():
            return
        with contextlib.suppress(Exception):
            self._run(str(self.bin / "pg_ctl"), "stop", "-D", str(self.folder / "data"), "-m", "immediate", "-w",
                      timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)


def start(max_connections: int = 200, port: int | None = None) -> Cluster:
    """A new cluster, started; RuntimeError (with the reason) when it cannot be."""
    folder_bin = bindir()
    if folder_bin is None:
        raise RuntimeError("no PostgreSQL server programs (initdb, pg_ctl) found; install PostgreSQL "
                           "(Debian: apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="crisis-sim-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to the postgres user
        runuser = shutil.which("runuser")
        if runuser is None:
            raise RuntimeError("running as root, and no runuser to start PostgreSQL as the postgres user")
        shutil.chown(folder, SUPERUSER, SUPERUSER)
        as_user = [runuser, "-u", SUPERUSER, "--"]
    (sockets := folder / "sockets").mkdir(mode=0o700)
    if as_user:
        shutil.chown(sockets, SUPERUSER, SUPERUSER)
    cluster = Cluster(folder, port or free_port(), folder_bin, as_user)
    atexit.register(cluster.stop)
    try:
        cluster._run(str(folder_bin / "initdb"), "-D", str(folder / "data"), "-A", "trust", "-U", SUPERUSER,
                     "--no-sync", "-E", "UTF8", "--locale", "C")
        options = (f"-k {sockets} -p {cluster.port} -c listen_addresses=127.0.0.1 -c max_connections={max_connections}"
                   " -c shared_buffers=64MB")
        cluster._run(str(folder_bin / "pg_ctl"), "start", "-D", str(folder / "data"), "-w", "-t", "60",
                     "-l", str(folder / "server.log"), "-o", options)
    except (RuntimeError, OSError, subprocess.SubprocessError):
        cluster.stop()
        raise
    return cluster


if __name__ == "__main__":
    running = start()
    print(running.url(), flush=True)
    with contextlib.suppress(KeyboardInterrupt, EOFError):
        input()
    running.stop()
