"""Signed exports: `export --sign` writes FILE.sig, `verify` catches any edit to the file or the
signature, a wrong key, a missing signature; keys come from the environment or an owner-only
key file named in the config, never from the config itself."""

from __future__ import annotations

import csv
import json
import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from cli_runner import run_cli
from conftest import sqlite_only
from hypothesis import given
from hypothesis import strategies as st
from records_factory import play
from scenario_factory import SAMPLE_BEST

from simulator.export.signing import SIGNING_KEY_ENV, fingerprint, sign_file, verify_file
from simulator.records import open_store

KEY = "k" * 40
OTHER_KEY = "z" * 40


@pytest.fixture(scope="module")
def db(module_store) -> str:
    """Two graded attempts, in each kind of store (a file path or a PostgreSQL URL)."""
    with open_store(module_store.db) as store:
        play(store, "ana", SAMPLE_BEST, started_at="2026-03-01T09:00:00.000Z")
        play(store, "bo", ["order-down"], started_at="2026-03-02T10:00:00.000Z")
    return module_store.db


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code, out, err = run_cli(list(argv))
    assert "Traceback" not in out + err
    return code, out, err


def one_line_error(result: tuple[int, str, str], code: int = 1) -> str:
    rc, _, err = result
    assert rc == code, result
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crisis-sim: error: "), err
    return lines[0]


def signed_export(capsys, db: Path, out: Path, fmt: str = "csv") -> None:
    rc, stdout, err = run(capsys, "export", "--format", fmt, "--db", str(db), "--out", str(out), "--sign")
    assert rc == 0, err
    assert f"signed it: {out}.sig" in stdout


@pytest.fixture
def key_env(monkeypatch):
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)


def test_a_signed_csv_verifies_and_a_trainee_who_raises_a_score_is_caught(capsys, db, tmp_path, key_env):
    out = tmp_path / "scores.csv"
    signed_export(capsys, db, out)
    rc, stdout, _ = run(capsys, "verify", str(out))
    assert rc == 0 and stdout.startswith(f"{out}: verified")

    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["trainee_id"] for r in rows] == ["ana", "bo"]
    assert rows[1]["passed"] == "false"
    rows[1]["overall"], rows[1]["passed"] = "100.0", "true"  # what a trainee would do in a spreadsheet
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
    line = one_line_error(run(capsys, "verify", str(out)))
    assert "NOT verified" in line and "changed after signing" in line


@pytest.mark.parametrize("fmt", ["jsonl", "xapi"])
def test_other_formats_sign_and_verify_too(capsys, db, tmp_path, key_env, fmt):
    out = tmp_path / f"export.{fmt}"
    signed_export(capsys, db, out, fmt)
    assert run(capsys, "verify", str(out))[0] == 0
    out.write_bytes(out.read_bytes() + b"\n")
    assert "changed after signing" in one_line_error(run(capsys, "verify", str(out)))


@given(data=st.data())
def test_any_edit_of_the_file_fails_verification(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("edit")
    path = folder / "e.csv"
    original = data.draw(st.binary(min_size=1, max_size=300), label="file")
    path.write_bytes(original)
    key = KEY.encode()
    sign_file(path, key)
    assert verify_file(path, key).ok
    edit = data.draw(st.sampled_from(["flip", "insert", "delete", "append", "truncate"]), label="edit")
    at = data.draw(st.integers(0, len(original) - 1), label="at")
    changed = {
        "flip": original[:at] + bytes([original[at] ^ data.draw(st.integers(1, 255))]) + original[at + 1 :],
        "insert": original[:at] + data.draw(st.binary(min_size=1, max_size=5)) + original[at:],
        "delete": original[:at] + original[at + 1 :],
        "append": original + data.draw(st.binary(min_size=1, max_size=5)),
        "truncate": original[:at],
    }[edit]
    path.write_bytes(changed)
    verdict = verify_file(path, key)
    assert not verdict.ok and "changed after signing" in verdict.message


@pytest.mark.parametrize(
    ("field", "value"),
    [("signed_at", "2020-01-01T00:00:00Z"), ("bytes", 1), ("sha256", "0" * 64), ("mac", "0" * 64)],
)
def test_editing_the_signature_fails_verification(tmp_path, field, value):
    path = tmp_path / "s.jsonl"
    path.write_text('{"score": 40}\n', encoding="utf-8")
    sig = sign_file(path, KEY.encode())
    fields = json.loads(sig.read_text())
    fields[field] = value
    sig.write_text(json.dumps(fields))
    assert not verify_file(path, KEY.encode()).ok


def test_another_key_is_named_as_such(capsys, db, tmp_path, monkeypatch):
    out = tmp_path / "scores.csv"
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)
    signed_export(capsys, db, out)
    monkeypatch.setenv(SIGNING_KEY_ENV, OTHER_KEY)
    line = one_line_error(run(capsys, "verify", str(out)))
    assert f"signed with another key (fingerprint {fingerprint(KEY.encode())}" in line


