"""Settings for a machine or an academy, in one TOML file.

Where: ``CRISIS_SIM_CONFIG`` if set, else ``config.toml`` in the user config folder
(platformdirs). Every key is optional; ``crisis-sim config`` shows the file and what is set.
Secrets never live here: the LRS password comes from ``CRISIS_SIM_LRS_PASSWORD`` only, and the
export-signing key from ``CRISIS_SIM_SIGNING_KEY`` or a separate key file named by ``[signing]``.

The last trainee who signed in on this machine is remembered separately, in a small state file
(``last-trainee.json`` in the user state folder), so the app never rewrites the config file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from simulator.safefile import read_regular

CONFIG_ENV = "CRISIS_SIM_CONFIG"
MAX_CONFIG_BYTES = 1 << 20
"""A config file is a few hundred bytes; anything past 1 MiB is not one."""

TRAINEE_ID = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
"""A trainee id, wherever it comes from (sign-in screen, --trainee, the config): 1-64 letters,
digits, '.', '_' or '-'. Ids are stored in records and printed in tables and exports, so
terminal escapes, bidi overrides and markup never get into one. Anchored with ``\\Z`` (not
``$``, which also matches before a final newline: ``"t1\\n"`` would be a second identity), so
even ``.match`` is safe; check with ``is_trainee_id``."""
TRAINEE_ID_HELP = "1-64 letters, digits, '.', '_' or '-' (no spaces), e.g. recruit-042"
LRS_PASSWORD_ENV = "CRISIS_SIM_LRS_PASSWORD"
DB_PASSWORD_ENV = "CRISIS_SIM_DB_PASSWORD"
DISPLAY_NAME_CHARS = 60
"""The longest display name (the sign-in field holds this many characters)."""
COHORT_CHARS = 64
"""The longest cohort name."""
_JOINERS = "\u200c\u200d"
"""Zero-width (non-)joiners: format characters, but needed to write Persian, Indic scripts and
emoji sequences, and harmless on a terminal; every other format character is refused."""


def is_trainee_id(text: str) -> bool:
    return TRAINEE_ID.fullmatch(text) is not None


def label_problem(text: str, limit: int) -> str | None:
    """Why ``text`` cannot be a display name or cohort (printed in tables, exports and the app),
    or None. Printable characters only (Python's ``str.isprintable``: no control, format, bidi,
    private-use, unassigned or line-separator characters, and no whitespace but the space), at
    most ``limit`` of them, and not blank."""
    if not text.strip():
        return "is empty"
    if len(text) > limit:
        return f"is {len(text)} characters long (at most {limit})"
    bad = sorted({f"U+{ord(c):04X}" for c in text if not (c.isprintable() or c in _JOINERS)})
    if bad:
        return f"holds {', '.join(bad[:5])}: only printable characters (no control, invisible or bidi characters)"
    return None


class ConfigError(Exception):
    """A broken config file; the message is one line naming the file (and line when known)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TraineeSettings(_Section):
    id: str | None = Field(None, description="Default trainee id for 'run' and the app.", examples=["recruit-042"])
    name: str | None = Field(None, description="Display name for that trainee.", examples=["Alex"])

    @field_validator("id")
    @classmethod
    def _id(cls, value: str | None) -> str | None:
        if value is not None and not is_trainee_id(value):
            shown = value if len(value) <= 40 else value[:40] + "..."
            raise ValueError(f"{shown!a} is not a trainee id: use {TRAINEE_ID_HELP}")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and (problem := label_problem(value, DISPLAY_NAME_CHARS)):
            raise ValueError(f"the display name {problem}")
        return value


