"""Replaying the allocation log: the one state machine that verifies old allocations and decides new ones.

:class:`Replay` walks the events in order. Each allocation is derived again from
the key, the design in force (recorded by ``init`` and each ``amendment``) and
everything before it, and must give exactly the recorded draw and arm; an
unblinding must name the arm its man was allocated; a correction must name an
allocated man. ``allocate`` asks the same object for the next draw, so the
rule that checks an allocation is the rule that made it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from advance_trial.config.models import Config
from advance_trial.errors import IntegrityError, UsageError
from advance_trial.randomisation import methods as rz
from advance_trial.randomisation.key import KeyRing
from advance_trial.randomisation.log import unseal


class Fault(Exception):
    """A row that does not replay (turned into :class:`IntegrityError` naming the row)."""


def design_of(cfg: Config) -> dict[str, Any]:
    """The parts of a config that decide allocations; a change to any of them is an amendment."""
    r = cfg.randomisation
    design: dict[str, Any] = {"method": r.method, "arms": [[a.id, a.ratio] for a in cfg.arms]}
    if r.method in ("blocks", "stratified_blocks"):
        design["block_sizes"] = list(r.block_sizes)
    if r.method == "stratified_blocks":
        design["strata"] = list(r.strata)
    if r.method == "minimisation" and r.minimisation is not None:
        design["minimisation"] = {"factors": dict(r.minimisation.factors), "probability": r.minimisation.probability}
    return design


def design_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The config keys whose allocation design differs from the log's: ``(key, what)`` pairs."""
    out: list[tuple[str, str]] = []
    if old["method"] != new["method"]:
        out.append(
            ("randomisation.method", f"the log allocates by {old['method']!r}, the config says {new['method']!r}")
        )
    old_arms, new_arms = dict(old["arms"]), dict(new["arms"])
    if list(old_arms) != list(new_arms):
        out.append(("arms", f"the log's arms are {list(old_arms)}, the config's {list(new_arms)}"))
    else:
        out.extend(
            (f"arms[{a}].ratio", f"the log's ratio is {old_arms[a]}, the config's {new_arms[a]}")
            for a in old_arms
            if old_arms[a] != new_arms[a]
        )
    for key in ("block_sizes", "strata", "minimisation"):
        if old.get(key) != new.get(key):
            out.append((f"randomisation.{key}", f"the log's is {old.get(key)}, the config's {new.get(key)}"))
    return out


def version_key(version: str) -> tuple[int, int, int, int]:
    """A semantic version as a sortable tuple (a pre-release sorts before its release)."""
    m = re.match(r"^(\d+)\.(\d+)\.(\d+)(-)?", version)
    if not m:
        return (0, 0, 0, 0)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)), 0 if m.group(4) else 1)


def id_key(participant_id: str) -> str:
    """What makes two ids the same man: letters and digits only, case folded (``P-001`` is ``p001``)."""
    return re.sub(r"[^0-9a-z]", "", participant_id.casefold())


def backup_stratum(design: Mapping[str, Any], values: Mapping[str, str]) -> rz.Stratum:
    """The stratum of a sealed back-up list: the design's strata, or the site (each site holds its own)."""
    return rz.stratum_of(values, design.get("strata") or ["site"])


def backup_block_sizes(design: Mapping[str, Any]) -> tuple[int, ...]:
    """Block sizes of back-up lists: the design's, or twice and four times the ratio sum."""
    total = sum(r for _, r in design["arms"])
    return tuple(design.get("block_sizes") or (2 * total, 4 * total))


@dataclass
class Allocated:
    """One man's allocation as the replay knows it."""

    participant_id: str
    row: int
    sequence: int
    site: str
    factors: dict[str, str]
    arm: str
    draw: dict[str, Any]
    at_utc: str
    on_date: str
    actor: str
    config_version: str
    in_error: bool = False
    unblindings: int = 0
    withdrawn: bool = False