def test_keygen_then_key_file_from_the_config(capsys, db, tmp_path, monkeypatch):
    key_file = tmp_path / "academy.key"
    rc, stdout, _ = run(capsys, "keygen", str(key_file))
    assert rc == 0 and "[signing]" in stdout
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_text().strip()) == 64
    assert "never replaces a key" in one_line_error(run(capsys, "keygen", str(key_file)))

    config = tmp_path / "config.toml"
    config.write_text(f'[signing]\nkey_file = "{key_file}"\n', encoding="utf-8")
    monkeypatch.setenv("CRISIS_SIM_CONFIG", str(config))
    out = tmp_path / "scores.csv"
    signed_export(capsys, db, out)
    assert run(capsys, "verify", str(out))[0] == 0
    rc, shown, _ = run(capsys, "config")
    assert rc == 0 and str(key_file) in shown and key_file.read_text().strip() not in shown

    key_file.chmod(0o644)
    assert "chmod 600" in one_line_error(run(capsys, "verify", str(out)))
    key_file.unlink()
    assert "no signing key file" in one_line_error(run(capsys, "verify", str(out)))


def test_without_a_usable_key_nothing_is_exported(capsys, db, tmp_path, monkeypatch):
    out = tmp_path / "scores.csv"
    args = ("export", "--format", "csv", "--db", str(db), "--out", str(out), "--sign")
    assert "no signing key" in one_line_error(run(capsys, *args))
    monkeypatch.setenv(SIGNING_KEY_ENV, "short")
    assert "too short" in one_line_error(run(capsys, *args))
    assert not out.exists()


@pytest.mark.parametrize("extra", [(), ("--out", "-"), ("--lrs", "http://127.0.0.1:9")])
def test_sign_needs_an_output_file(capsys, db, key_env, extra):
    fmt = "xapi" if "--lrs" in extra else "csv"
    line = one_line_error(run(capsys, "export", "--format", fmt, "--db", str(db), "--sign", *extra), code=2)
    assert "--sign needs --out FILE" in line


def test_an_unsigned_export_removes_the_stale_signature(capsys, db, tmp_path, key_env):
    out = tmp_path / "scores.csv"
    signed_export(capsys, db, out)
    rc, stdout, _ = run(capsys, "export", "--format", "csv", "--db", str(db), "--out", str(out))
    assert rc == 0 and "removed" in stdout
    assert not Path(f"{out}.sig").exists()
    assert "was not signed" in one_line_error(run(capsys, "verify", str(out)))


def test_verify_reports_each_file_and_fails_if_any_fails(capsys, db, tmp_path, key_env):
    good, damaged = tmp_path / "good.csv", tmp_path / "damaged.csv"
    signed_export(capsys, db, good)
    signed_export(capsys, db, damaged)
    Path(f"{damaged}.sig").write_text("{not json", encoding="utf-8")
    rc, stdout, err = run(capsys, "verify", str(good), str(damaged), str(tmp_path / "missing.csv"), f"{good}.sig")
    assert rc == 1
    assert stdout.count("verified") == 1
    errors = err.strip().splitlines()
    assert len(errors) == 3
    assert "cannot be read" in errors[0]
    assert "no file at" in errors[1]
    assert f"crisis-sim verify {good}" in errors[2]


def test_key_is_never_echoed(capsys, db, tmp_path, monkeypatch, key_env):
    out = tmp_path / "scores.csv"
    signed_export(capsys, db, out)
    monkeypatch.setenv(SIGNING_KEY_ENV, OTHER_KEY)
    rc, stdout, err = run(capsys, "verify", str(out))
    assert rc == 1 and OTHER_KEY not in stdout + err and KEY not in stdout + err
    assert KEY not in Path(f"{out}.sig").read_text()


