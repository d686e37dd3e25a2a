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
:func:`~advance_trial.randomisation.verbs.allocate` returns it) beside the request, and rings the request's bell
(a named pipe the waiting process listens on): the waiting process takes its answer at once, without waiting for
the lock (which the next step may hold by then). A waiting process that hears nothing looks at the lock every
:data:`TICK` seconds; when it gets the lock it takes the answer left for it, if any, or makes its own step. A
process that finds no answer (its request was refused, or could not be made with the others, or the process
holding the lock was killed) makes its own step, as it always did: a refusal is then its own, said in its own
words; a man already allocated by a process killed before it answered is found allocated, as after any crash.
Nothing is taken from a process of another user, with another config or for another log.

What is left in the folder is read only by the owner of the key folder, who can read the key itself; an answer
names an arm, and is removed as soon as it is read (one left by a waiting process that was killed is removed
after an hour; a request or a bell left by a process killed while it waited is removed by the next step).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import secrets
import select
import stat
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
#: How long (seconds) a waiting process listens for its bell before it looks at the lock again: the longest it
#: waits when its request was left after the step under way had read the folder and no other step follows.
TICK = 0.002
#: How long (seconds), at most, a step waits for the requests of the processes this process's last step answered.
GRACE = 0.003
#: How many other processes this process's last step answered (steps are made under the trial's lock, one at a
#: time, so one number per process serves).
_ANSWERED = [0]


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
            answer = _wait(cfg, ring, where, items, fd)
            if answer is not None:
                return [answer]
        with holding(ring):
            return _lead(cfg, ring, where, list(items), many)
    finally:
        os.close(fd)  # lets the lock go


def _wait(cfg: Config, ring: KeyRing, where: Location, items: Sequence[Any], fd: int) -> Allocation | None:
    """Leave a lone request for the step under way and wait for its answer (its bell, or the lock free and the
    answer there); None when none comes, the lock ``fd`` then held (this process makes its own step). Several
    requests (a service's group) wait for the lock alone."""
    if len(items) != 1:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return None
    name, bell = _name(), -1
    try:
        with contextlib.suppress(OSError):  # none left (a full disk, say): this process steps itself
            bell = _bell(ring, name)
            _leave(cfg, ring, where, items[0], name)
        if bell < 0 or not (folder_of(ring) / f"{name}.request").exists():
            fcntl.flock(fd, fcntl.LOCK_EX)
            return _answer(ring, name, items[0].participant_id)
        listening = select.poll()  # not select(): a service's descriptors may be numbered past its limit
        listening.register(bell, select.POLLIN)
        while True:
            if listening.poll(TICK * 1000):  # rung: answered (or refused: then this process steps)
                answer = _answer(ring, name, items[0].participant_id)
                if answer is None:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                return answer
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            return _answer(ring, name, items[0].participant_id)  # answered just before the lock went, or never
    finally:  # withdrawn if the wait is cut short (an answer already left is removed within the hour)
        (folder_of(ring) / f"{name}.request").unlink(missing_ok=True)
        if bell >= 0:
            os.close(bell)
            (folder_of(ring) / f"{name}.bell").unlink(missing_ok=True)


def _name() -> str:
    """A new request's name: oldest first; whose process."""
    return f"{time.monotonic_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}"


def _bell(ring: KeyRing, name: str) -> int:
    """Make a request's bell (a named pipe, 0600) and listen on it; the open end."""
    folder = folder_of(ring)
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"{name}.bell"
    os.mkfifo(path, 0o600)
    return os.open(path, os.O_RDONLY | os.O_NONBLOCK)


def _ring(folder: Path, name: str) -> None:
    """Ring a request's bell: its process, if it still listens, looks for its answer now."""
    try:
        fd = os.open(folder / f"{name}.bell", os.O_WRONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:  # no bell (a request left by a test), or no one listens (its process was killed)
        return
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            os.write(fd, b"\n")
    except OSError:  # pragma: no cover - a pipe whose reader just went
        pass
    finally:
        os.close(fd)


def _leave(cfg: Config, ring: KeyRing, where: Location, item: Any, name: str | None = None) -> str:
    """Leave a request in the folder (written whole under a temporary name, then renamed); its name."""
    folder = folder_of(ring)
    folder.mkdir(mode=0o700, exist_ok=True)
    name = name or _name()
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
            if entry.name.endswith(".bell") and not _alive(entry.name):
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
    """Under the lock: this process's requests and those left for it, in one step; the others' answers left.

    When this process's last step answered other processes, it waits (at most :data:`GRACE` seconds) for as many
    requests: those processes, answered an instant ago, are asking again, and a step made without them would be
    followed at once by another for them (two writers would make a step of two, then one of one, and so on).
    One process alone never waits."""
    others = _waiting(cfg, ring, where, MOST - len(items))
    deadline = time.monotonic() + GRACE
    while len(others) < min(_ANSWERED[0], MOST - len(items)) and time.monotonic() < deadline:
        time.sleep(GRACE / 10)
        others = _waiting(cfg, ring, where, MOST - len(items))
    results = many([*items, *(o for _, o in others)])
    folder = folder_of(ring)
    answered = 0
    for (name, _), result in zip(others, results[len(items) :], strict=True):
        if isinstance(result, Allocation):  # a refusal is left to its own process, which says it in its words
            with contextlib.suppress(OSError):  # else its process finds no answer, steps, finds the man allocated
                _write(folder / f"{name}.answer", asdict(result))
                answered += 1
        (folder / f"{name}.request").unlink(missing_ok=True)  # made (or refused): never made a second time
        _ring(folder, name)
    _ANSWERED[0] = answered
    return results[: len(items)]
