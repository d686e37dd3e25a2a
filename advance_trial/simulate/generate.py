"""Generate a synthetic trial whose aggregates equal the calibration targets.

Every random draw comes from one numpy Generator seeded with the ``--seed``;
the arm column is derived from the trial's allocation key exactly as
``randomise allocate`` derives it, in randomisation order, so that replaying
the sample through ``allocate`` gives the same arms. Rows are synthetic; counts, medians and proportions
named in the targets come out exactly (checked by :func:`achieved`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from advance_trial.config import Config
from advance_trial.config.models import Instrument, PlannedSession, Threshold
from advance_trial.data.canonical import CanonicalData
from advance_trial.data.schema import SPECS
from advance_trial.errors import AdvanceTrialError
from advance_trial.randomisation.key import KeyRing
from advance_trial.randomise import stratified_block_arms
from advance_trial.simulate.targets import ContinuousTarget, Targets

INELIGIBLE_REASONS = (
    "no intimate partner abuse in the past year",
    "not in structured substance use treatment",
    "currently in another perpetrator programme",
    "unable to take part in English",
)


class CalibrationError(AdvanceTrialError):
    """The simulator could not meet its calibration targets with this config and seed."""

    title = "Calibration failed"


@dataclass(frozen=True)
class _Man:
    participant_id: str
    site: str
    cycle: int | None
    randomised_on: np.datetime64
    arm: str


def simulate(cfg: Config, targets: Targets, seed: int, ring: KeyRing | None = None) -> CanonicalData:
    """Generate the six canonical tables for ``cfg``, calibrated to ``targets``.

    Parameters
    ----------
    cfg : Config
    targets : Targets
    seed : int
        Seed of the simulation's Generator.
    ring : KeyRing, optional
        The trial's allocation key (required for randomised designs): the arm column derives from it.

    Returns
    -------
    CanonicalData
        Typed tables in canonical row order.

    Raises
    ------
    CalibrationError
        If a target cannot be met.
    """
    rng = np.random.default_rng(seed)
    men = _randomise_men(cfg, targets, rng, ring)
    participants = pd.DataFrame(
        {
            "participant_id": [m.participant_id for m in men],
            "site": [m.site for m in men],
            "cycle": pd.array([m.cycle for m in men], dtype="Int64"),
            "randomised_on": np.array([m.randomised_on for m in men], dtype="datetime64[s]"),
            "arm": [m.arm for m in men],
        }
    )
    screening = _screening(cfg, targets, men, rng)
    attendance = _attendance(cfg, targets, men, rng)
    followup = _followup(cfg, targets, men, rng)
    measures = _measures(cfg, targets, men, followup, attendance, rng)
    partners = _partners(cfg, targets, men, rng)
    # baseline covariates, reasons and events draw from their own stream: adding them changed no other file
    extra = np.random.default_rng([seed, 19])
    participants = _covariates(cfg, targets, participants, attendance, extra)
    events = _events(cfg, targets, participants, partners, extra)
    # the men's instruments after the first, each from a stream of its own (adding one changes no other data)
    measures = _more_measures(cfg, targets, men, followup, measures, seed)
    tables = {
        "screening": screening,
        "participants": participants,
        "attendance": attendance,
        "followup": followup,
        "measures": measures,
        "partners": partners,
        "events": events,
    }
    t = {name: df.sort_values(list(SPECS[name].key), kind="stable").reset_index(drop=True)
         for name, df in tables.items()}  # fmt: skip
    return CanonicalData(
        screening=t["screening"],
        participants=t["participants"],
        attendance=t["attendance"],
        followup=t["followup"],
        measures=t["measures"],
        partners=t["partners"],
        events=t["events"],
    )


# --------------------------------------------------------------------------- recruitment and allocation


def _cycle_windows(cfg: Config, t: Targets) -> dict[int | None, tuple[np.datetime64, np.datetime64]]:
    start = np.datetime64(t.recruitment_start, "D")
    span = np.timedelta64(t.recruitment_weeks * 7, "D")
    if not cfg.cycles:
        return {None: (start, start + span)}
    step = np.timedelta64(t.cycle_weeks * 7, "D")
    return {c: (start + i * step, start + i * step + span) for i, c in enumerate(cfg.cycles)}


def _split(total: int, shares: Mapping[Any, float], rng: np.random.Generator) -> dict[Any, int]:
    """Split ``total`` across keys in proportion to ``shares`` (largest remainders, ties at random)."""
    keys = list(shares)
    weights = np.array([shares[k] for k in keys], dtype=float)
    raw = total * weights / weights.sum()
    base = np.floor(raw).astype(int)
    rest = total - base.sum()
    order = np.lexsort((rng.random(len(keys)), -(raw - base)))
    base[order[:rest]] += 1
    return dict(zip(keys, base.tolist(), strict=True))


def _site_cycle_dates(
    cfg: Config, t: Targets, site_n: dict[str, int], rng: np.random.Generator
) -> list[tuple[Any, ...]]:
    """(date, site, cycle) for each man, with site x cycle counts from the margins."""
    windows = _cycle_windows(cfg, t)
    cycle_share = t.cycles if t.cycles else {None: 1}
    rows: list[tuple[Any, ...]] = []
    # site x cycle table by iterative proportional split: each site split by cycle shares,
    # then cycle totals corrected to the targets by moving men between sites' cells.
    cells = {s: _split(n, cycle_share, rng) for s, n in site_n.items()}
    if t.cycles:
        for _ in range(1000):
            totals = {c: sum(cells[s][c] for s in cells) for c in t.cycles}
            over = [c for c in t.cycles if totals[c] > t.cycles[c]]
            under = [c for c in t.cycles if totals[c] < t.cycles[c]]
            if not over:
                break
            c_from, c_to = over[0], under[0]
            donors = [s for s in cells if cells[s][c_from] > 0]
            s = donors[int(rng.integers(len(donors)))]
            cells[s][c_from] -= 1
            cells[s][c_to] += 1
    for s, by_cycle in cells.items():
        for c, n in by_cycle.items():
            lo, hi = windows[c]
            days = np.sort(rng.integers(0, int((hi - lo) / np.timedelta64(1, "D")), size=n))
            rows.extend((lo + np.timedelta64(int(d), "D"), s, c) for d in days)
    return rows


def _randomise_men(cfg: Config, t: Targets, rng: np.random.Generator, ring: KeyRing | None) -> list[_Man]:
    """Men in randomisation order, their arms derived from the key as ``allocate`` derives them."""
    r = cfg.randomisation
    arms = cfg.arm_ids
    if r.method == "none":
        site_n = dict(t.sites)
        rows = sorted(_site_cycle_dates(cfg, t, site_n, rng), key=lambda x: (x[0], cfg.site_ids.index(x[1])))
        return [_Man(f"{t.id_prefix}{i:03d}", s, c, d, arms[0]) for i, (d, s, c) in enumerate(rows, 1)]
    if r.method != "stratified_blocks" or list(r.strata) != ["site"]:
        raise CalibrationError(f"the simulator calibrates stratified_blocks by site, not {r.method} by {r.strata}")
    if ring is None:
        raise CalibrationError(f"{cfg.trial.id} is randomised: its arm column needs the trial's key (--key-dir)")
    ratios = [a.ratio for a in cfg.arms]
    target = [t.arms[a] for a in arms]
    # Each site's arm sequence is fixed by the config seed, so the arm totals depend only on the
    # site sizes. When the targeted sizes do not give the targeted arm totals, say which nearby do.
    prefix = {
        s: stratified_block_arms(ring.derive, cfg.trial.id, [(("site", s),)] * (t.n + 1), arms, ratios, r.block_sizes)
        for s in t.sites
    }
    sites = list(t.sites)
    counts = {s: np.cumsum([[e.arm == a for a in arms] for e in prefix[s]], axis=0) for s in sites}

    def totals(sizes: list[int]) -> list[int]:
        return [int(x) for x in sum(counts[s][n - 1] for s, n in zip(sites, sizes, strict=True) if n > 0)]

    wanted = [t.sites[s] for s in sites]
    if totals(wanted) != target:
        near = []
        for delta in itertools.product(range(-8, 9), repeat=len(sites) - 1):
            sizes = [n + d for n, d in zip(wanted[:-1], delta, strict=True)]
            sizes.append(t.n - sum(sizes))
            if min(sizes) > 0 and totals(sizes) == target:
                near.append((sum(abs(a - b) for a, b in zip(sizes, wanted, strict=True)), sizes))
        hint = f"; site sizes that do: {dict(zip(sites, min(near)[1], strict=True))}" if near else ""
        raise CalibrationError(
            f"with key {ring.fingerprint[:12]}..., site sizes {t.sites} give arms "
            f"{dict(zip(arms, totals(wanted), strict=True))}, "
            f"not {t.arms}{hint}"
        )
    site_n = dict(t.sites)
    rows = sorted(_site_cycle_dates(cfg, t, site_n, rng), key=lambda x: (x[0], sites.index(x[1])))
    used = dict.fromkeys(sites, 0)
    men = []
    for i, (d, s, c) in enumerate(rows, 1):
        men.append(_Man(f"{t.id_prefix}{i:03d}", s, c, d, prefix[s][used[s]].arm))
        used[s] += 1
    return men


def _screening(cfg: Config, t: Targets, men: list[_Man], rng: np.random.Generator) -> pd.DataFrame:
    rows: list[tuple[Any, ...]] = []
    for m in men:
        lag = int(rng.integers(1, 15))
        rows.append((m.site, m.cycle, m.randomised_on - np.timedelta64(lag, "D"), True, True, m.participant_id, None))
    windows = _cycle_windows(cfg, t)
    cycles = list(windows)
    sites = list(t.sites)
    site_p = np.array([t.sites[s] for s in sites], dtype=float)
    site_p /= site_p.sum()
    others = [(False, None)] * t.screening.ineligible + [(True, False)] * t.screening.eligible_not_randomised
    for eligible, consented in others:
        c = cycles[int(rng.integers(len(cycles)))]
        s = sites[int(rng.choice(len(sites), p=site_p))]
        lo, hi = windows[c]
        d = lo + np.timedelta64(int(rng.integers(0, int((hi - lo) / np.timedelta64(1, "D")))), "D")
        reason = None if eligible else INELIGIBLE_REASONS[int(rng.integers(len(INELIGIBLE_REASONS)))]
        rows.append((s, c, d, eligible, consented, None, reason))
    rows.sort(key=lambda r: (r[2], sites.index(r[0]), r[5] or ""))
    return pd.DataFrame(
        {
            "screen_id": [f"S{t.id_prefix}{i:04d}" for i in range(1, len(rows) + 1)],
            "site": [r[0] for r in rows],
            "cycle": pd.array([r[1] for r in rows], dtype="Int64"),
            "screened_on": pd.to_datetime([r[2] for r in rows]).astype("datetime64[s]"),
            "eligible": pd.array([r[3] for r in rows], dtype="boolean"),
            "consented": pd.array([r[4] for r in rows], dtype="boolean"),
            "participant_id": pd.array([r[5] for r in rows], dtype="string"),
            "reason_ineligible": pd.array([r[6] for r in rows], dtype="string"),
        }
    )


# --------------------------------------------------------------------------- dose


def counts_with_medians(
    rng: np.random.Generator, groups: np.ndarray, top: int, overall: float | None, by_group: Mapping[Any, float]
) -> np.ndarray:
    """Whole numbers in ``0..top`` whose median is ``overall`` and, per group, ``by_group[g]``.

    Groups with a target are built around their median (half the values at or below it,
    half at or above, skewed towards it); the other groups are drawn freely and then
    moved towards ``overall`` one value at a time until the overall median is met.
    """
    values = np.zeros(len(groups), dtype=int)
    free = np.ones(len(groups), dtype=bool)
    for g, m in by_group.items():
        idx = np.flatnonzero(groups == g)
        n = len(idx)
        if n == 0:
            continue
        lo_m, hi_m = int(np.floor(m)), int(np.ceil(m))
        half = n // 2
        lower = lo_m - np.floor((lo_m + 1) * rng.random(half) ** 1.5).astype(int)
        upper = hi_m + np.floor((top - hi_m + 1) * rng.random(half) ** 2).astype(int)
        if n % 2:
            if lo_m != hi_m:
                raise CalibrationError(f"group {g} has an odd size, so its median cannot be {m}")
            middle = [lo_m]
        else:
            middle = []
            if half:
                lower[np.argmax(lower)] = lo_m
                upper[np.argmin(upper)] = hi_m
        vals = np.concatenate([lower, middle, upper]).astype(int)
        values[idx] = rng.permutation(np.clip(vals, 0, top))
        free[idx] = False
    n_free = int(free.sum())
    values[free] = np.minimum(top, np.floor((top + 1) * rng.beta(0.8, 1.4, size=n_free)).astype(int))
    if overall is not None:
        for _ in range(len(values) * 2):
            med = float(np.median(values))
            if med == overall:
                break
            cand = np.flatnonzero(free & ((values < overall) if med < overall else (values > overall)))
            if not len(cand):
                break
            pick = cand[np.argmax(values[cand])] if med < overall else cand[np.argmin(values[cand])]
            values[pick] = int(np.ceil(overall)) if med < overall else int(np.floor(overall))
        if float(np.median(values)) != overall:
            raise CalibrationError(f"could not reach an overall median of {overall}")
    return values


def _is_grouped(session_type: str) -> bool:
    return "group" in session_type


def _attendance(cfg: Config, t: Targets, men: list[_Man], rng: np.random.Generator) -> pd.DataFrame:
    plan = cfg.session_plan()
    if not plan:
        return pd.DataFrame({c.name: [] for c in SPECS["attendance"].columns})
    offered = [m for m in men if m.arm == cfg.schedule.arm]  # type: ignore[union-attr]
    compulsory = [i for i, p in enumerate(plan) if p.compulsory]
    optional = [i for i, p in enumerate(plan) if not p.compulsory]
    groups = np.array([m.cycle if m.cycle is not None else -1 for m in offered])
    thresholds = {th.id: th for th in cfg.thresholds}
    want_met = {}
    for th_id, n_met in t.dose.thresholds.items():
        if n_met > len(offered):
            raise CalibrationError(f"{n_met} men cannot meet {th_id}: {len(offered)} are offered sessions")
        chosen = set(rng.choice(len(offered), size=n_met, replace=False).tolist())
        want_met[th_id] = [i in chosen for i in range(len(offered))]
    if t.dose.compulsory_median is not None or t.dose.compulsory_median_by_cycle:
        k_all = counts_with_medians(
            rng, groups, len(compulsory), t.dose.compulsory_median, t.dose.compulsory_median_by_cycle
        )
    else:
        k_all = None
    weights = 0.88 ** np.arange(len(compulsory))
    group_start = _group_starts(offered)
    rows: list[tuple[Any, ...]] = []
    for i, m in enumerate(offered):
        for _ in range(10_000):
            k = int(k_all[i]) if k_all is not None else int(rng.integers(0, len(compulsory) + 1))
            picked = (
                set(
                    np.asarray(compulsory)[
                        rng.choice(len(compulsory), size=k, replace=False, p=weights / weights.sum())
                    ].tolist()
                )
                if k
                else set()
            )
            for j in optional:
                if rng.random() < (0.35 if 2 * k >= len(compulsory) else 0.05):
                    picked.add(j)
            partial = {j for j in picked if rng.random() < 0.03}
            hours = [(p.hours / 2 if j in partial else p.hours) if j in picked else 0.0 for j, p in enumerate(plan)]
            if all(_meets(thresholds[th], plan, picked, hours) == want[i] for th, want in want_met.items()):
                break
        else:
            raise CalibrationError(f"could not draw attendance for {m.participant_id} meeting the dose targets")
        rows.extend(_session_rows(m, plan, picked, hours, group_start))
    cols = [c.name for c in SPECS["attendance"].columns]
    df = pd.DataFrame(rows, columns=cols)
    df["session_number"] = df["session_number"].astype("Int64")
    df["session_on"] = pd.to_datetime(df["session_on"]).astype("datetime64[s]")
    df["attended"] = df["attended"].astype("boolean")
    df["group_id"] = df["group_id"].astype("string")
    return df


def _meets(th: Threshold, plan: list[PlannedSession], picked: set[int], hours: list[float]) -> bool:
    value = {
        "sessions": len(picked),
        "compulsory_sessions": sum(plan[j].compulsory for j in picked),
        "hours": sum(hours),
        "compulsory_hours": sum(h for h, p in zip(hours, plan, strict=True) if p.compulsory),
    }[th.measure]
    return bool(value >= th.at_least if th.at_least is not None else value > th.bound)


def _group_starts(men: list[_Man]) -> dict[tuple[str, int | None], np.datetime64]:
    """Each therapy group (site x cycle) starts on the first Monday a week after its last man is randomised."""
    last: dict[tuple[str, int | None], np.datetime64] = {}
    for m in men:
        key = (m.site, m.cycle)
        last[key] = max(last.get(key, m.randomised_on), m.randomised_on)
    return {k: np.busday_offset(v + np.timedelta64(7, "D"), 0, roll="forward", weekmask="Mon") for k, v in last.items()}


def _session_rows(
    m: _Man,
    plan: list[PlannedSession],
    picked: set[int],
    hours: list[float],
    group_start: dict[tuple[str, int | None], np.datetime64],
) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    start = group_start[(m.site, m.cycle)]
    group_id = f"{m.site}-c{m.cycle}" if m.cycle is not None else f"{m.site}-g1"
    for j, p in enumerate(plan):
        if _is_grouped(p.type):
            when = start + np.timedelta64(7 * (p.number - 1), "D")
            gid = group_id
        else:
            when = m.randomised_on + np.timedelta64(7 * p.number, "D")
            gid = None
        rows.append((m.participant_id, p.type, p.number, gid, when, j in picked, float(hours[j])))
    return rows


# --------------------------------------------------------------------------- follow-up, measures, partners


def _followup(cfg: Config, t: Targets, men: list[_Man], rng: np.random.Generator) -> pd.DataFrame:
    rows: list[tuple[Any, ...]] = []
    n = len(men)
    for tp in cfg.timepoints:
        due = [m.randomised_on + np.timedelta64(int(round(tp.week * 7)), "D") for m in men]
        late = np.zeros(n, dtype=bool)
        if tp.week == 0:
            done = np.ones(n, dtype=bool)
        else:
            k = t.followup.get(tp.id, int(round(0.6 * n)))
            order = rng.permutation(n)
            done = np.zeros(n, dtype=bool)
            done[order[:k]] = True
            late[order[k : k + t.followup_outside_window.get(tp.id, 0)]] = True
        lo, hi = tp.window_weeks or [0, 0]
        for m, d, ok, is_late in zip(men, due, done, late, strict=True):
            if ok:
                offset = int(lo * 7 + np.floor((hi - lo) * 7 * rng.random() ** 2)) if tp.week else 0
                rows.append((m.participant_id, tp.id, d, "completed", d + np.timedelta64(offset, "D")))
            elif is_late:
                offset = int(hi * 7) + int(rng.integers(3, 36))
                rows.append((m.participant_id, tp.id, d, "completed", d + np.timedelta64(offset, "D")))
            else:
                status = str(rng.choice(["missed", "lost", "withdrawn"], p=[0.6, 0.3, 0.1]))
                rows.append((m.participant_id, tp.id, d, status, None))
    df = pd.DataFrame(rows, columns=[c.name for c in SPECS["followup"].columns])
    df["due_on"] = pd.to_datetime(df["due_on"]).astype("datetime64[s]")
    df["completed_on"] = pd.to_datetime(df["completed_on"]).astype("datetime64[s]")
    return df


def _items(rng: np.random.Generator, ins: Instrument, level: np.ndarray, spread: float) -> np.ndarray:
    """Item responses around each respondent's level, within the instrument's range."""
    raw = level[:, None] + rng.normal(0, spread, size=(len(level), ins.items))
    return np.clip(np.rint(raw), ins.min, ins.max).astype(int)


def _men_instruments(cfg: Config) -> list[str]:
    return [k for k, v in cfg.instruments.items() if v.respondent == "man"]


def _more_measures(cfg: Config, t: Targets, men: list[_Man], followup: pd.DataFrame, measures: pd.DataFrame,
                   seed: int) -> pd.DataFrame:  # fmt: skip
    """Item responses of the men's instruments after the first, beside the first's (the same men and
    timepoints), each around the man's level of :class:`InstrumentTargets`."""
    names = _men_instruments(cfg)[1:]
    if not names or measures.empty:
        return measures
    treated = cfg.schedule.arm if cfg.schedule else None
    baseline_week = cfg.baseline.week if cfg.baseline else 0
    arm_of = {m.participant_id: m.arm for m in men}
    weeks = {tp.id: tp.week for tp in cfg.timepoints}
    out = measures.copy()
    for k, name in enumerate(names, 1):
        ins, target = cfg.instruments[name], t.instruments.get(name)
        if target is None:
            raise CalibrationError(f"instruments.{name}: no calibration target for the instrument {name!r}")
        rng = np.random.default_rng([seed, 20, k])
        person = {m.participant_id: rng.normal(0, target.sd) for m in men}
        after = np.array([weeks[tp] > baseline_week for tp in out["timepoint"]])
        treated_now = np.array([arm_of[p] == treated for p in out["participant_id"]]) & after
        level = (target.baseline + np.array([person[p] for p in out["participant_id"]])
                 + target.change * after + target.effect * treated_now)  # fmt: skip
        raw = level[:, None] + rng.normal(0, target.noise, size=(len(out), ins.items))
        items = np.clip(np.rint(raw), ins.min, ins.max).astype(int)
        values = pd.DataFrame(items, columns=ins.item_columns(name), index=out.index).astype("Int64")
        values = values.mask(rng.random(values.shape) < t.measures.missing_item_rate)
        out = pd.concat([out, values], axis=1)
    return out


