"""Allocations asked by several processes at once, made together: group commit across processes.

Each allocation is a step under the trial's lock, waiting for two flushes to disk (the commit, the checkpoint). With
several processes allocating into one log (the command line at several desks, several service instances), each
waited its turn for the lock and its own two flushes, and every hand-over of the lock cost more: throughput fell as
writers were added. Here a process that finds the lock taken leaves its request, checked, in the key folder
(``<trial>.together/NAME.ask``, private like the key), naming its bell (``bell-PID-TOKEN.bell``, a named pipe its
thread listens on, made once and kept while the process runs), and knocks on the folder's door (``door``, a named
pipe a step waiting for requests listens on); the process holding the lock makes, in its step, its own allocation
and every request left for it (at most :data:`MOST`, oldest first) through
:func:`~advance_trial.randomisation.verbs.allocate_many`: each man still gets his own row, sequence, time, actor and
receipt, and the group shares the verification, the commit and the checkpoint's flush. Such a step leaves the
checkpoint open for the next (:data:`trial_log.WINDOW <advance_trial.randomisation.trial_log.WINDOW>`), which then
names nothing in it before its commit: a step of several rows costs the flushes of a step of one. Before it lets the
lock go it removes each request it made and rings its bell with the answer (the allocation, as
:func:`~advance_trial.randomisation.verbs.allocate` returns it, its receipt left unsigned: signed by the process
that asked, without the lock), one line written whole into the pipe: the waiting process takes its answer at once,
without waiting for the lock (which the next step may hold by then). A waiting process that hears nothing looks at
the lock every :data:`TICK` seconds; when it gets the lock it takes the answer its bell holds, if any, or makes its
own step. A process that finds no answer (its request was refused, or could not be made with the others, or the
process holding the lock was killed) makes its own step, as it always did: a refusal is then its own, said in its
own words; a man already allocated by a process killed before it answered is found allocated, as after any crash.
Nothing is taken from a process of another user, with another config or for another log, nor a request without its
bell.

An answer names an arm: it is never written to disk, only into the pipe of the process that asked, read by
it alone. What is left in the folder is read only by the owner of the key folder, who can read the key itself (a
request or a bell left by a process killed is removed by the next step; a process's bells, when it ends).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import json
import os
import secrets
import select
import stat
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from advance_trial.config.models import Config
from advance_trial.errors import AdvanceTrialError
from advance_trial.randomisation import trial_log
from advance_trial.randomisation.database import Location
from advance_trial.randomisation.key import KeyRing
from advance_trial.randomisation.log import holding, holds, lock_path
from advance_trial.randomisation.request import Prepared
from advance_trial.randomisation.trial_log import Allocation

#: The most requests made in one step (the service's groups hold as many).
MOST = 32
#: A request's file name ends so (``.request`` was an earlier version's, whose answer was a file: never mixed).
ASK = "ask"
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
            if answer is not None:  # its receipt signed here, by the process that asked
                return [trial_log.signed(ring, answer)]
        with holding(ring):
            results = _lead(cfg, ring, where, list(items), many)
    finally:
        os.close(fd)  # lets the lock go
    return [trial_log.signed(ring, r) if isinstance(r, Allocation) else r for r in results]  # signed without it


def _wait(cfg: Config, ring: KeyRing, where: Location, items: Sequence[Any], fd: int) -> Allocation | None:
    """Leave a lone request for the step under way and wait for its answer (its bell, or the lock free and the
    answer there); None when none comes, the lock ``fd`` then held (this process makes its own step). Several
    requests (a service's group) wait for the lock alone."""
    if len(items) != 1:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return None
    name, bell, left, pid = _name(), -1, False, items[0].participant_id
    try:
        with contextlib.suppress(OSError):  # none left (a full disk, say): this process steps itself
            called, bell = _own_bell(ring)
            _leave(cfg, ring, where, items[0], name, called)
            left = True
            _knock(ring)
        if not left:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return None
        listening = select.poll()  # not select(): a service's descriptors may be numbered past its limit
        listening.register(bell, select.POLLIN)
        while True:
            if listening.poll(TICK * 1000):  # rung: answered, or made without an answer (then this one steps)
                answer = _heard(bell, name, pid)
                if answer is not None:
                    return answer
                fcntl.flock(fd, fcntl.LOCK_EX)
                return _answer(ring, name, pid, bell)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            return _answer(ring, name, pid, bell)  # answered just before the lock went, or never
    finally:  # withdrawn if the wait is cut short (an answer still to come names it: the next wait ignores it)
        (folder_of(ring) / f"{name}.{ASK}").unlink(missing_ok=True)


def _name() -> str:
    """A new request's name: oldest first; whose process."""
    return f"{time.monotonic_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}"


def _bell(ring: KeyRing, name: str, keep: bool = False) -> int:
    """Make a bell (``NAME.bell``, a named pipe, 0600) and listen on it; the open end (``keep``: opened to read and
    write, so that no hang-up is heard between answers when no step holds it open)."""
    folder = folder_of(ring)
    path = folder / f"{name}.bell"
    try:
        os.mkfifo(path, 0o600)
    except FileNotFoundError:
        folder.mkdir(mode=0o700, exist_ok=True)
        os.mkfifo(path, 0o600)
    return os.open(path, (os.O_RDWR if keep else os.O_RDONLY) | os.O_NONBLOCK | os.O_NOFOLLOW)


#: This process's bells, one per thread and folder, kept while it runs (a named pipe made once, not per request):
#: (process, thread, folder) -> (name, the end listened on).
_BELLS: dict[tuple[int, int, Path], tuple[str, int]] = {}


def _own_bell(ring: KeyRing) -> tuple[str, int]:
    """This thread's bell in the folder (made at its first request, made again if it is gone): its name and the
    end listened on. Each answer it carries names its request: one meant for an earlier request is ignored."""
    folder = folder_of(ring)
    key = (os.getpid(), threading.get_ident(), folder)
    kept = _BELLS.pop(key, None)
    if kept is not None:
        try:
            st, ours = os.stat(folder / f"{kept[0]}.bell", follow_symlinks=False), os.fstat(kept[1])
            if (st.st_dev, st.st_ino) == (ours.st_dev, ours.st_ino):
                _BELLS[key] = kept
                return kept
        except OSError:
            pass
        os.close(kept[1])
    name = f"bell-{os.getpid()}-{secrets.token_hex(4)}"
    fd = _bell(ring, name, keep=True)
    if not _BELLS:
        atexit.register(_unring)
    _BELLS[key] = (name, fd)
    return name, fd


def _unring() -> None:
    """At the process's end: its bells removed."""
    for (pid, _, folder), (name, fd) in list(_BELLS.items()):
        if pid == os.getpid():
            with contextlib.suppress(OSError):
                os.close(fd)
                (folder / f"{name}.bell").unlink()


def _tell(folder: Path, bell: str, name: str, answer: Allocation | None) -> None:
    """Ring a request's bell with its answer (None: made, but not answered here: its process steps itself),
    one line written whole into the named pipe (never into a plain file or through a link). Nothing when no one
    listens (its process was killed)."""
    try:
        fd = os.open(folder / f"{bell}.bell", os.O_WRONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:  # no one listens (its process was killed, or withdrew), or no bell
        return
    try:
        st = os.fstat(fd)
        if stat.S_ISFIFO(st.st_mode) and st.st_uid == os.geteuid():
            line = {"name": name, "answer": asdict(answer) if answer is not None else None}
            os.write(fd, json.dumps(line).encode() + b"\n")  # under PIPE_BUF: written whole, or not at all
    except OSError:  # pragma: no cover - a pipe whose reader just went, or a full one
        pass
    finally:
        os.close(fd)


def _heard(bell: int, name: str, pid: str) -> Allocation | None:
    """The answer the bell carries for request ``name`` (read, so gone), or None (none there, or made without
    an answer)."""
    data = b""
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(bell, 65536):
            data += chunk
    for line in data.splitlines():
        try:
            said = json.loads(line)
            if said["name"] != name or said["answer"] is None:
                continue
            answer = Allocation(**said["answer"])
        except (ValueError, TypeError, KeyError):
            continue  # not an answer to this request
        if answer.participant_id == pid:
            return answer
    return None


def _leave(cfg: Config, ring: KeyRing, where: Location, item: Any, name: str | None = None,
           bell: str | None = None) -> str:  # fmt: skip
    """Leave a request in the folder (a new 0600 file, written in one write: a step that reads it half written
    cannot parse it and leaves it to its process), naming the bell that carries its answer (by default one named
    after it); its name."""
    folder = folder_of(ring)
    folder.mkdir(mode=0o700, exist_ok=True)
    name = name or _name()
    body = {**_whose(cfg, where), "participant_id": item.participant_id, "values": item.values,
            "answers": item.answers, "account": item.account, "note": item.note,
            "data_dir": str(Path(item.data_dir).resolve()) if item.data_dir is not None else None,
            "bell": bell or name}  # fmt: skip
    fd = os.open(folder / f"{name}.{ASK}", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, json.dumps(body).encode())
    finally:
        os.close(fd)
    return name


def _answer(ring: KeyRing, name: str, pid: str, bell: int) -> Allocation | None:
    """Under the lock: the answer left for a request in its bell (the request withdrawn), or None."""
    (folder_of(ring) / f"{name}.{ASK}").unlink(missing_ok=True)
    return _heard(bell, name, pid)


def _waiting(cfg: Config, ring: KeyRing, where: Location, most: int,
             known: dict[str, tuple[Any, str]] | None = None) -> list[tuple[str, Any]]:  # fmt: skip
    """The requests left for this step (oldest first, at most ``most``), each with its name; ``known``: those read
    already by this step, each with its bell's name (by request), not read again."""
    folder = folder_of(ring)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except FileNotFoundError:
        return []
    whose, uid = _whose(cfg, where), os.geteuid()
    known = {} if known is None else known
    bells = {e.name.removesuffix(".bell"): e for e in entries if e.name.endswith(".bell")}
    found: list[tuple[str, Any]] = []
    for entry in entries:
        name = entry.name.removesuffix(f".{ASK}")
        try:
            if entry.name.endswith(".bell") and not _alive(entry.name):
                Path(entry.path).unlink(missing_ok=True)
            if not entry.name.endswith(f".{ASK}") or len(found) >= most:
                continue
            if name in known:
                found.append((name, known[name][0]))
                continue
            if not _alive(entry.name):  # left by a process killed while it waited: asked by no one now
                Path(entry.path).unlink(missing_ok=True)
                continue
            st = entry.stat(follow_symlinks=False)
            if not entry.is_file(follow_symlinks=False) or st.st_uid != uid or st.st_mode & 0o077:
                continue  # written by no process of this user (a request is a plain file, 0600, of its owner)
            body = json.loads(Path(entry.path).read_bytes())
            if not isinstance(body, dict) or any(body.get(k) != v for k, v in whose.items()):
                continue  # another user's, log's or config's: its process makes it
            bell = bells.get(str(body.get("bell")))  # one of this folder's entries, by name: nowhere else
            rung = bell.stat(follow_symlinks=False) if bell is not None else None
            if rung is None or not stat.S_ISFIFO(rung.st_mode) or rung.st_uid != uid or rung.st_mode & 0o077:
                continue  # no bell (a named pipe, 0600, of this user) to carry its answer
        except (OSError, ValueError):
            continue  # withdrawn meanwhile, half written, or not a request: left as it is
        try:
            item = Prepared(str(body["participant_id"]), dict(body["values"]), body["answers"], body["account"],
                            body["note"], Path(body["data_dir"]) if body["data_dir"] else None)  # fmt: skip
        except (KeyError, TypeError, ValueError):
            continue
        known[name] = (item, str(body["bell"]))
        found.append((name, item))
    return found


def _await(cfg: Config, ring: KeyRing, where: Location, most: int, want: int,
           known: dict[str, tuple[Any, str]]) -> list[tuple[str, Any]]:  # fmt: skip
    """The requests left for this step once ``want`` are there, or :data:`GRACE` seconds have passed: woken by
    the door (a named pipe each process that leaves a request knocks on), else looking every tenth of it."""
    deadline = time.monotonic() + GRACE
    door = _door(ring)
    listening = select.poll()
    if door >= 0:
        listening.register(door, select.POLLIN)
    try:
        others = _waiting(cfg, ring, where, most, known)  # after the door opened: no knock is missed
        while len(others) < want and (left := deadline - time.monotonic()) > 0:
            if door < 0:
                time.sleep(min(GRACE / 10, left))
            elif listening.poll(left * 1000):  # knocked
                with contextlib.suppress(BlockingIOError):
                    os.read(door, 4096)
            others = _waiting(cfg, ring, where, most, known)
        return others
    finally:
        if door >= 0:
            os.close(door)


def _door(ring: KeyRing) -> int:
    """Open the door (``door``, a named pipe, 0600, in the folder) to listen for knocks; -1 when it cannot be
    (then the step looks for requests every tenth of :data:`GRACE`)."""
    path = folder_of(ring) / "door"
    try:
        with contextlib.suppress(FileExistsError):
            os.mkfifo(path, 0o600)
        # read and write (Linux): a writer always there, so a knocker's going is no hang-up to wake for
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return -1
    st = os.fstat(fd)
    if not stat.S_ISFIFO(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        os.close(fd)
        return -1
    return fd


def _knock(ring: KeyRing) -> None:
    """Knock on the door: a step waiting for requests (:func:`_await`) looks for them now. Nothing when no step
    waits (no one listens)."""
    try:
        fd = os.open(folder_of(ring) / "door", os.O_WRONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        st = os.fstat(fd)
        if stat.S_ISFIFO(st.st_mode) and st.st_uid == os.geteuid():
            os.write(fd, b".")
    except OSError:  # pragma: no cover - full, or its reader just went
        pass
    finally:
        os.close(fd)


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
    known: dict[str, tuple[Any, str]] = {}
    others = _waiting(cfg, ring, where, MOST - len(items), known)
    if len(others) < min(_ANSWERED[0], MOST - len(items)):
        others = _await(cfg, ring, where, MOST - len(items), min(_ANSWERED[0], MOST - len(items)), known)
    window = trial_log.WINDOW.set(MOST if len(items) + len(others) > 1 else 0)
    unsigned = trial_log.UNSIGNED.set(True)  # each receipt signed by its own process, without the lock
    try:
        results = many([*items, *(o for _, o in others)])
    finally:
        trial_log.UNSIGNED.reset(unsigned)
        trial_log.WINDOW.reset(window)
    folder = folder_of(ring)
    answered = 0
    for (name, _), result in zip(others, results[len(items) :], strict=True):
        (folder / f"{name}.{ASK}").unlink(missing_ok=True)  # made (or refused): never made a second time
        # a refusal is left to its own process, which says it in its own words
        made = result if isinstance(result, Allocation) else None
        _tell(folder, known[name][1], name, made)  # (killed before: its process steps, finds him allocated)
        answered += made is not None
    _ANSWERED[0] = answered
    return results[: len(items)]