class RecordsSettings(_Section):
    db: str | None = Field(
        None, description="Records file; --db and CRISIS_SIM_DB override it.", examples=["~/academy/records.sqlite3"]
    )
    url: str | None = Field(
        None,
        description="Records on a PostgreSQL server, postgresql://USER@HOST/DB (needs crisis-sim[postgres]; the "
        "password comes from CRISIS_SIM_DB_PASSWORD or PGPASSWORD); --db and CRISIS_SIM_DB override it.",
        examples=["postgresql://crisis-sim@records.academy.example/crisis_sim"],
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None:
            if not value.startswith(("postgresql://", "postgres://")):
                raise ValueError("a records URL starts with postgresql:// (a file goes in [records] db)")
            if re.match(r"\A[a-z]+://[^/@]*:[^/@]*@", value):
                raise ValueError("put no password in the URL: set CRISIS_SIM_DB_PASSWORD (or PGPASSWORD)")
        return value

    @model_validator(mode="after")
    def _one(self) -> RecordsSettings:
        if self.db is not None and self.url is not None:
            raise ValueError("set [records] db (a file) or [records] url (a PostgreSQL server), not both")
        return self


PLACEHOLDER_SITE = "https://crisis-sim.invalid"
"""The default academy site: '.invalid' can never be anyone's domain (RFC 2606), so an LRS that
received statements under it holds them under no academy's name. ``export --format xapi`` warns
while it is in use."""


class AcademySettings(_Section):
    name: str = Field("crisis-sim", description="Academy name, shown in exports.")
    homepage: str = Field(PLACEHOLDER_SITE, description="xAPI actor account homePage (the academy's site).")
    base_iri: str = Field(
        f"{PLACEHOLDER_SITE}/xapi", description="Base IRI for activity ids and result extensions."
    )

    def placeholder_settings(self) -> list[str]:
        """The xAPI identity settings still on the placeholder site (to warn before exporting)."""
        site = PLACEHOLDER_SITE.split("//", 1)[1]
        return [f"[academy] {name}" for name in ("homepage", "base_iri") if site in getattr(self, name)]
    cohort: str | None = Field(None, description="Cohort stamped on new attempts (e.g. '2026-fall').",
                               examples=["2026-fall"])
    locked: bool = Field(False, description="Locked mode: assessment only, time pressure as authored.")
    shared_machine: bool = Field(
        False,
        description="Several trainees use this machine: the sign-in form starts empty and the last "
        "trainee is not remembered.",
    )

    @field_validator("cohort")
    @classmethod
    def _cohort(cls, value: str | None) -> str | None:
        if value is not None and (problem := label_problem(value, COHORT_CHARS)):
            raise ValueError(f"the cohort {problem}")
        return value


class LrsSettings(_Section):
    url: str | None = Field(
        None, description="LRS endpoint, e.g. https://lrs.example/xAPI.", examples=["https://lrs.example/xAPI"]
    )
    user: str | None = Field(
        None, description="Basic-auth user; the password is read from CRISIS_SIM_LRS_PASSWORD.", examples=["crisis-sim"]
    )
    batch: int = Field(50, ge=1, le=1000, description="Statements per request.")
    timeout: float = Field(15.0, gt=0, le=300, description="Seconds to wait for each request.")
    retries: int = Field(4, ge=0, le=10, description="Retries of a failed request, with backoff.")
    proxy: str | None = Field(
        None,
        description="HTTP proxy for the LRS, http://HOST:PORT (the environment's http_proxy/HTTPS_PROXY are "
        "never used for the LRS); with an http:// LRS it must be https:// or on this machine.",
        examples=["http://proxy.academy.example:3128"],
    )


class SigningSettings(_Section):
    key_file: str | None = Field(
        None,
        description="File holding the academy key for 'export --sign' and 'verify' (owner-only; "
        "CRISIS_SIM_SIGNING_KEY overrides it). The key itself never goes in this file.",
        examples=["/etc/crisis-sim/academy.key"],
    )


class ScenarioSettings(_Section):
    max_bytes: int | None = Field(
        None,
        ge=1,
        description="Largest scenario file read, in bytes (unset: 5 MiB, 5242880); --max-bytes overrides it.",
        examples=[50_000_000],
    )


class LibrarySettings(_Section):
    dirs: list[str] = Field(
        default_factory=list,
        description="The academy's own scenario folders, listed in the trainee app beside the bundled "
        "library ('~' is expanded); a scenario there replaces a bundled one with the same id.",
        examples=[["~/academy/scenarios"]],
    )


class FreeTextSettings(_Section):
    enabled: bool = Field(
        False,
        description="Free-text answers start on in the app's briefing for trainees who have not chosen "
        "(each trainee's own choice is remembered).",
    )
    send_typed_text: bool = Field(
        False,
        description="xAPI: put what trainees typed in free-text play in their 'answered' statements "
        "(personal data; off, it stays in the records and the JSON Lines export).",
    )


class Config(_Section):
    trainee: TraineeSettings = TraineeSettings()
    records: RecordsSettings = RecordsSettings()
    academy: AcademySettings = AcademySettings()
    library: LibrarySettings = LibrarySettings()
    lrs: LrsSettings = LrsSettings()
    signing: SigningSettings = SigningSettings()
    scenarios: ScenarioSettings = ScenarioSettings()
    freetext: FreeTextSettings = FreeTextSettings()


def config_path() -> Path:
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    from platformdirs import user_config_path

    return user_config_path("crisis-sim", appauthor=False) / "config.toml"


def load_config(path: Path | None = None) -> Config:
    """The settings (defaults when the file does not exist); ConfigError when it is broken."""
    path = path or config_path()
    try:
        raw = read_regular(path, MAX_CONFIG_BYTES)
    except FileNotFoundError:
        return Config()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the config file is not UTF-8; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        text = str(exc)
        match = re.search(r"\(at line (\d+), column (\d+)\)", text)
        where = f"{path}:{match.group(1)}:{match.group(2)}" if match else str(path)
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", text) or "invalid TOML"
        raise ConfigError(f"{where}: error: {message}") from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        unknown = err["type"] == "extra_forbidden"
        why = str(err["ctx"]["error"]) if err["type"] == "value_error" else err["msg"]
        what = f"unknown setting '{loc}'{setting_hint(err['loc'])}" if unknown else f"setting '{loc}': {why}"
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ConfigError(f"{path}: error: {what}{more}") from None


def setting_hint(loc: tuple[int | str, ...]) -> str:
    """`` (did you mean 'academy.locked'?)`` for a mistyped section or key, else how to list them."""
    from simulator.diagnostics import did_you_mean

    model: type[BaseModel] = Config
    for part in loc[:-1]:  # down to the section that holds the unknown key
        field = model.model_fields.get(str(part))
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return ""
        model = field.annotation
    hint = did_you_mean(str(loc[-1]), model.model_fields)  # the key alone: a shared section is no likeness
    prefix = "".join(f"{p}." for p in loc[:-1])
    return hint.replace(" (did you mean '", f" (did you mean '{prefix}") or "; 'crisis-sim config' lists every setting"


COMMENTED_HEADER = """\
# crisis-sim settings for this machine or academy. Every setting is optional: a line that
# starts with '#' is not in effect and shows the default or an example. Remove the '# ' in
# front of a setting to use it. 'crisis-sim config' shows what is in effect; the settings
# are described in docs/records-and-exports.md. Secrets never go here: the LRS password is
# read from CRISIS_SIM_LRS_PASSWORD, the signing key from its own file.
"""


def _toml_value(value: object) -> str:
    """A setting's value in TOML (strings, numbers, booleans and lists of strings)."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value)  # a JSON string or list of strings is valid TOML


def commented_config() -> str:
    """The text of a config file with every section and setting, each commented out with its
    description and its default (or an example): built from the settings models, so it cannot
    fall behind them. Loading it gives the defaults."""
    import textwrap

    lines = [COMMENTED_HEADER]
    for section, field in Config.model_fields.items():
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        lines.append(f"[{section}]")
        for name, setting in model.model_fields.items():
            lines += textwrap.wrap(setting.description or "", 96, initial_indent="# ", subsequent_indent="# ")
            default = setting.get_default(call_default_factory=True)
            example = (setting.examples or [None])[0]
            shown = default if default not in (None, []) or example is None else example
            lines.append(f"# {name} = {_toml_value(shown)}")
        lines.append("")
    return "\n".join(lines)


def write_commented_config(path: Path) -> None:
    """Write ``commented_config()`` to ``path``; never over an existing file (ConfigError)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as out:
            out.write(commented_config())
    except FileExistsError:
        raise ConfigError(f"{path}: a config file is already there; it was left as it is "
                          "(edit it, or move it away to write a fresh one)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the config file ({exc.strerror})") from None


def state_path() -> Path:
    from platformdirs import user_state_path

    return user_state_path("crisis-sim", appauthor=False) / "last-trainee.json"


STATE_MAX_BYTES = 64 * 1024
"""``last-trainee.json`` is two short strings; anything bigger is not ours and is not read."""


class _LastTrainee(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    id: str
    name: str | None = None


def remember_trainee(trainee_id: str, name: str) -> None:
    """Remember who signed in last on this machine (best effort: a read-only home is fine).
    The file names a person, so it is readable by its owner only, from its first byte."""
    path = state_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"id": trainee_id, "name": name}))
        tmp.replace(path)
    except OSError:
        pass


