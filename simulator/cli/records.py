"""Records and exports: ``results``, ``regrade``, ``config``, ``export``, ``verify``, ``keygen``."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import click

from simulator.cli.base import (
    DB_OPTION,
    INCLUDE_VOID_OPTION,
    PROG,
    cli,
    fail,
    known_error,
    open_store,
    scenario_for,
)
from simulator.diagnostics import DiagnosticError
from simulator.safetext import escaped_line


def _time_option(end: bool) -> Any:
    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        from simulator.export import FilterError, time_bound

        if value is None:
            return None
        try:
            return time_bound(value, end=end)
        except FilterError as exc:
            raise click.BadParameter(str(exc), ctx, param) from None

    return convert



def filter_options(command: Any) -> Any:
    """The attempt filters that results and export share (all must match): one definition, so
    the two commands cannot drift apart."""
    for option in reversed(
        [
            click.option(
                "--since",
                callback=_time_option(False),
                metavar="DATE",
                help="Attempts started on or after DATE (YYYY-MM-DD or ISO 8601; UTC unless an offset is given).",
            ),
            click.option(
                "--until",
                callback=_time_option(True),
                metavar="DATE",
                help="Attempts started before DATE (a date alone: up to the end of that day).",
            ),
            click.option("--trainee", metavar="ID", help="Only this trainee's attempts."),
            click.option("--scenario", metavar="ID", help="Only attempts at this scenario id."),
            click.option("--cohort", metavar="C", help="Only attempts of this cohort."),
            click.option(
                "--status",
                type=click.Choice(["in_progress", "completed", "abandoned"]),
                help="Only attempts with this status.",
            ),
            click.option(
                "--mode",
                type=click.Choice(["assessment", "coach"]),
                help="Only attempts played in this mode (coach: feedback after each choice).",
            ),
            click.option(
                "--front-end",
                type=click.Choice(["app", "run", "run-scripted"]),
                help="Only attempts recorded by the app, by run played by hand, or by a scripted run.",
            ),
            click.option(
                "--include-scripted",
                is_flag=True,
                help="Also list scripted runs (run --choose/--timeout-at/--policy: nobody chose); "
                "left out by default so they never count as passes.",
            ),
            INCLUDE_VOID_OPTION,
        ]
    ):
        command = option(command)
    return command


def export_filter(**values: Any) -> Any:
    """An ExportFilter from the filter options, or a usage error naming the problem."""
    from simulator.export import ExportError, ExportFilter

    try:
        return ExportFilter(**values)
    except ExportError as exc:
        raise click.UsageError(str(exc)) from None


def warn_placeholder(config: Any) -> None:
    """Say so while the academy's xAPI identity is still the placeholder site (once an LRS has
    the statements, they stay under those IRIs)."""
    from simulator.config import PLACEHOLDER_SITE

    placeholders = config.academy.placeholder_settings()
    if placeholders:
        click.echo(
            f"{PROG}: warning: {' and '.join(placeholders)} still use the placeholder {PLACEHOLDER_SITE}: "
            "the statements name no real academy, and an LRS keeps them under that name; set them to your "
            "academy's site in the config ('crisis-sim config init' writes one to edit)",
            err=True,
        )


@cli.command()
@filter_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per attempt.")
@DB_OPTION
def results(as_json: bool, db: str | None, **filters: Any) -> int:
    """A table of recorded attempts: when, who, which scenario, mode, front end, status, score,
    passed, ending.

    Filters combine (all must match); an unknown --trainee/--scenario/--cohort is an error, not
    an empty table. Scripted runs are left out unless --include-scripted (or --front-end
    run-scripted)."""
    from simulator.export import ExportError

    chosen = export_filter(**filters)
    store = open_store(db, create=False)
    try:
        chosen.check_known(store)
    except ExportError as exc:
        return fail(str(exc))
    rows = []
    for a in chosen.attempts(store):
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "attempt_id": a.id,
                        "trainee_id": a.trainee_id,
                        "scenario_id": a.scenario_id,
                        "started_at": a.started_at,
                        "mode": a.mode,
                        "front_end": a.front_end,
                        "time_pressure": a.time_pressure,
                        "status": a.status,
                        "overall": a.overall,
                        "passed": a.passed,
                        "ending_rating": a.ending_rating,
                        "void": None if not a.void else {
                            "at": a.voided_at, "by": a.voided_by, "reason": a.void_reason
                        },
                    }
                )
            )
            continue
        score = "" if a.overall is None else f"{a.overall:g}"
        passed = "" if a.passed is None else ("yes" if a.passed else "no")
        rows.append(
            (
                a.started_at[:16].replace("T", " "),
                a.id[:8],
                a.trainee_id,
                a.scenario_id,
                a.mode,
                a.front_end,
                a.status.replace("_", " ") + (" VOID" if a.void else ""),
                score,
                passed,
                a.ending_rating or "",
            )
        )
    if as_json:
        return 0
    hidden = 0
    if not (chosen.include_scripted or chosen.front_end):
        hidden = sum(1 for _ in dataclasses.replace(chosen, front_end="run-scripted").attempts(store))
    note = f"({hidden} scripted run(s) left out: --include-scripted lists them)" if hidden else ""
    if not rows:
        filtered = hidden or any(v not in (None, False) for v in filters.values())
        click.echo(" ".join(filter(None, ["no attempts match" if filtered else "no attempts recorded yet", note])))
        return 0
    headers = ("STARTED (UTC)", "ATTEMPT", "TRAINEE", "SCENARIO", "MODE", "FRONT END", "STATUS", "SCORE", "PASSED",
               "ENDING")
    # The records file may have been written by other hands: no escape sequence reaches the terminal.
    rows = [tuple(escaped_line(str(cell)) for cell in row) for row in rows]
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        click.echo("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if note:
        click.echo(note)
    return 0


@cli.command()
@click.option("--trainee", metavar="ID", help="Only this trainee's attempts.")
@click.option("--scenario", metavar="ID", help="Only attempts at this scenario.")
@click.option(
    "--upgrade",
    is_flag=True,
    help="Recompute grades made with an older grading method with the current one and store them, "
    "saying how many changed and by how much.",
)
@DB_OPTION
def regrade(trainee: str | None, scenario: str | None, upgrade: bool, db: str | None) -> int:
    """Recompute every completed attempt's grade from its decisions and compare it with
    everything stored about it: the grade and the columns that listings, the CSV and the app
    show (overall, passed, ending, grading method). Exits 1 if any differ (or cannot be
    recomputed), naming them. The whole file is checked first, as for an export. Voided
    attempts are checked too: they are kept as evidence.

    Grades made with an older grading method are not compared (the method changed, not the
    record) but counted apart; --upgrade recomputes and stores them with the current method."""
    from scoring.grading import GRADE_VERSION, GradeError, grade
    from simulator.recorder import ResumeRefused, check_same_content, stored_decisions
    from simulator.records.rows import grade_columns

    store = open_store(db, create=False, check="full")
    checked = differ = skipped = 0
    older: list[tuple[Any, dict[str, Any], dict[str, Any] | None]] = []  # (attempt, stored, recomputed)
    for a in store.attempts(trainee=trainee, scenario=scenario, status="completed", include_void=True):
        stored = a.grade or {}
        shown = {"overall": a.overall, "passed": a.passed, "ending_scene": a.ending_scene,
                 "ending_rating": a.ending_rating, "grade_method": a.grade_method}
        method = _method(stored, a.grade_method)
        if method > GRADE_VERSION:
            skipped += 1
            click.echo(escaped_line(
                f"{a.id[:8]} {a.scenario_id}: cannot recompute: graded with method {method}, newer than this "
                f"crisis-sim's method {GRADE_VERSION}; upgrade crisis-sim"
            ))
            continue
        if method < GRADE_VERSION:
            # Its columns must still copy its own grade: an edited column is a difference here too.
            columns = [(c, shown[c], v) for c, v in grade_columns(stored).items() if stored and shown[c] != v]
            if columns:
                differ += 1
                click.echo(escaped_line(
                    f"{a.id[:8]} {a.scenario_id} ({a.trainee_id}): stored grade (method {method}) and its columns "
                    "differ in " + "; ".join(f"column {c} (stored {_shown(s)}, in the grade {_shown(v)})"
                                             for c, s, v in columns)
                ))
                continue
            if not upgrade:
                older.append((a, stored, None))
                continue
        try:
            graded = scenario_for(a)
            check_same_content(a, graded.scenario, graded.rubric)
            result = grade(graded.scenario, graded.rubric, stored_decisions(store, a.id))
            fresh = result.as_dict()
        except (DiagnosticError, ResumeRefused, GradeError, OSError) as exc:  # GradeError: decisions missing or edited
            # OSError: the stored scenario path or rubric name is one this system cannot look up
            skipped += 1
            reason = exc.diagnostics[0].message if isinstance(exc, DiagnosticError) else str(exc)
            if isinstance(exc, OSError):
                reason = known_error(exc) or str(exc)
            click.echo(escaped_line(f"{a.id[:8]} {a.scenario_id}: cannot recompute: {reason}"))
            continue
        if method < GRADE_VERSION:
            store.replace_grade(a.id, result)
            older.append((a, stored, fresh))
            continue
        checked += 1
        keys = sorted(k for k in set(fresh) | set(stored) if fresh.get(k) != stored.get(k))
        columns = [(c, shown[c], v) for c, v in grade_columns(fresh).items() if shown[c] != v]
        if keys or columns:
            differ += 1
            parts = []
            if keys:
                parts.append(f"{', '.join(keys)} (stored {stored.get('overall')}, recomputed {fresh['overall']})")
            parts += [f"column {c} (stored {_shown(s)}, recomputed {_shown(v)})" for c, s, v in columns]
            click.echo(
                escaped_line(
                    f"{a.id[:8]} {a.scenario_id} ({a.trainee_id}): stored and recomputed grades differ in "
                    + "; ".join(parts)
                )
            )
    click.echo(
        f"{checked} grade(s) recomputed: {checked - differ} agree, {differ} differ, {skipped} could not be recomputed"
    )
    for line in _older_report(older, GRADE_VERSION):
        click.echo(escaped_line(line))
    return 1 if differ or skipped else 0


def _method(stored: dict[str, Any], column: int | None) -> int:
    """The grading method that made a stored grade: the grade's own ``method`` (the column only
    copies it); grades from before methods were numbered are method 1."""
    method = stored.get("method", column)
    return method if isinstance(method, int) and not isinstance(method, bool) else 1


def _passed(passed: Any) -> str:
    return "passed" if passed else "not passed"


def _older_report(older: list[tuple[Any, dict[str, Any], dict[str, Any] | None]], current: int) -> list[str]:
    """What ``regrade`` says about grades made with an older method: their number, or (after
    --upgrade) each change and how many changed and by how much."""
    if not older:
        return []
    methods = ", ".join(str(m) for m in sorted({_method(s, a.grade_method) for a, s, _ in older}))
    if older[0][2] is None:
        return [
            f"{len(older)} grade(s) were made with an older grading method ({methods}) and were not compared; "
            f"'crisis-sim regrade --upgrade' recomputes and stores them with method {current}"
        ]
    lines, deltas, flips = [], [], 0
    for a, stored, fresh in older:
        assert fresh is not None
        before, after = stored.get("overall"), fresh["overall"]
        flip = bool(stored.get("passed")) != bool(fresh["passed"])
        flips += flip
        if isinstance(before, (int, float)) and not isinstance(before, bool):
            deltas.append((round(after - before, 1), a))
        lines.append(
            f"{a.id[:8]} {a.scenario_id} ({a.trainee_id}): method {_method(stored, a.grade_method)} -> {current}: "
            f"score {_shown(before)} -> {after:g}, {_passed(stored.get('passed'))} -> {_passed(fresh['passed'])}"
        )
    changed = [(d, a) for d, a in deltas if d]
    summary = f"upgraded {len(older)} grade(s) from method {methods} to method {current}: {len(changed)} changed score"
    if changed:
        mean = round(sum(d for d, _ in changed) / len(changed), 1)
        largest, who = max(changed, key=lambda da: abs(da[0]))
        summary += f" (mean change {mean:+g}, largest {largest:+g} on attempt {who.id[:8]})"
    summary += f", {flips} changed between passed and not passed, {len(older) - len(changed)} kept their score"
    return [*lines, summary]


def _shown(value: Any) -> str:
    return "empty" if value is None else ("yes" if value else "no") if isinstance(value, bool) else f"{value}"


@cli.command()
@DB_OPTION
def check(db: str | None) -> int:
    """Check a records file thoroughly and say whether it is sound: its header and identity
    (and that its -wal belongs to it), its exact schema, every page and index
    (PRAGMA integrity_check), and every stored value (types, times, grades). Exits 1 with one
    line naming the first problem. Changes nothing (a file from an older crisis-sim is upgraded
    first, as by every command)."""
    store = open_store(db, create=False, check="full")
    try:
        attempts, decisions = store.check_rows()
        click.echo(
            f"{escaped_line(store.path)}: ok (records schema {store.version()}, identity {store.identity()}, "
            f"{attempts} attempt(s), {decisions} decision(s))"
        )
    finally:
        store.close()
    return 0


@cli.group(invoke_without_command=True)
@click.pass_context
def config(ctx: click.Context) -> int:
    """Show where the config file is and every setting in effect ('config init' writes one)."""
    if ctx.invoked_subcommand is not None:
        return 0
    from simulator.config import (
        CONFIG_ENV,
        DB_PASSWORD_ENV,
        LRS_PASSWORD_ENV,
        config_path,
        last_trainee,
        load_config,
        resolve_db,
    )

    path = config_path()
    settings = load_config(path)
    exists = "exists" if path.exists() else "not created yet; all settings below are defaults"
    # Paths come from the environment and the state file from other hands: shown escaped, so
    # nothing in them acts on the terminal (the settings are JSON, escaped already).
    say = lambda line: click.echo(escaped_line(line))  # noqa: E731
    say(f"config file: {path} ({exists}; set {CONFIG_ENV} to use another)")
    records = resolve_db(None, settings)
    say(f"records {'server' if isinstance(records, str) else 'file'}: {records}")
    from scoring.library_cache import cache_dir

    say(f"library cache: {cache_dir()} (safe to delete; rebuilt as needed)")
    for section, values in settings.model_dump().items():
        say(f"[{section}]")
        for key, value in values.items():
            say(f"  {key} = {json.dumps(value)}")
    password = "set" if os.environ.get(LRS_PASSWORD_ENV) else "not set"
    say(f"LRS password ({LRS_PASSWORD_ENV}): {password}")
    if isinstance(records, str):
        password = "set" if os.environ.get(DB_PASSWORD_ENV) or os.environ.get("PGPASSWORD") else "not set"
        say(f"records server password ({DB_PASSWORD_ENV} or PGPASSWORD): {password}")
    last = last_trainee()
    say(f"last trainee on this machine: {last[0] + ' (' + last[1] + ')' if last else 'none'}")
    return 0


@config.command(name="init")
def config_init() -> int:
    """Write a commented config file (every setting, commented out, with what it does) where
    'crisis-sim config' looks for it; an existing file is never overwritten."""
    from simulator.config import config_path, write_commented_config

    path = config_path()
    write_commented_config(path)
    click.echo(escaped_line(f"wrote {path}: every setting is commented out; remove the '# ' in front of one to use it"))
    return 0


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl", "xapi"]),
    required=True,
    help="csv: a spreadsheet, one row per attempt; jsonl: one JSON object per attempt with the full grade and "
    "decisions; xapi: xAPI statements (to a file, or to an LRS with --lrs).",
)
@click.option("--out", metavar="FILE|-", help="Write to FILE (replaced only when complete); '-' or none: stdout.")
@filter_options
@click.option("--excel", is_flag=True, help="csv: start with a UTF-8 byte order mark so Excel reads accents right.")
@click.option("--decisions", is_flag=True, help="csv: one row per decision (the long format) instead of per attempt.")
@DB_OPTION
@click.option(
    "--lrs",
    metavar="URL",
    is_flag=False,
    flag_value="",
    help="xapi: send the statements to this LRS ('--lrs' alone: [lrs] url from the config); the password is read "
    "from CRISIS_SIM_LRS_PASSWORD.",
)
@click.option("--lrs-user", metavar="USER", help="xapi: the LRS basic-auth user (default: [lrs] user).")
@click.option("--include-incomplete", is_flag=True, help="xapi: also describe in-progress and abandoned attempts.")
@click.option(
    "--sign",
    is_flag=True,
    help="Also write FILE.sig, an HMAC-SHA256 signature with the academy key, for 'crisis-sim verify FILE' "
    "(needs --out FILE; key: CRISIS_SIM_SIGNING_KEY or [signing] key_file).",
)
def export(
    fmt: str,
    out: str | None,
    excel: bool,
    decisions: bool,
    db: str | None,
    lrs: str | None,
    lrs_user: str | None,
    include_incomplete: bool,
    sign: bool,
    **filter_values: Any,
) -> int:
    """Export attempt records as CSV, JSON Lines or xAPI (to a file or an LRS).

    Filters combine (all must match). An unknown --trainee/--scenario/--cohort (no attempt has
    it) is an error, so a typo is not mistaken for 'no results'. Exports stream, so any number
    of attempts fits in memory. Columns and shapes: docs/records-and-exports.md.
    """
    from simulator.config import LRS_PASSWORD_ENV, ConfigError, expand_home, load_config, resolve_db
    from simulator.export import ExportError, open_for_export, open_output
    from simulator.export.signing import (
        SigningError,
        check_signature_target,
        drop_stale_signature,
        load_key,
        sign_file,
    )
    from simulator.records import StoreError

    if fmt != "csv" and (excel or decisions):
        raise click.UsageError("--excel and --decisions apply to --format csv only")
    if fmt != "xapi" and (lrs is not None or lrs_user or include_incomplete):
        raise click.UsageError("--lrs, --lrs-user and --include-incomplete apply to --format xapi only")
    if lrs is not None and out is not None:
        raise click.UsageError("--lrs sends the statements; leave out --out (or drop --lrs to write a file)")
    if sign and (lrs is not None or out in (None, "-")):
        raise click.UsageError("--sign needs --out FILE (the signature is written beside it, in FILE.sig)")
    if sign and Path(out).exists() and not Path(out).is_file():
        raise click.UsageError(f"--sign needs --out to be a file, and {out} is a device or a pipe")
    filters = export_filter(**filter_values)
    try:
        config = load_config()
        path = resolve_db(db, config)
        protect = {} if isinstance(path, str) else {path: "the records file"}
        if config.signing.key_file:
            protect[expand_home(config.signing.key_file)] = "the signing key file ([signing] key_file)"
        key = load_key(config.signing.key_file) if sign else None
        if sign:
            check_signature_target(out, protect)  # before anything is written
        password = None
        if lrs is not None:
            lrs = lrs or config.lrs.url
            lrs_user = lrs_user or config.lrs.user
            password = os.environ.get(LRS_PASSWORD_ENV) or None
            if not lrs:
                return fail("--lrs needs a URL (or [lrs] url in the config)")
            if lrs_user and not password:
                return fail(
                    f"set {LRS_PASSWORD_ENV} to the password of LRS user '{lrs_user}' "
                    "(it is never read from a flag or a file)"
                )
        with open_for_export(path) as store:
            filters.check_known(store)
            if lrs is not None:
                from simulator.export.lrs import send_to_lrs

                warn_placeholder(config)  # before anything leaves for good
                report = send_to_lrs(
                    store, lrs, lrs_user or None, password, filters, config, include_incomplete=include_incomplete
                )
                click.echo(report.summary())
                for line in report.rejections():
                    click.echo(escaped_line(f"{PROG}: {line}"), err=True)
                return 0 if report.ok else 1
            try:
                with open_output(out, protect=protect) as stream:
                    if fmt == "csv":
                        from simulator.export.tabular import write_csv

                        count = write_csv(store, stream, filters, excel=excel, decisions=decisions)
                        what = "row(s)"
                    elif fmt == "jsonl":
                        from simulator.export.tabular import write_jsonl

                        count = write_jsonl(store, stream, filters)
                        what = "attempt(s)"
                    else:
                        from simulator.export.xapi import write_statements

                        count = write_statements(
                            store,
                            stream,
                            filters,
                            config.academy,
                            include_incomplete=include_incomplete,
                            typed_text=config.freetext.send_typed_text,
                        )
                        what = "statement(s)"
            except BrokenPipeError:
                raise
            except OSError as exc:
                return fail(f"cannot write the export: {exc.strerror or exc}")
        if fmt == "xapi":
            warn_placeholder(config)
        if out not in (None, "-"):
            say = lambda line: click.echo(escaped_line(line))  # noqa: E731  (--out may hold anything)
            say(f"wrote {count} {what} to {out}")
            if key is not None:
                say(f"signed it: {sign_file(out, key)} (check with 'crisis-sim verify {out}')")
            elif (stale := drop_stale_signature(out)) is not None:
                say(f"removed {stale}: it signed the previous export, and this one is not signed")
    except (StoreError, ConfigError, ExportError, SigningError) as exc:
        return fail(str(exc))
    return 0


@cli.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--signature", metavar="SIG", help="The signature file (default: FILE.sig); only with one FILE.")
def verify(files: tuple[str, ...], signature: str | None) -> int:
    """Check that signed exports are exactly as 'export --sign' wrote them.

    Prints one line per FILE; exits 1 if any was changed after signing, was signed with
    another key, or has no signature. Needs the same academy key as the export
    (CRISIS_SIM_SIGNING_KEY or [signing] key_file). A trainee's own records file is never
    proof on its own: ask for a signed export made on a machine that holds the key.
    """
    from simulator.config import ConfigError, load_config
    from simulator.export.signing import SigningError, load_key, verify_file

    if signature and len(files) > 1:
        raise click.UsageError("--signature names the signature of one FILE; give one FILE with it")
    try:
        key = load_key(load_config().signing.key_file)
    except (ConfigError, SigningError) as exc:
        return fail(str(exc))
    failed = 0
    for name in files:
        try:
            verdict = verify_file(name, key, signature)
        except SigningError as exc:
            failed += 1
            click.echo(f"{PROG}: error: {escaped_line(str(exc))}", err=True)
            continue
        if verdict.ok:
            click.echo(escaped_line(verdict.message))  # a file name may hold anything
        else:
            failed += 1
            click.echo(f"{PROG}: error: {escaped_line(verdict.message)}", err=True)
    return 1 if failed else 0


@cli.command()
@click.argument("key_file", metavar="FILE")
def keygen(key_file: str) -> int:
    """Create a new academy signing key in FILE (random, 256 bits, readable by its owner only).

    Point '[signing] key_file' at it on the machines that export records (or put its content in
    CRISIS_SIM_SIGNING_KEY). Keep it off trainees' machines and keep a backup: exports signed with
    it can only be verified with it. FILE is never overwritten.
    """
    from simulator.export.signing import SigningError, fingerprint, load_key, new_key_file

    try:
        path = new_key_file(key_file)
        print_key = fingerprint(load_key(str(path), environ={}))
    except SigningError as exc:
        return fail(str(exc))
    click.echo(escaped_line(f"wrote a new signing key to {path} (fingerprint {print_key}); add to the config:"))
    click.echo("[signing]")
    click.echo(f"key_file = {json.dumps(str(path.resolve()))}")
    return 0
