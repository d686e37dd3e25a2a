"""``randomise init``, all or nothing, and able to finish what an interrupted run began.

Everything init writes is first written under a temporary name beside where it belongs: the key and its signing
pair, the log with its first row (SQLite), the checkpoint, and the config with the key's fingerprint. Then each is
moved into place, in this order: the signing pair and the key (the key last, so that its presence says the pair
is there), the log (a PostgreSQL log is created here, in one transaction), the checkpoint, and last the config. A
run stopped at any point (a full disk, a crash, kill -9) leaves temporary files, which the next run removes, and
a prefix of those moves, which the next run recognises and finishes:

* a key and no log: the log is created with that key;
* a log holding only its first row, authenticated under the key, and no checkpoint: the checkpoint is written
  from it;
* all of it but the config's fingerprint: the fingerprint is written.

A run that finds everything done refuses, as before (a trial's log is created once). An operating-system error
(a full disk, a folder that cannot be written) is one line naming the path (exit 1).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from dataclasses import replace as with_changes
from pathlib import Path

from advance_trial.config.models import Config
from advance_trial.errors import IntegrityError, UsageError
from advance_trial.randomisation import allocation as al
from advance_trial.randomisation.database import Location, database_errors, location, os_error
from advance_trial.randomisation.key import (
    Checkpoint,
    KeyRing,
    key_files,
    key_folder,
    load_key,
    read_key,
    refuse_inside,
    write_checkpoint,
    write_new,
)
from advance_trial.randomisation.log import Head, check_chain, locked, open_log


@dataclass(frozen=True)
class Initialised:
    """What ``randomise init`` did.

    Attributes
    ----------
    ring : KeyRing
    log : Location
    report : VerifyReport or None
        The new log, verified (None when the fingerprint must be added by hand first).
    key_created : bool
    finished : tuple of str
        What an earlier, interrupted run had left done (``key``, ``log``, ``checkpoint``), now finished.
    fingerprint_line : str or None
        When the config's layout allows no safe edit: the line to add under ``randomisation:`` by hand.
    """

    ring: KeyRing
    log: Location
    report: al.VerifyReport | None
    key_created: bool
    finished: tuple[str, ...]
    fingerprint_line: str | None


@dataclass
class _Staged:
    """Files written under temporary names, each with where it goes; discarded unless moved."""

    moves: list[tuple[Path, Path, bool]] = field(default_factory=list)  # temp, final, may replace

    def write(self, final: Path, body: bytes, mode: int, replaces: bool = False) -> None:
        tmp = temporary(final)
        self.moves.append((tmp, final, replaces))  # discarded if the write fails half-way
        with naming(final):
            write_new(tmp, body, mode, sync_folder=False)

    def move(self, final: Path) -> None:
        """Move one staged file into place (a new file never overwrites one: link, then unlink)."""
        for i, (tmp, to, replaces) in enumerate(self.moves):
            if to == final:
                with naming(final):
                    if replaces:
                        os.replace(tmp, final)
                    else:
                        os.link(tmp, final)
                        os.unlink(tmp)
                    from advance_trial.data.durable import fsync_dir

                    fsync_dir(final.parent)
                del self.moves[i]
                return

    def discard(self) -> None:
        for tmp, _, _ in self.moves:
            for extra in ("", "-wal", "-shm", "-journal"):
                Path(f"{tmp}{extra}").unlink(missing_ok=True)
        self.moves.clear()


def temporary(final: Path) -> Path:
    """A temporary name beside ``final`` (``.NAME.RANDOM.tmp``), which an interrupted run's successor removes."""
    return final.with_name(f".{final.name}.{secrets.token_hex(6)}.tmp")


def _leftovers(finals: list[Path]) -> None:
    """Remove what an interrupted run left under temporary names."""
    for final in finals:
        if final.parent.is_dir():
            for p in final.parent.glob(f".{final.name}.*.tmp*"):
                with naming(p):
                    p.unlink(missing_ok=True)


@contextmanager
def naming(path: Path | str) -> Iterator[None]:
    """An operating-system or database failure to write as one :class:`OSError` naming ``path``."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None:
            raise
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
    except database_errors() as exc:
        failure = os_error(location(path), exc)
        if failure is None:
            raise
        raise failure from None


def _first_rows(where: Location, ring: KeyRing) -> list[dict[str, object]] | None:
    """The log's rows, their chain authenticated (None when there is no log)."""
    if where.path is not None and not where.path.exists():
        return None
    try:
        store = open_log(where, ring)
    except UsageError:  # no log there (an empty PostgreSQL database)
        return None
    try:
        events = store.events()
        check_chain(events, ring, store.log_id)
        return [{**e, "log_id": store.log_id} for e in events]
    finally:
        store.close()