def test_a_pipe_as_out_is_written_through_and_never_replaced_or_signed(capsys, db, tmp_path, key_env):
    """`--out /dev/null` as root used to rename a temporary file over /dev/null; a FIFO takes
    the same path through the code without putting the machine at risk."""
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    rc, _, err = run(capsys, "export", "--format", "csv", "--db", str(db), "--out", str(fifo))
    reader.join(timeout=30)
    assert rc == 0, err
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received and received[0].startswith(b"attempt_id,")
    assert not list(tmp_path.glob(".pipe.*.part"))

    args = ("export", "--format", "csv", "--db", str(db), "--out", str(fifo), "--sign")
    assert "is a device or a pipe" in one_line_error(run(capsys, *args), code=2)
    assert stat.S_ISFIFO(fifo.stat().st_mode) and not Path(f"{fifo}.sig").exists()


# ---- what an export may replace or remove (issue 12, item 9) ----------------------------------------


def copy_of(db: str, target: Path) -> Path:
    sqlite_only(SimpleNamespace(kind="postgresql" if db.startswith("postgresql://") else "sqlite"),
                "about the records file's own name")
    target.write_bytes(Path(db).read_bytes())
    return target


def test_an_unsigned_export_never_removes_a_sig_that_is_the_records_file_or_not_a_signature(capsys, db, tmp_path):
    records = copy_of(db, tmp_path / "scores.csv.sig")  # the records file happens to be named FILE.sig
    before = records.read_bytes()
    out = tmp_path / "scores.csv"
    rc, stdout, err = run(capsys, "export", "--format", "csv", "--db", str(records), "--out", str(out))
    assert rc == 0, err
    assert records.read_bytes() == before and "removed" not in stdout
    gpg = tmp_path / "other.csv.sig"
    gpg.write_bytes(b"-----BEGIN PGP SIGNATURE-----\n...\n")
    rc, stdout, err = run(capsys, "export", "--format", "csv", "--db", str(db), "--out", str(tmp_path / "other.csv"))
    assert rc == 0 and gpg.read_bytes().startswith(b"-----BEGIN PGP") and "removed" not in stdout


def test_sign_never_replaces_the_records_file_the_key_file_or_another_file(capsys, db, tmp_path, monkeypatch):
    key_file = tmp_path / "academy.key"
    assert run(capsys, "keygen", str(key_file))[0] == 0
    config = tmp_path / "config.toml"
    config.write_text(f'[signing]\nkey_file = "{key_file}"\n', encoding="utf-8")
    monkeypatch.setenv("CRISIS_SIM_CONFIG", str(config))
    key = key_file.read_bytes()

    records = copy_of(db, tmp_path / "scores.csv.sig")
    before = records.read_bytes()
    out = tmp_path / "scores.csv"
    line = one_line_error(run(capsys, "export", "--format", "csv", "--db", str(records), "--out", str(out), "--sign"))
    assert f"{records} is the records file; --sign would replace it" in line
    assert records.read_bytes() == before and not out.exists()

    # FILE.sig is the key file (a symbolic link to it, and the key file itself)
    link = tmp_path / "k.csv.sig"
    link.symlink_to(key_file)
    line = one_line_error(run(capsys, "export", "--format", "csv", "--db", str(db), "--out", str(tmp_path / "k.csv"),
                              "--sign"))
    assert "is the signing key file" in line and key_file.read_bytes() == key and link.is_symlink()
    direct = tmp_path / "direct.csv.sig"  # the key file itself is named FILE.sig
    assert run(capsys, "keygen", str(direct))[0] == 0
    config.write_text(f'[signing]\nkey_file = "{direct}"\n', encoding="utf-8")
    direct_key = direct.read_bytes()
    out = tmp_path / "direct.csv"
    line = one_line_error(run(capsys, "export", "--format", "csv", "--db", str(db), "--out", str(out), "--sign"))
    assert f"{direct} is the signing key file" in line and direct.read_bytes() == direct_key and not out.exists()

    gpg = tmp_path / "g.csv.sig"
    gpg.write_bytes(b"-----BEGIN PGP SIGNATURE-----\n")
    line = one_line_error(run(capsys, "export", "--format", "csv", "--db", str(db), "--out", str(tmp_path / "g.csv"),
                              "--sign"))
    assert "exists and is not a crisis-sim signature" in line and gpg.read_bytes().startswith(b"-----BEGIN PGP")
    assert not (tmp_path / "g.csv").exists()


