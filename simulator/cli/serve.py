"""Serving the app to a class's browsers: ``serve`` (the optional extra ``crisis-sim[serve]``)."""

from __future__ import annotations

import logging
import sys

import click

from simulator.cli.base import DB_OPTION, PROG, cli, fail


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Listen on this address of this machine (127.0.0.1 or ::1): the academy's HTTPS reverse proxy "
              "faces the network.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Listen on this port (0: any free one, printed when listening).")
@click.option("--public-url", metavar="URL",
              help="The address browsers use, the proxy's (https://... gives wss:// websockets); default "
              "http://HOST:PORT. Requests from any other Origin are refused.")
@click.option("--trainee-header", default="X-Remote-User", show_default=True, metavar="NAME",
              help="The header the proxy sets to the signed-in trainee's id.")
@click.option("--max-sessions", type=click.IntRange(1, 10_000), default=40, show_default=True,
              help="Browser tabs (app processes) at once; past it, a 'class is full' page.")
@click.option("--max-per-trainee", type=click.IntRange(1, 100), default=2, show_default=True,
              help="Tabs one trainee may have open at once.")
@click.option("--idle-timeout", type=click.FloatRange(0.05, 24 * 60), default=30.0, show_default=True,
              metavar="MINUTES", help="End a session after this long without a key or click (progress is saved).")
@DB_OPTION
def serve(host: str, port: int, public_url: str | None, trainee_header: str, max_sessions: int,
          max_per_trainee: int, idle_timeout: float, db: str | None) -> int:
    """Serve the trainee app to browsers, one app per tab, for a class.

    Runs behind the academy's HTTPS reverse proxy, which signs trainees in (single sign-on)
    and passes the trainee id in a header; crisis-sim listens on this machine only and trusts
    that header from the proxy alone. Every tab is signed in as its trainee (no sign-in form),
    with their own library, progress and resume offer. Ctrl+C (or SIGTERM) ends every session
    and stops. Setup (nginx, oauth2-proxy, systemd): docs/classroom.md.
    """
    try:
        from simulator.serve.server import (
            ClassroomServer,
            ServeError,
            ServeSettings,
            check_header,
            check_host,
            check_public_url,
        )
    except ImportError as missing:
        return fail(f"serve needs textual-serve ({missing.name} is not installed): pip install 'crisis-sim[serve]'")
    from scoring.library_cache import library_index
    from simulator.config import load_config, resolve_db, scenario_max_bytes
    from simulator.records import open_store

    try:
        check_host(host)
        check_header(trainee_header)
        url = check_public_url(public_url) if public_url else None
    except ServeError as exc:
        raise click.BadParameter(str(exc)) from None
    config = load_config()
    records = resolve_db(db, config)
    open_store(records).close()  # a records problem is one line now, not in every tab later
    # Validate the library once, here, into the validated-library cache the app processes read
    # (the same library, rubric and size cap as theirs): a class opening at once then costs each
    # tab a read of the cache, not a validation of every scenario.
    ready_scenarios = sum(entry.ok for entry in library_index(max_bytes=scenario_max_bytes(None, config)))
    settings = ServeSettings(
        host=host, port=port, public_url=url, trainee_header=trainee_header, max_sessions=max_sessions,
        max_per_trainee=max_per_trainee, idle_timeout=idle_timeout * 60, environment={"CRISIS_SIM_DB": str(records)},
    )
    server = ClassroomServer(settings)
    # serve's own log lines (sessions started and ended, requests refused) on stderr, as
    # "crisis-sim: ..." lines; the root logger is left alone.
    log = logging.getLogger("crisis-sim.serve")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False

    def ready(address: str) -> None:
        click.echo(
            f"{PROG}: serving the app at {address} (listening on {host}:{server.port}; trainee from "
            f"{trainee_header}; at most {max_sessions} sessions, {max_per_trainee} per trainee; idle timeout "
            f"{idle_timeout:g} min; {ready_scenarios} scenarios validated); Ctrl+C stops",
            err=True,
        )

    try:
        server.run(ready)
    except ServeError as exc:
        return fail(str(exc))
    finally:
        log.removeHandler(handler)
    click.echo(f"{PROG}: stopped; every session ended", err=True)
    return 0