def initialise(config: Path, key_dir: str | Path | None, log: str | Path | None,
               note: str | None = None) -> Initialised:  # fmt: skip
    """Create (or finish creating) a trial's key, log and checkpoint, and record the key's fingerprint in the
    config (see the module docstring)."""
    from advance_trial.config import load_config
    from advance_trial.config.edit import with_key_fingerprint

    cfg = load_config(config)
    if cfg.randomisation.method == "none":
        raise UsageError(f"{cfg.trial.id} is a single-arm design: there is nothing to allocate")
    folder, where = key_folder(key_dir), al.log_path(cfg, log)
    log_dir = where.path.parent if where.path is not None else None
    refuse_inside(folder, [("configs folder", config.parent), ("allocation log's folder", log_dir)])
    trial, recorded = cfg.trial.id, cfg.randomisation.key_fingerprint
    key_path = folder / f"{trial}.key"
    created = not key_path.exists()
    if created and recorded is not None:
        raise UsageError(f"{config} names key {recorded[:16]}..., which is not in {folder}; "
                         "give the key folder that holds it")  # fmt: skip
    staged = _Staged()
    try:
        with naming(folder):
            ring, files = key_files(folder, trial) if created else (read_key(folder, trial), [])
        if recorded is not None:
            ring = load_key(folder, trial, recorded, str(config))  # another key's fingerprint: exit 3
        with locked(ring, exclusive=True):
            _leftovers([p for p, _, _ in files] + [ring.key_path, ring.signing_path, ring.public_path,
                        ring.checkpoint_path, config] + ([where.path] if where.path is not None else []))  # fmt: skip
            for path, body, mode in files:  # a signing pair without its key is an interrupted run's: replaced
                staged.write(path, body, mode, replaces=path != ring.key_path)
            done, line = _finish(cfg, config, ring, where, staged, recorded, note, with_key_fingerprint)
    except BaseException:
        staged.discard()
        raise
    report = al.verify_log(load_config(config), ring, where) if line is None else None
    return Initialised(ring, where, report, created, done, line)


def _finish(cfg: Config, config: Path, ring: KeyRing, where: Location, staged: _Staged, recorded: str | None,
            note: str | None, edit: Callable[[str, str], str | None],
            ) -> tuple[tuple[str, ...], str | None]:  # fmt: skip
    """Stage the log and the config, then move everything into place (the caller holds the trial's lock)."""
    rows = _first_rows(where, ring)
    has_checkpoint = ring.checkpoint_path.exists()
    if has_checkpoint and (rows is None or recorded is not None):
        raise UsageError(f"{ring.checkpoint_path}: this trial's log was created already; restore it from its "
                         "back-up, never start a second one")  # fmt: skip
    if rows is not None and not has_checkpoint and (len(rows) != 1 or rows[0]["kind"] != "init"):
        raise IntegrityError(f"{where}: the log holds {len(rows)} rows but there is no checkpoint beside the key; "
                             "restore the checkpoint from its back-up")  # fmt: skip
    done = tuple(what for what, yes in (("key", not staged.moves and recorded is None), ("log", rows is not None),
                                        ("checkpoint", has_checkpoint)) if yes)  # fmt: skip
    # the config with the key's fingerprint, under a temporary name; the first row records the new file's hash
    line, row_cfg = None, cfg
    if recorded is None:
        new = edit(config.read_text(encoding="utf-8"), ring.fingerprint)
        if new is None:  # the key goes into place; the log waits until the config records it
            for path in (ring.public_path, ring.signing_path, ring.key_path):
                staged.move(path)
            return done, f"key_fingerprint: {ring.fingerprint}"
        else:
            staged.write(config, new.encode("utf-8"), config.stat().st_mode & 0o777, replaces=True)
            row_cfg = _with_sha(cfg, new.encode("utf-8"))
    head: tuple[str, Head] | None = None
    if rows is None and where.path is not None:  # SQLite: the new log under a temporary name too
        tmp = temporary(where.path)
        staged.moves.append((tmp, where.path, False))
        with naming(where.path):
            head = al.write_first_row(row_cfg, ring, location(tmp), note)
    elif rows is not None and not has_checkpoint:
        head = (str(rows[0]["log_id"]), Head(1, str(rows[0]["tag"])))
    # into place: the key files (the key last), the log, the checkpoint, and last the config
    for path in (ring.public_path, ring.signing_path, ring.key_path):
        staged.move(path)
    if where.path is not None:
        staged.move(where.path)
    elif rows is None:  # PostgreSQL: created in place, in one transaction
        with naming(where.shown):
            head = al.write_first_row(row_cfg, ring, where, note)
    if head is not None:
        with naming(ring.checkpoint_path):  # written under a temporary name and renamed, like every checkpoint
            write_checkpoint(ring, Checkpoint(head[0], head[1].row, head[1].tag))
    staged.move(config)
    return done, line


def _with_sha(cfg: Config, body: bytes) -> Config:
    import hashlib

    new = cfg.model_copy()
    if cfg.source is not None:
        new._source = with_changes(cfg.source, sha256=hashlib.sha256(body).hexdigest())
    return new
