"""Group commit: allocation requests that arrive while a step is under way are made together in the next one.

Each allocation step verifies the log from its last step, appends its row, commits (one flush to disk) and
moves the checkpoint beside the key (another), all under the trial's lock: steps one after another, each
waiting for its two flushes. Under load the service's threads would queue for the lock, one step each. Here
the first request to find no step under way makes one for every request waiting (at most :data:`MOST`),
through :func:`~advance_trial.randomisation.allocation.allocate_many`: each man still gets his own row,
sequence, time, actor and receipt, in the order the requests arrived, and each refusal is its own request's;
the verification, the commit and the checkpoint's flushes are shared. A request that arrives alone is made
alone, at once: nothing waits for company.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from advance_trial.errors import AdvanceTrialError

#: The most requests made in one step.
MOST = 32

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Slot(Generic[Item, Result]):
    """One request waiting: what it asks, and what became of it."""

    def __init__(self, item: Item) -> None:
        self.item = item
        self.done = False
        self.result: Result | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[Item, Result]):
    """Run ``make`` over the requests waiting, one group at a time (``make`` returns one result per request,
    in order, or raises for them all)."""

    def __init__(self, make: Callable[[Sequence[Item]], Sequence[Result | AdvanceTrialError]]) -> None:
        self.make = make
        self.lock = threading.Condition()
        self.waiting: list[_Slot[Item, Result]] = []
        self.busy = False

    def submit(self, item: Item) -> Result:
        """Make one request (in a group with those waiting beside it); its result, or its refusal raised."""
        slot: _Slot[Item, Result] = _Slot(item)
        with self.lock:
            self.waiting.append(slot)
            while not slot.done:
                if self.busy:
                    self.lock.wait()
                    continue
                group, self.waiting = self.waiting[:MOST], self.waiting[MOST:]
                self.busy = True
                self.lock.release()
                try:
                    self._run(group)
                finally:
                    self.lock.acquire()
                    self.busy = False
                    self.lock.notify_all()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _run(self, group: list[_Slot[Item, Result]]) -> None:
        try:
            results = list(self.make([s.item for s in group]))
            if len(results) != len(group):  # pragma: no cover - allocate_many answers every request
                raise RuntimeError(f"{len(results)} results for {len(group)} requests")
        except BaseException as exc:  # nothing of the group was written: each request is told why
            for s in group:
                s.error, s.done = exc, True
            return
        for s, r in zip(group, results, strict=True):
            if isinstance(r, AdvanceTrialError):
                s.error = r
            else:
                s.result = r
            s.done = True
