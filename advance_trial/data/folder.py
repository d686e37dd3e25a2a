"""The canonical data folder as a transactional store: one writer at a time, all or nothing.

Every command that writes canonical data holds an exclusive lock on the folder (``.lock``, the
``filelock`` package) for its whole read-check-write, and writes through a :class:`Transaction`:

1. each new file is staged in ``.transactions/<id>/`` (written and fsynced);
2. the intent record ``.transactions/<id>/intent.json`` lists every file with its SHA-256 and is
   put in place by one rename: that rename is the commit point;
3. each staged file is renamed over its target;
4. the transaction's folder is removed (the commit record is its absence).

The ledger (``import/audit.csv`` and ``import/replacements.csv``) is staged in the same
transaction as the data it describes, never written after it. The next command to take the lock
(:func:`recover`) first rolls an interrupted transaction forward when its intent record is whole
(renaming what is still staged; the targets already renamed are checked by hash) and back when it is
not (removing the staged files), so a kill -9 at any moment leaves the old data and ledger or the
new ones, never a mix.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advance_trial.data.durable import file_mode, fsync_dir
from advance_trial.errors import IntegrityError, UsageError

LOCK_NAME = ".lock"
STAGING = ".transactions"
#: How long a command waits for another one to release the folder, in seconds.
WAIT_SECONDS = 600.0


@dataclass
class Transaction:
    """Files to replace together in one data folder (paths relative to it)."""

    folder: Path
    files: dict[str, bytes | None] = field(default_factory=dict)

    def put(self, relative: str, data: bytes | None) -> None:
        """Stage ``data`` as the new content of ``folder/relative`` (``None``: the file is removed)."""
        if Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise ValueError(f"{relative}: not a path inside the data folder")
        self.files[relative] = data

    def commit(self, after_intent: Callable[[str], None] | None = None) -> None:
        """Stage, record the intent, rename, remove the staging folder (see the module docstring).

        ``after_intent`` is called at each step (for tests that interrupt a transaction midway).
        """
        if not self.files:
            return
        hook = after_intent or (lambda _: None)
        tid = uuid.uuid4().hex
        stage = self.folder / STAGING / tid
        stage.mkdir(parents=True)
        entries: dict[str, dict[str, str]] = {}
        intent: dict[str, Any] = {"id": tid, "files": entries}
        for n, (relative, data) in enumerate(sorted(self.files.items())):
            if data is None:
                entries[relative] = {"staged": "", "sha256": ""}
                continue
            staged = stage / f"{n}.staged"
            fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, file_mode(private=False))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            entries[relative] = {"staged": staged.name, "sha256": hashlib.sha256(data).hexdigest()}
        hook("staged")
        tmp = stage / "intent.json.tmp"
        tmp.write_bytes(json.dumps(intent, sort_keys=True).encode())
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, stage / "intent.json")
        fsync_dir(stage)
        hook("intent")
        _roll_forward(self.folder, stage, intent, hook)
        self.files.clear()


def _roll_forward(folder: Path, stage: Path, intent: dict[str, Any], hook: Callable[[str], None]) -> None:
    files: dict[str, dict[str, str]] = intent["files"]
    for relative, entry in sorted(files.items()):
        target = folder / relative
        if not entry["staged"]:  # a removal
            target.unlink(missing_ok=True)
            continue
        staged = stage / entry["staged"]
        if staged.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
            fsync_dir(target.parent)
            hook(f"renamed {relative}")
        elif not target.exists() or hashlib.sha256(target.read_bytes()).hexdigest() != entry["sha256"]:
            raise IntegrityError(f"{target}: an interrupted transaction ({stage.name}) left this file neither "
                                 "old nor new; restore the folder from its backup")  # fmt: skip
    shutil.rmtree(stage)
    fsync_dir(stage.parent)


def recover(folder: Path) -> list[str]:
    """Finish or undo interrupted transactions (call with the lock held). Returns what was done."""
    done: list[str] = []
    root = folder / STAGING
    if not root.is_dir():
        return done
    for stage in sorted(p for p in root.iterdir() if p.is_dir()):
        intent_file = stage / "intent.json"
        if intent_file.is_file():
            try:
                intent = json.loads(intent_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise IntegrityError(f"{intent_file}: unreadable intent record ({exc})") from exc
            _roll_forward(folder, stage, intent, lambda _: None)
            done.append(f"rolled forward {stage.name}")
        else:
            shutil.rmtree(stage)
            done.append(f"rolled back {stage.name}")
    return done


@contextmanager
def locked(folder: str | Path, waiting: Callable[[str], None] | None = None,
           timeout: float = WAIT_SECONDS) -> Iterator[Transaction]:  # fmt: skip
    """Hold the folder's lock, recover any interrupted transaction, and yield a transaction that is
    committed when the block ends without an exception (and discarded when it raises).

    Raises
    ------
    UsageError
        If the folder does not exist, or another command holds it longer than ``timeout``.
    """
    from filelock import FileLock, Timeout

    path = Path(folder)
    if not path.is_dir():
        raise UsageError(f"{path}: no such data folder; create it (or check the path) first")
    lock = FileLock(str(path / LOCK_NAME))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if waiting is not None:
            waiting(f"waiting for another command to finish with {path} ...")
        try:
            lock.acquire(timeout=timeout)
        except Timeout as exc:
            raise UsageError(f"{path}: another command has held the data folder for {timeout:g} s; "
                             "try again when it has finished") from exc  # fmt: skip
    try:
        recover(path)
        txn = Transaction(path)
        yield txn
        txn.commit()
    finally:
        lock.release()


@contextmanager
def reading(folder: str | Path, waiting: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the folder's lock while reading it, so that no import is half-renamed under the reader
    (interrupted transactions are recovered first). A folder the reader cannot write (a read-only
    copy) is read as it is: nobody can be writing it through the toolkit either."""
    path = Path(folder)
    if not path.is_dir() or not os.access(path, os.W_OK):
        yield
        return
    with locked(path, waiting) as txn:
        yield
        txn.files.clear()