def _measures(
    cfg: Config, t: Targets, men: list[_Man], followup: pd.DataFrame, attendance: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    instruments = {k: cfg.instruments[k] for k in _men_instruments(cfg)[:1]}
    done = followup[followup["status"] == "completed"]
    by_id = {m.participant_id: m for m in men}
    group_of = {}
    if len(attendance):
        g = attendance.dropna(subset=["group_id"])
        group_of = dict(zip(g["participant_id"], g["group_id"], strict=True))
    group_effect = {gid: rng.normal(0, 0.15) for gid in sorted(set(group_of.values()))}
    person = {pid: rng.normal(0, 0.5) for pid in by_id}
    frames = []
    baseline_week = cfg.baseline.week if cfg.baseline else 0
    treated = cfg.schedule.arm if cfg.schedule else None
    for tp in cfg.timepoints:
        ids = done.loc[done["timepoint"] == tp.id, "participant_id"].tolist()
        if not ids:
            continue
        frame = pd.DataFrame({"participant_id": ids, "timepoint": tp.id})
        after = tp.week > baseline_week
        for name, ins in instruments.items():
            shift = np.array(
                [
                    person[p]
                    + (
                        t.measures.effect + group_effect.get(group_of.get(p), 0.0)
                        if after and by_id[p].arm == treated
                        else 0.0
                    )
                    - (0.1 if after else 0.0)
                    for p in ids
                ]
            )
            items = np.empty((len(ids), ins.items), dtype=int)
            for sub, members in ins.subscales.items():
                base = ins.min + (0.6 if sub == "physical" else 1.4)
                block = _items(rng, ins, base + shift, 0.8)
                at = np.asarray(members) - 1
                items[:, at] = block[:, at]
            cols = ins.item_columns(name)
            values = pd.DataFrame(items, columns=cols).astype("Int64")
            mask = rng.random(values.shape) < t.measures.missing_item_rate
            values = values.mask(mask)
            frame = pd.concat([frame, values], axis=1)
        frames.append(frame)
    df = pd.concat(frames, ignore_index=True)
    # A few men skip most of one subscale, so that their score is missing (max_missing_items).
    for name, ins in instruments.items():
        if not ins.subscales or not t.measures.incomplete_subscales:
            continue
        sub = sorted(ins.subscales)[0]
        item_cols = [ins.item_columns(name)[i - 1] for i in ins.subscales[sub]]
        rows = rng.choice(len(df), size=min(t.measures.incomplete_subscales, len(df)), replace=False)
        for r in rows:
            drop = rng.choice(len(item_cols), size=ins.max_missing_items + 1, replace=False)
            for c in np.asarray(item_cols)[drop]:
                df.loc[df.index[r], c] = pd.NA
    return df


def _partners(cfg: Config, t: Targets, men: list[_Man], rng: np.random.Generator) -> pd.DataFrame:
    cols = [c.name for c in SPECS["partners"].columns]
    p = t.partners
    if p is None:
        return pd.DataFrame({c: [] for c in cols})
    if p.total is not None:
        n = p.total
        consented = np.zeros(n, dtype=bool)
        contacted = np.zeros(n, dtype=bool)
        contacted[rng.choice(n, size=p.contacted or 0, replace=False)] = True
        consented[:] = contacted
    else:
        n = (p.consented or 0) + p.declined
        consented = np.zeros(n, dtype=bool)
        consented[: p.consented or 0] = True
        contacted = None
    owners = rng.choice(len(men), size=n, replace=False)
    status: list[str | None] = [None] * n
    if p.followed_up is not None:
        idx = np.flatnonzero(consented)
        ok = set(rng.choice(idx, size=p.followed_up, replace=False).tolist())
        for i in idx:
            status[i] = "completed" if i in ok else str(rng.choice(["missed", "lost", "withdrawn"], p=[0.5, 0.3, 0.2]))
    df = pd.DataFrame(
        {
            "partner_id": [f"P{t.id_prefix}{i:03d}" for i in range(1, n + 1)],
            "participant_id": [men[int(o)].participant_id for o in owners],
            "consented": pd.array(consented, dtype="boolean"),
            "followup_status": pd.array(status, dtype="string"),
        }
    )
    if contacted is not None:
        df["contacted"] = pd.array(contacted, dtype="boolean")
    ins_id = cfg.partners.instrument if cfg.partners else None
    if ins_id:
        ins = cfg.instruments[ins_id]
        level = ins.min + 0.9 + rng.normal(0, 0.5, size=n)
        items = pd.DataFrame(_items(rng, ins, level, 0.8), columns=ins.item_columns(ins_id)).astype("Int64")
        has = np.array([s == "completed" for s in status])
        items = items.where(pd.DataFrame(np.repeat(has[:, None], ins.items, axis=1), columns=items.columns))
        df = pd.concat([df, items], axis=1)
    return df


# --------------------------------------------------------------------------- baseline, reasons, events


def _covariates(
    cfg: Config, t: Targets, participants: pd.DataFrame, attendance: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """Synthetic baseline covariates (``baseline`` targets) and coded reasons for men offered sessions who
    attended none (``not_received``) or started and stopped (``discontinued``)."""
    out = participants.copy()
    n = len(out)
    for name, target in t.baseline.items():
        if isinstance(target, ContinuousTarget):
            values = np.clip(np.round(rng.normal(target.mean, target.sd, size=n)), target.min, target.max)
            col = pd.array(values, dtype="Float64")
            col[rng.choice(n, size=min(target.missing, n), replace=False)] = pd.NA
            out[name] = pd.array([None if pd.isna(v) else f"{v:g}" for v in col], dtype="string")
        else:
            levels = list(target)
            shares = np.array([target[k] for k in levels], dtype=float)
            picked = rng.choice(len(levels), size=n, p=shares / shares.sum())
            out[name] = pd.array([levels[int(i)] for i in picked], dtype="string")
    attended = attendance[attendance["attended"].fillna(False).to_numpy(dtype=bool)]
    sessions = out["participant_id"].map(attended.groupby("participant_id").size()).fillna(0).to_numpy()
    offered = (out["arm"] == (cfg.schedule.arm if cfg.schedule else None)).to_numpy(dtype=bool)
    if t.not_received:
        reasons = list(t.not_received)
        shares = np.array([t.not_received[r] for r in reasons], dtype=float)
        none = offered & (sessions == 0)
        picked = rng.choice(len(reasons), size=int(none.sum()), p=shares / shares.sum())
        given = np.full(n, None, dtype=object)
        given[none] = [reasons[int(i)] for i in picked]
        out["reason_not_received"] = pd.array(given, dtype="string")
    if t.discontinued:
        started = np.flatnonzero(offered & (sessions > 0) & (sessions < 7))
        if len(started) < t.discontinued:
            raise CalibrationError(f"discontinued: wanted {t.discontinued}, only {len(started)} men started and "
                                   "attended fewer than 7 sessions")  # fmt: skip
        chosen = rng.choice(started, size=t.discontinued, replace=False)
        stopped = np.full(n, None, dtype=object)
        codes = cfg.reasons.discontinued
        stopped[chosen] = [codes[int(i)] for i in rng.integers(len(codes), size=len(chosen))]
        out["reason_discontinued"] = pd.array(stopped, dtype="string")
    # the order the reader gives: canonical columns, the optional ones, then the covariates
    first = [c.name for c in (*SPECS["participants"].columns, *SPECS["participants"].optional_columns)]
    return out[[c for c in first if c in out.columns] + [c for c in out.columns if c not in first]]


def _events(
    cfg: Config, t: Targets, participants: pd.DataFrame, partners: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """Synthetic events: per category its count, of which ``serious`` and ``related`` as the targets say;
    a man's events fall between his randomisation and 26 weeks after it, a partner's likewise for her man."""
    cols = [c.name for c in SPECS["events"].columns]
    if cfg.events is None or not t.events.counts:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    start = participants.set_index("participant_id")["randomised_on"]
    about = {c.id: c.about for c in cfg.events.categories}
    rows: list[dict[str, Any]] = []
    for cat in (c.id for c in cfg.events.categories):
        k = t.events.counts.get(cat, 0)
        if not k:
            continue
        serious = np.zeros(k, dtype=bool)
        serious[: t.events.serious.get(cat, 0)] = True
        related = np.zeros(k, dtype=bool)
        related[rng.choice(k, size=t.events.related.get(cat, 0), replace=False)] = True
        # an event related to the intervention befalls a man of the arm offered it (or his partner)
        offered = set(participants.loc[participants["arm"] == (cfg.schedule.arm if cfg.schedule else None),
                                       "participant_id"])  # fmt: skip
        if about[cat] == "partner":
            theirs_p = partners[partners["participant_id"].isin(offered)]
            pool = [theirs_p if r else partners for r in related]
            who = [q.iloc[int(rng.integers(len(q)))] if len(q) else partners.iloc[0] for q in pool]
            ids = [(None, w["partner_id"], w["participant_id"]) for w in who]
        else:
            everyone = participants["participant_id"].to_numpy()
            theirs = np.array(sorted(offered), dtype=object) if offered else everyone
            men = [(theirs if r else everyone)[int(rng.integers(len(theirs if r else everyone)))] for r in related]
            ids = [(m, None, m) for m in men]
        for j, (pid, partner, man) in enumerate(ids):
            day = start[man] + pd.Timedelta(days=int(rng.integers(1, 183)))
            rows.append({"participant_id": pid, "partner_id": partner, "event_on": day, "category": cat,
                         "serious": bool(serious[j]), "related": bool(related[j])})  # fmt: skip
    df = pd.DataFrame(rows).sort_values(["event_on", "category"], kind="stable").reset_index(drop=True)
    df.insert(0, "event_id", [f"E{t.id_prefix}{i:03d}" for i in range(1, len(df) + 1)])
    return df.astype({"participant_id": "string", "partner_id": "string", "category": "string",
                      "serious": "boolean", "related": "boolean", "event_on": "datetime64[s]"})[cols]  # fmt: skip