@dataclass
class Replay:
    """The state of a log after the events applied so far."""

    ring: KeyRing
    log_id: str
    design: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    epoch: int = -1
    allocated: dict[str, Allocated] = field(default_factory=dict)
    by_id_key: dict[str, str] = field(default_factory=dict)
    lists: dict[tuple[str, int, str], rz.BlockList] = field(default_factory=dict)
    used: dict[tuple[str, int, str], int] = field(default_factory=dict)
    draws: dict[int, int] = field(default_factory=dict)
    margins: rz.MarginCounts = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    # ------------------------------------------------------------------ deciding

    def _stream(self, purpose: str, stratum: str) -> rz.Stream:
        return rz.Stream(self.ring.derive, self.ring.trial_id, purpose, self.epoch, stratum)

    def _blocks(
        self, purpose: str, stratum: rz.Stratum, block_sizes: Sequence[int]
    ) -> tuple[tuple[str, int, str], rz.BlockList]:
        key = (purpose, self.epoch, rz.stratum_text(stratum))
        if key not in self.lists:
            arms = tuple(a for a, _ in self.design["arms"])
            ratios = tuple(r for _, r in self.design["arms"])
            self.lists[key] = rz.BlockList(self._stream(purpose, key[2]), arms, ratios, tuple(block_sizes))
        return key, self.lists[key]

    def decide(self, values: Mapping[str, str]) -> tuple[str, str, dict[str, Any]]:
        """The arm, the stratum text and the draw of the next allocation for a man with these values."""
        d = self.design
        arms = [a for a, _ in d["arms"]]
        ratios = [r for _, r in d["arms"]]
        method = d["method"]
        if method in ("blocks", "stratified_blocks"):
            stratum = rz.stratum_of(values, d.get("strata", []))
            key, blocks = self._blocks("list", stratum, d["block_sizes"])
            position = self.used.get(key, 0) + 1
            return blocks.at(position).arm, key[2], {"epoch": self.epoch, "position": position}
        index = self.draws.get(self.epoch, 0) + 1
        if method == "simple":
            (u,) = self._stream("simple", "[]").uniforms(index, 1)
            return rz.pick_by_ratio(u, arms, ratios), "[]", {"epoch": self.epoch, "index": index, "u": u}
        if method == "minimisation":
            m = d["minimisation"]
            scores = rz.minimisation_scores(self.margins, values, m["factors"], arms, ratios)
            u_tie, u_prob = self._stream("minimisation", "[]").uniforms(index, 2)
            got = rz.minimisation_decision(scores, arms, ratios, m["probability"], u_tie, u_prob)
            draw = {"epoch": self.epoch, "index": index, "scores": got.scores, "tied": list(got.tied),
                    "preferred": got.preferred, "u_tie": u_tie, "u_prob": u_prob}  # fmt: skip
            return got.arm, "[]", draw
        raise UsageError(f"method {method!r} does not allocate")

    def list_entry(self, values: Mapping[str, str], position: int) -> rz.ListEntry:
        """The entry at ``position`` of the current epoch's list for a man with these values (list methods)."""
        _, blocks = self._blocks(
            "list", rz.stratum_of(values, self.design.get("strata", [])), self.design["block_sizes"]
        )
        return blocks.at(position)

    def backup_entry(self, values: Mapping[str, str], position: int) -> rz.ListEntry:
        """The sealed back-up list's entry at ``position`` for a man with these values."""
        _, blocks = self._blocks("backup", backup_stratum(self.design, values), backup_block_sizes(self.design))
        return blocks.at(position)

    def next_backup_position(self, values: Mapping[str, str]) -> int:
        key, _ = self._blocks("backup", backup_stratum(self.design, values), backup_block_sizes(self.design))
        return self.used.get(key, 0) + 1

    # ------------------------------------------------------------------ replaying

    def apply(self, ev: dict[str, Any]) -> None:
        """Apply one event, checking it; :class:`Fault` when it does not replay."""
        kind = ev["kind"]
        if self.epoch < 0 and kind != "init":
            raise Fault("the log does not begin with its init row")
        handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "init": self._on_init, "amendment": self._on_amendment, "allocation": self._on_allocation,
            "unblinding": self._on_unblinding, "correction": self._on_correction, "export": self._on_notice,
            "list": self._on_notice, "account": self._on_notice, "login": self._on_notice,
        }  # fmt: skip
        handlers[kind](ev)
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def _detail(self, ev: dict[str, Any]) -> dict[str, Any]:
        try:
            detail = json_column(ev["detail"])
        except ValueError:
            raise Fault("its detail is not JSON") from None
        if not isinstance(detail, dict):
            raise Fault("its detail is not a mapping")
        return detail

    def _on_init(self, ev: dict[str, Any]) -> None:
        if self.epoch >= 0 or ev["row"] != 1:
            raise Fault("a second init row")
        d = self._detail(ev)
        if d.get("derivation") != rz.DERIVATION:
            raise Fault(f"the log was written with derivation {d.get('derivation')!r}, not {rz.DERIVATION!r}")
        if d.get("key_fingerprint") != self.ring.fingerprint:
            raise Fault("the log was created under another key")
        self.design, self.version, self.epoch = d["design"], ev["config_version"], 0

    def _on_amendment(self, ev: dict[str, Any]) -> None:
        d = self._detail(ev)
        if version_key(ev["config_version"]) <= version_key(self.version):
            raise Fault(f"an amendment to trial version {ev['config_version']} after {self.version}")
        if d.get("design") != self.design:
            self.epoch += 1
        if d.get("epoch") != self.epoch:
            raise Fault(f"records epoch {d.get('epoch')} where {self.epoch} follows")
        self.design, self.version = d["design"], ev["config_version"]

    def _on_allocation(self, ev: dict[str, Any]) -> None:
        pid = ev["participant_id"]
        seq = len(self.allocated) + 1
        if ev["sequence"] != seq:
            raise Fault(f"sequence {ev['sequence']} where {seq} was due")
        if pid in self.allocated or ev["id_key"] != id_key(pid) or ev["id_key"] in self.by_id_key:
            raise Fault("the participant was already allocated")
        values = json_column(ev["factors"])
        if values.get("site") != ev["site"]:
            raise Fault(f"recorded factors {values} do not give its site")
        sealed = unseal(self.ring, self.log_id, ev["row"], ev["sealed"])
        draw = sealed.get("draw", {})
        if draw.get("source") == "backup":
            position = self.next_backup_position(values)
            if draw.get("position") != position:
                raise Fault(f"back-up list position {draw.get('position')} where {position} was due")
            arm = self.backup_entry(values, position).arm
            key, _ = self._blocks("backup", backup_stratum(self.design, values), backup_block_sizes(self.design))
            self.used[key] = position
            stratum = rz.stratum_text(backup_stratum(self.design, values))
        else:
            arm, stratum, expected = self.decide(values)
            if draw != expected:
                raise Fault(f"its draw is not the one the key and the design give ({draw} against {expected})")
            self._consume(values, stratum, arm)
        if sealed.get("arm") != arm:
            raise Fault("the recorded arm is not the one the key and the design give")
        if ev["stratum"] != stratum:
            raise Fault(f"recorded stratum {ev['stratum']} is not the one its factors give ({stratum})")
        self.allocated[pid] = Allocated(
            pid, ev["row"], seq, ev["site"], values, arm, draw, ev["at_utc"], ev["on_date"], ev["actor"],
            ev["config_version"],
        )  # fmt: skip
        self.by_id_key[ev["id_key"]] = pid

    def _consume(self, values: Mapping[str, str], stratum: str, arm: str) -> None:
        d = self.design
        if d["method"] in ("blocks", "stratified_blocks"):
            key = ("list", self.epoch, stratum)
            self.used[key] = self.used.get(key, 0) + 1
        else:
            self.draws[self.epoch] = self.draws.get(self.epoch, 0) + 1
        if d["method"] == "minimisation":
            rz.add_to_margins(self.margins, {f: values[f] for f in d["minimisation"]["factors"]}, arm)

    def _known(self, ev: dict[str, Any]) -> Allocated:
        man = self.allocated.get(ev["participant_id"])
        if man is None:
            raise Fault("names a participant who was not allocated before it")
        return man

    def _on_unblinding(self, ev: dict[str, Any]) -> None:
        man = self._known(ev)
        if unseal(self.ring, self.log_id, ev["row"], ev["sealed"]).get("arm") != man.arm:
            raise Fault("reveals an arm that is not the one its man was allocated")
        man.unblindings += 1

    def _on_correction(self, ev: dict[str, Any]) -> None:
        man = self._known(ev)
        if self._detail(ev).get("withdrawn") is True:  # a withdrawal: his allocation (and arm) stand
            man.withdrawn = True
        else:
            man.in_error = True

    def _on_notice(self, ev: dict[str, Any]) -> None:
        self._detail(ev)


def json_column(text: str | None) -> Any:
    """A JSON column's value (empty for NULL)."""
    return json.loads(text) if text else {}


def replay_events(events: list[dict[str, Any]], ring: KeyRing, log_id: str, state: Replay | None = None) -> Replay:
    """Replay events in order (onto ``state``, else from the start); :class:`IntegrityError` at the first bad row."""
    state = state if state is not None else Replay(ring, log_id)
    for ev in events:
        try:
            state.apply(ev)
        except Fault as fault:
            who = f" ({ev['kind']} of {ev['participant_id']})" if ev.get("participant_id") else f" ({ev['kind']})"
            raise IntegrityError(f"row {ev['row']}{who}: {fault}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise IntegrityError(f"row {ev['row']} ({ev['kind']}): malformed content ({type(exc).__name__})") from None
    if state.epoch < 0:
        raise IntegrityError("row 1: missing; the log has no init row")
    return state