@pytest.mark.parametrize("how", ["same path", "hard link", "symbolic link"])
def test_exporting_onto_the_signing_key_file_is_refused(capsys, db, tmp_path, monkeypatch, how):
    key_file = tmp_path / "academy.key"
    assert run(capsys, "keygen", str(key_file))[0] == 0
    key = key_file.read_bytes()
    (tmp_path / "config.toml").write_text(f'[signing]\nkey_file = "{key_file}"\n', encoding="utf-8")
    monkeypatch.setenv("CRISIS_SIM_CONFIG", str(tmp_path / "config.toml"))
    out = key_file
    if how == "hard link":
        out = tmp_path / "looks-harmless.csv"
        os.link(key_file, out)
    elif how == "symbolic link":
        out = tmp_path / "link.csv"
        out.symlink_to(key_file)
    for sign in ((), ("--sign",)):
        line = one_line_error(run(capsys, "export", "--format", "csv", "--db", str(db), "--out", str(out), *sign))
        assert f"--out {out} is the signing key file ([signing] key_file); choose another file" in line
        assert key_file.read_bytes() == key


# ---- the key file: whose it is and where it lives ------------------------------------------------------


def key_config(tmp_path: Path, key_file: Path, monkeypatch) -> None:
    (tmp_path / "config.toml").write_text(f'[signing]\nkey_file = "{key_file}"\n', encoding="utf-8")
    monkeypatch.setenv("CRISIS_SIM_CONFIG", str(tmp_path / "config.toml"))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="giving a file away needs root")
def test_a_key_file_owned_by_another_user_is_refused(capsys, db, tmp_path, monkeypatch):
    key_file = tmp_path / "academy.key"
    assert run(capsys, "keygen", str(key_file))[0] == 0
    key_config(tmp_path, key_file, monkeypatch)
    out = tmp_path / "scores.csv"
    os.chown(key_file, 65534, 65534)  # nobody
    line = one_line_error(run(capsys, "export", "--format", "csv", "--db", str(db), "--out", str(out), "--sign"))
    assert f"the signing key file {key_file} belongs to another user (uid 65534), not to you (uid 0)" in line
    assert not out.exists()
    assert "belongs to another user" in one_line_error(run(capsys, "verify", str(out)))


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_key_file_in_a_folder_anyone_can_write_to_is_refused_unless_sticky(capsys, db, tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    key_file = shared / "academy.key"
    assert run(capsys, "keygen", str(key_file))[0] == 0
    key_config(tmp_path, key_file, monkeypatch)
    out = tmp_path / "scores.csv"
    args = ("export", "--format", "csv", "--db", str(db), "--out", str(out), "--sign")
    shared.chmod(0o777)
    line = one_line_error(run(capsys, *args))
    assert f"the signing key file {key_file} is in {shared}, a folder anyone can write to" in line
    assert not out.exists()
    shared.chmod(0o1777)  # like /tmp: others cannot rename or delete what is ours
    assert run(capsys, *args)[0] == 0
    # a symbolic link to the key, kept in a folder anyone can change, is refused the same way
    shared.chmod(0o700)
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "key").symlink_to(key_file)
    loose.chmod(0o777)
    key_config(tmp_path, loose / "key", monkeypatch)
    assert f"is in {loose}, a folder anyone can write to" in one_line_error(run(capsys, "verify", str(out)))


# ---- hostile .sig content and names -------------------------------------------------------------------


def test_a_deeply_nested_or_odd_signature_is_one_line(capsys, db, tmp_path, key_env):
    out = tmp_path / "scores.csv"
    signed_export(capsys, db, out)
    sig = Path(f"{out}.sig")
    good = json.loads(sig.read_text())
    for bad in ("[" * 100_000 + "]" * 100_000, json.dumps({**good, "bytes": [[[[1]]]], "key": {"a": 1}}),
                json.dumps({**good, "algorithm": "[" * 900 + "]" * 900})):
        sig.write_text(bad, encoding="utf-8")
        line = one_line_error(run(capsys, "verify", str(out)))
        assert "is not a crisis-sim signature" in line or "NOT verified" in line, line


def test_the_verify_success_line_never_carries_escape_sequences(capsys, db, tmp_path, key_env):
    out = tmp_path / "scores.csv"
    signed_export(capsys, db, out)
    renamed = tmp_path / "\x1b]0;pwned\x07evil\u202e.csv"
    out.rename(renamed)
    Path(f"{out}.sig").rename(f"{renamed}.sig")
    rc, stdout, err = run(capsys, "verify", str(renamed))
    assert rc == 0, err
    assert "verified" in stdout and "\x1b" not in stdout and "\x07" not in stdout and "\u202e" not in stdout
    rc, stdout, err = run(capsys, "export", "--format", "csv", "--db", str(db), "--out", str(renamed), "--sign")
    assert rc == 0 and "\x1b" not in stdout and "\x07" not in stdout and "wrote" in stdout