def last_trainee() -> tuple[str, str] | None:
    """Who signed in last, or None when nobody did or the file is not one crisis-sim wrote
    (too big, not JSON, nested, an id that is not a trainee id): the sign-in screen then
    simply starts empty."""
    try:
        raw = read_regular(state_path(), STATE_MAX_BYTES)  # a FIFO or /dev/zero: OSError, never a hang
        data = _LastTrainee.model_validate_json(raw)
    except (OSError, ValidationError):
        return None
    if not is_trainee_id(data.id):
        return None
    name = data.name or data.id
    return data.id, name if label_problem(name, DISPLAY_NAME_CHARS) is None else data.id


def expand_home(text: str) -> Path:
    """``~`` and ``~user`` expanded; ``~name`` of a user this system does not know stays as
    written (Path.expanduser raises for it), so a typo is a 'no such file' line, not a crash."""
    try:
        return Path(text).expanduser()
    except RuntimeError:
        return Path(text)


def scenario_max_bytes(cli_value: int | None, config: Config | None) -> int:
    """The scenario size cap: ``--max-bytes`` wins, then ``[scenarios] max_bytes``, then the
    loader's default (5 MiB)."""
    if cli_value is not None:
        return cli_value
    if config is not None and config.scenarios.max_bytes is not None:
        return config.scenarios.max_bytes
    from simulator.sources import DEFAULT_MAX_BYTES

    return DEFAULT_MAX_BYTES


def resolve_db(cli_value: str | None, config: Config) -> Path | str:
    """``--db`` wins, then ``CRISIS_SIM_DB``, then ``[records] url`` or ``db``, then the user
    data folder. A ``postgresql://`` URL is returned as text (a path would fold its ``//``)."""
    for given in (cli_value, os.environ.get("CRISIS_SIM_DB")):
        if given:  # a URL stays text: the store refuses any but postgresql:// in one line
            return given if re.match(r"\A[A-Za-z][A-Za-z0-9+.-]*://", given) else Path(given)
    if config.records.url:
        return config.records.url
    if config.records.db:
        return expand_home(config.records.db)
    from platformdirs import user_data_path

    return user_data_path("crisis-sim", appauthor=False) / "records.sqlite3"
