"""Allocations asked by several processes at once, made together: group commit across processes.

Each allocation is a step under the trial's lock, waiting for two flushes to disk (the commit, the checkpoint).
With several processes allocating into one log (the command line at several desks, several service instances),
each waited its turn for the lock and its own two flushes, and every hand-over of the lock cost more: throughput
fell as writers were added. Here a process that finds the lock taken leaves its request, checked, in the key
folder (``<trial>.together/``, private like the key) before it waits; the process holding the lock makes, in its
step, its own allocation and every request left for it (at most :data:`~advance_trial.service.group.MOST`,
oldest first) through :func:`~advance_trial.randomisation.verbs.allocate_many`: each man still gets his own
row, sequence, time, actor and signed receipt, and the group shares the verification, the commit and the
checkpoint's flushes. Before it lets the lock go it leaves each waiting process its answer (the allocation, as
:func:`~advance_trial.randomisation.verbs.allocate` returns it) beside the request; a process that gets the lock
and finds its answer takes it and is done. A process that finds none (its request was refused, or could not be
made with the others, or the process holding the lock was killed) makes its own step, as it always did: a
refusal is then its own, said in its own words; a man already allocated by a process killed before it answered
is found allocated, as after any crash. Nothing is taken from a process of another user, with another config
or for another log.

What is left in the folder is read only by the owner of the key folder, who can read the key itself; an answer
names an arm, and is removed as soon as it is read (one left by a waiting process that was killed is removed
after an hour).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from advance_trial.config.models import Config
from advance_trial.errors import AdvanceTrialError
from advance_trial.randomisation.database import Location
from advance_trial.randomisation.key import KeyRing
from advance_trial.randomisation.log import holding, holds, lock_path
from advance_trial.randomisation.request import Prepared
from advance_trial.randomisation.trial_log import Allocation

#: The most requests made in one step (the service's groups hold as many).
MOST = 32
#: An answer older than this (seconds) was left by a process that was killed while it waited.
STALE = 3600


def folder_of(ring: KeyRing) -> Path:
    """Where requests and answers are left: a private folder in the key folder."""
    return _folder(ring.folder, ring.trial_id)


@functools.lru_cache(maxsize=64)
def _folder(folder: Path, trial_id: str) -> Path:
    return folder / f"{trial_id}.together"


def _whose(cfg: Config, where: Location) -> dict[str, Any]:
    """What a request must share with the step that makes it: the user, the log, the config."""
    assert cfg.source is not None
    return {"uid": os.geteuid(), "log": where.identity, "config": cfg.source.sha256, "version": cfg.trial.version}


Result = Allocation | AdvanceTrialError


def allocate_together(cfg: Config, ring: KeyRing, where: Location, items: Sequence[Any],
                      many: Callable[[list[Any]], list[Result]]) -> list[Result]:  # fmt: skip
    """Allocate ``items`` (checked requests), with the requests other processes left, when the lock is free; else
    (one request) leave it for the process that holds the lock, and wait. ``many`` makes requests in one step
    under the lock this function holds (one result per request, a refusal as its exception). The results of
    ``items``, in order. Made as ever, by ``many`` alone, when this thread holds the lock already (a step made
    inside another) or the config was read from no file (nothing then tells another process's config from it)."""
    if holds(ring) or cfg.source is None:
        return many(list(items))
    fd = os.open(lock_path(ring), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a step is under way: leave a lone request for it, then wait
            name = None
            if len(items) == 1:
                with contextlib.suppress(OSError):  # none left (a full disk, say): this process steps itself
                    name = _leave(cfg, ring, where, items[0])
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            finally:  # withdrawn if the wait is cut short (an answer already left is removed within the hour)
                answer = _answer(ring, name, items[0].participant_id) if name is not None else None
            if answer is not None:
                return [answer]
        with holding(ring):
            return _lead(cfg, ring, where, list(items), many)
    finally:
        os.close(fd)  # lets the lock go


def _leave(cfg: Config, ring: KeyRing, where: Location, item: Any) -> str:
    """Leave a request in the folder (written whole under a temporary name, then renamed); its name."""
    folder = folder_of(ring)
    folder.mkdir(mode=0o700, exist_ok=True)
    name = f"{time.monotonic_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}"  # oldest first; whose process
    body = {**_whose(cfg, where), "participant_id": item.participant_id, "values": item.values,
            "answers": item.answers, "account": item.account, "note": item.note,
            "data_dir": str(Path(item.data_dir).resolve()) if item.data_dir is not None else None}  # fmt: skip
    _write(folder / f"{name}.request", body)
    return name


def _write(path: Path, body: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, json.dumps(body).encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _answer(ring: KeyRing, name: str, pid: str) -> Allocation | None:
    """The answer left for a request (taken: removed with the request), or None (the request withdrawn)."""
    folder = folder_of(ring)
    (folder / f"{name}.request").unlink(missing_ok=True)
    path = folder / f"{name}.answer"
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    finally:
        path.unlink(missing_ok=True)
    if body.get("participant_id") != pid:  # pragma: no cover - a name is never given twice
        return None
    return Allocation(**body)


def _waiting(cfg: Config, ring: KeyRing, where: Location, most: int) -> list[tuple[str, Any]]:
    """The requests left for this step (oldest first, at most ``most``), each with its name."""
    folder = folder_of(ring)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except FileNotFoundError:
        return []
    whose, now = _whose(cfg, where), time.time()
    found: list[tuple[str, Any]] = []
    for entry in entries:
        try:
            if entry.name.endswith(".answer") and now - entry.stat().st_mtime > STALE:
                Path(entry.path).unlink(missing_ok=True)
            if not entry.name.endswith(".request") or len(found) >= most:
                continue
            if not _alive(entry.name):  # left by a process killed while it waited: asked by no one now
                Path(entry.path).unlink(missing_ok=True)
                continue
            st = entry.stat(follow_symlinks=False)
            if not entry.is_file(follow_symlinks=False) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
                continue  # written by no process of this user (a request is a plain file, 0600, of its owner)
            body = json.loads(Path(entry.path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # withdrawn meanwhile, or not a request: left as it is
        if not isinstance(body, dict) or any(body.get(k) != v for k, v in whose.items()):
            continue  # another user's, log's or config's: its process makes it
        try:
            item = Prepared(str(body["participant_id"]), dict(body["values"]), body["answers"], body["account"],
                            body["note"], Path(body["data_dir"]) if body["data_dir"] else None)  # fmt: skip
        except (KeyError, TypeError, ValueError):
            continue
        found.append((entry.name.removesuffix(".request"), item))
    return found


def _alive(name: str) -> bool:
    """Whether the process that left a request (its id is in the request's name) is still running."""
    try:
        os.kill(int(name.split("-")[1]), 0)
    except (IndexError, ValueError, ProcessLookupError):
        return False
    except PermissionError:  # pragma: no cover - another user's process: running
        return True
    return True


def _lead(cfg: Config, ring: KeyRing, where: Location, items: list[Any],
          many: Callable[[list[Any]], list[Result]]) -> list[Result]:  # fmt: skip
    """Under the lock: this process's requests and those left for it, in one step; the others' answers left."""
    others = _waiting(cfg, ring, where, MOST - len(items))
    results = many([*items, *(o for _, o in others)])
    folder = folder_of(ring)
    for (name, _), result in zip(others, results[len(items) :], strict=True):
        if isinstance(result, Allocation):  # a refusal is left to its own process, which says it in its words
            with contextlib.suppress(OSError):  # else its process finds no answer, steps, finds the man allocated
                _write(folder / f"{name}.answer", asdict(result))
        (folder / f"{name}.request").unlink(missing_ok=True)  # made (or refused): never made a second time
    return results[: len(items)]
