"""Bringing site files into the canonical data: all or nothing, every problem at once, audited.

:func:`import_files` reads each file, maps its header through the config's ``import`` rules,
converts and checks every row, compares rows with keys already in the canonical file, and then
either writes the merged canonical file atomically or writes nothing and raises
:class:`ImportRefused` listing every problem. Existing rows are kept as their exact text, so an
import never rewrites a row it does not touch. Every attempt is recorded in
``DATA/import/audit.csv``; a file whose bytes were imported before changes nothing.
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from advance_trial.config.models import Config
from advance_trial.data.canonical import CanonicalData, cross_checks, empty_table, parse_table
from advance_trial.data.folder import Transaction, locked
from advance_trial.data.schema import FILE_NAMES, SPECS
from advance_trial.data.tablefile import write_bytes_atomic
from advance_trial.errors import DataError, DataProblem, UsageError
from advance_trial.importing.checks import CODED, FREE_TEXT, check_rows, key_text
from advance_trial.importing.convert import Problems, convert
from advance_trial.importing.csvtext import canonical_text, text_file
from advance_trial.importing.mapping import header_fits, header_likeness, map_header, mapping_for, with_options
from advance_trial.importing.readers import Part, RawTable, read_site_file

AUDIT_COLUMNS = ["at_utc", "by", "kind", "site", "file", "sheet", "sha256", "rows_read", "accepted", "new", "unchanged",
                 "replaced", "rejected", "outcome", "options"]  # fmt: skip
#: The kind of a REDCap record export, split into the canonical kinds its forms feed.
REDCAP = "redcap"
#: A site file, or a REDCap export's rows for one kind and site.
Source = str | Path | Part
REPLACEMENT_COLUMNS = ["at_utc", "by", "kind", "site", "file", "sha256", "row", "key", "column", "old", "new"]


class ImportRefused(DataError):
    """Nothing was written: the problems, and where the report for the site was saved."""

    def __init__(self, problems: list[DataProblem], report: Path | None) -> None:
        super().__init__(problems)
        self.report = report

    def footer(self) -> list[str]:
        return [f"Nothing was written. Every problem, for the site: {self.report}"] if self.report else []


@dataclass(frozen=True)
class RowPreview:
    """What an import would do with one row of a site file (``import --dry-run``).

    Attributes
    ----------
    file : str
        The file (and sheet) as the user knows it.
    row : int
        The row's number in the spreadsheet.
    key : str
        The row's key in the canonical file (``AF001/week16``).
    status : str
        ``new``, ``changed`` (with ``--replace``), ``unchanged`` or ``refused``.
    changes : tuple of (column, old, new)
        The values a changed (or refused, differing) row would replace.
    why : str
        Why a row would be refused.
    kind : str
        The canonical file the row goes to.
    """

    file: str
    row: int
    key: str
    status: str
    changes: tuple[tuple[str, str, str], ...] = ()
    why: str = ""
    kind: str = ""


class _DryRun(Transaction):
    """A transaction that writes nothing: ``import --dry-run`` goes through every step but this one."""

    def put(self, relative: str, data: bytes | None) -> None:
        return None

    def commit(self, after_intent: Callable[[str], None] | None = None) -> None:
        return None


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file."""

    file: str
    sha256: str
    rows_read: int
    new: int = 0
    unchanged: int = 0
    replaced: int = 0
    rejected: int = 0
    outcome: str = "imported"  # imported | imported_partially | already_imported
    source: str = ""
    rejected_file: str | None = None
    problems: tuple[DataProblem, ...] = field(default_factory=tuple)
    site: str = ""
    kind: str = ""

    @property
    def accepted(self) -> int:
        return self.new + self.unchanged + self.replaced

    def counts(self) -> dict[str, object]:
        """File, hash, the counts and the outcome, as the audit log and ``--json`` give them."""
        return {"file": self.file, "sha256": self.sha256, "rows_read": self.rows_read, "accepted": self.accepted,
                "new": self.new, "unchanged": self.unchanged, "replaced": self.replaced, "rejected": self.rejected,
                "outcome": self.outcome}  # fmt: skip


@dataclass
class _Prepared:
    raw: RawTable
    sha: str
    rows: pd.DataFrame  # canonical text of every row, canonical column order
    provided: list[str]
    problems: Problems
    shown: dict[str, str]
    positions: list[int]
    key_columns: pd.DataFrame  # the rows' key columns, typed
    name: str = ""  # the file's name (problems name the sheet too: ``raw.file``)

    @functools.cached_property
    def keys(self) -> npt.NDArray[np.object_]:
        """Each row's key (:func:`~advance_trial.importing.checks.key_text`), as the canonical file will have it:
        spelt out only when an import needs them (rows already in the file, files that follow, a dry run)."""
        return key_text(self.key_columns, list(self.key_columns.columns))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text_table(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    return pd.read_csv(path, dtype=object, keep_default_na=False, na_filter=False)  # every cell a str


def _existing(cfg: Config, data: Path) -> CanonicalData:
    from advance_trial.data.canonical import read_canonical

    if (data / "participants.csv").exists():
        return read_canonical(cfg, data)
    present = [n for n in FILE_NAMES if (data / f"{n}.csv").exists()]
    if present and present != ["screening"]:
        raise DataError([DataProblem("participants.csv", None, None, None, f"required file missing in {data}")])
    return _canonical({n: empty_table(SPECS[n]) for n in FILE_NAMES})


def _canonical(tables: dict[str, pd.DataFrame]) -> CanonicalData:
    """The canonical tables by name as :class:`CanonicalData` (no file read: no hashes)."""
    return CanonicalData(screening=tables["screening"], participants=tables["participants"],
                         attendance=tables["attendance"], followup=tables["followup"], measures=tables["measures"],
                         partners=tables["partners"], events=tables["events"])  # fmt: skip


def _audit_path(data: Path) -> Path:
    return data / "import" / "audit.csv"


def _already(data: Path, kind: str, sha: str, sheet: str | None, site: str) -> pd.Series | None:
    audit = _text_table(_audit_path(data))
    if audit is None or audit.empty:
        return None
    same = (audit["sha256"] == sha) & (audit["kind"] == kind) & (audit["site"] == site)
    if sheet is not None:  # the ledger names the sheet read; without --sheet, the same bytes were read before
        same &= audit["sheet"].str.casefold() == sheet.casefold()
    done = audit[same & audit["outcome"].str.startswith("imported")]
    return None if done.empty else done.iloc[0]


def _append_csv(txn: Transaction, relative: str, rows: list[dict[str, object]], columns: list[str]) -> None:
    """Stage the ledger ``relative`` with ``rows`` appended (in the same transaction as the data)."""
    old = _text_table(txn.folder / relative)
    new = pd.DataFrame(rows, columns=columns).astype(str)
    frame = new if old is None else pd.concat([old, new], ignore_index=True)
    txn.put(relative, frame.to_csv(index=False, lineterminator="\n").encode())


@dataclass(frozen=True)
class HeaderOptions:
    """The command line's say over a site file's header: its row, headers mapped, headers ignored.

    Attributes
    ----------
    row : int or None
        The header's row number (``--header-row``); None: the first row the mapping can read.
    columns : dict
        Site header -> canonical column (``--map "HEADER=column"``), over the config's rules.
    ignore : tuple of str
        Site headers dropped on purpose (``--ignore HEADER``).
    """

    row: int | None = None
    columns: dict[str, str] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()

    def text(self) -> str:
        """The options as the ledger records them (empty when none was given)."""
        parts = [f"--header-row {self.row}"] if self.row is not None else []
        parts += [f'--map "{h}={c}"' for h, c in self.columns.items()]
        parts += [f'--ignore "{h}"' for h in self.ignore]
        return " ".join(parts)


def _prepare(cfg: Config, kind: str, site: str, source: Path | Part, sheet: str | None, existing: CanonicalData,
             options: HeaderOptions = HeaderOptions()) -> _Prepared:  # fmt: skip
    mapping = with_options(mapping_for(cfg, site, kind), options.columns, options.ignore)
    if isinstance(source, Part):  # a REDCap export's rows for this kind and site
        raw, sha, name = source.raw, source.sha256, source.raw.file
    else:
        raw, data = read_site_file(source, sheet, header_fits(cfg, kind, mapping), options.row,
                                   header_likeness(cfg, kind, mapping))  # fmt: skip
        sha, name = hashlib.sha256(data).hexdigest(), source.name
    header = map_header(cfg, kind, raw, mapping, site, redcap=isinstance(source, Part))
    typed, problems, spread = convert(cfg, kind, site, raw, header, mapping)
    check_rows(cfg, kind, site, typed, raw.cells, header, existing, problems)
    key_columns = typed[list(SPECS[kind].key)]
    if isinstance(source, Part):
        no_event = {i for i, column, _, _ in source.problems if column == "redcap_event_name"}
        if no_event:  # the event's problem says why the timepoint is empty: once, not twice
            problems.items = [(i, p) for i, p in problems.items if not (i in no_event and p.column == "timepoint")]
        for i, column, value, message in source.problems:
            problems.add_one(i, column, value, message)
    provided = [c for c in typed.columns if c in header.positions or c == "site"]
    text = canonical_text(typed, {c: v for c, v in spread.items() if c not in CODED})  # check_rows recodes those
    positions = sorted(header.positions.values())
    return _Prepared(raw, sha, text, provided, problems, header.shown, positions, key_columns, name)


def _column_order(cfg: Config, kind: str, existing: pd.DataFrame | None, incoming: list[str]) -> list[str]:
    spec = SPECS[kind]
    base = list(existing.columns) if existing is not None else [c.name for c in spec.columns]
    extra = [c for c in incoming if c not in base]
    order = {c.name: i for i, c in enumerate(spec.optional_columns)}
    items = [c for ins_id, ins in cfg.instruments.items() for c in ins.item_columns(ins_id)]
    rank = {c: i for i, c in enumerate(items)}
    extra.sort(key=lambda c: (c not in order, order.get(c, 0), rank.get(c, 10**6), c))
    return base + extra


def import_files(
    cfg: Config,
    data: str | Path,
    site: str | None,
    kind: str | Sequence[str],
    files: Sequence[str | Path],
    *,
    sheet: str | None = None,
    accept_valid: bool = False,
    replace: bool = False,
    by: str | None = None,
    report: str | Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    waiting: Callable[[str], None] | None = None,
    header_row: int | None = None,
    log: str | Path | None = None,
    key_dir: str | Path | None = None,
    columns: dict[str, str] | None = None,
    ignore: Sequence[str] = (),
    preview: list[RowPreview] | None = None,
) -> list[FileOutcome]:
    """Import site files for one site into the canonical data folder ``data``.

    ``kind`` is the kind of every file, or one kind per file: several kinds are merged, checked and
    written as one transaction (a new man's screening and participant rows together). Kind
    ``redcap`` is a REDCap record export, split by the config's ``redcap`` section into the kinds its
    forms feed; its rows' data access groups give their sites (``site`` may then be ``None``).

    The folder is locked for the whole import and written as one transaction with its ledger
    (:mod:`advance_trial.data.folder`); ``waiting`` hears when another command holds it. The header is
    the first row the mapping can read (below a title, say), or row ``header_row``. With ``replace``,
    a randomised man's arm changes only to the arm the allocation log ``log`` (verified with the key
    in ``key_dir``) gives him. ``columns`` (site header -> canonical column) and ``ignore`` (site headers)
    map the header over the config's rules, for this import; the ledger records them.

    With ``preview`` (a list) it is a dry run: every step but the writing, each row's fate appended to
    ``preview`` (:class:`RowPreview`); it raises as the import would, and writes nothing (no report,
    no ledger entry).

    Raises
    ------
    UsageError
        An unknown site or kind.
    ImportRefused
        Any problem (without ``accept_valid``), or a problem no row can be set aside for
        (an unreadable file, an unknown column, an inconsistency across files); nothing written.
    """
    kinds = [kind] * len(files) if isinstance(kind, str) else list(kind)
    if len(kinds) == 1 and len(files) > 1:
        kinds *= len(files)
    if len(kinds) != len(files):
        raise UsageError(f"--kind given {len(kinds)} times for {len(files)} files: once, or once per file")
    for k in kinds:
        if k not in SPECS and k != REDCAP:
            raise UsageError(f"--kind {k!r}: one of {', '.join((*FILE_NAMES, REDCAP))}")
    if site is None and any(k != REDCAP for k in kinds):
        raise UsageError("give --site: the site the files come from")
    if site is not None and site not in cfg.site_ids:
        raise UsageError(f"--site {site!r}: not a site of {cfg.trial.id}; sites: {', '.join(cfg.site_ids)}")
    options = HeaderOptions(header_row, dict(columns or {}), tuple(ignore))
    check_options(cfg, kinds, options)
    data = Path(data)
    by = by or getpass.getuser()
    with locked(data, waiting) as real:
        txn: Transaction = real if preview is None else _DryRun(real.folder)
        sources: list[tuple[str, str, Source]] = []
        for f, k in zip(files, kinds, strict=True):
            if k != REDCAP:
                sources.append((k, str(site), f))
                continue
            try:
                parts = read_export(cfg, f, site)
            except DataError as exc:
                sha = hashlib.sha256(Path(f).read_bytes()).hexdigest() if Path(f).is_file() else ""
                refused = FileOutcome(Path(f).name, sha, 0, outcome="refused", site=site or "")
                _refuse(txn, [(REDCAP, refused)], site or REDCAP, exc.problems, by, report, options)
            sources += [(p.kind, p.site, p) for p in parts]
        batches = [
            (k, [(s, src) for sk, s, src in sources if sk == k]) for k in dict.fromkeys(k for k, _, _ in sources)
        ]
        return _import_locked(cfg, data, txn, site or REDCAP, batches, sheet=sheet, accept_valid=accept_valid,
                              replace=replace, by=by, report=report, step=progress or (lambda *_: None),
                              options=options, log=log, key_dir=key_dir, preview=preview)  # fmt: skip


def check_options(cfg: Config, kinds: Sequence[str], options: HeaderOptions) -> None:
    """``--map`` targets must be columns of one of the kinds imported; no identifying header is mapped (exit 2)."""
    from advance_trial.data.schema import allowed_columns, is_identifying, item_column_owner

    if options.row is not None and options.row < 1:
        raise UsageError(f"--header-row {options.row}: a row number, 1 or more")
    canonical = [k for k in kinds if k in SPECS]
    allowed = {c for k in canonical for c in allowed_columns(cfg, k)}
    for header, target in options.columns.items():
        if not header.strip() or not target.strip():
            raise UsageError(f'--map "{header}={target}": give it as "SITE HEADER=canonical column"')
        if is_identifying(header):
            raise UsageError(f"--map {header!r}: looks like identifying information, which never enters the canonical "
                             f'data; delete the column or drop it with --ignore "{header}"')  # fmt: skip
        items = any(item_column_owner(cfg, target, "partner" if k == "partners" else "man") for k in canonical)
        if target not in allowed and not items:
            raise UsageError(f"--map {header!r}={target!r}: not a column of {', '.join(f'{k}.csv' for k in canonical)}"
                             f"; columns: {', '.join(sorted(allowed))}")  # fmt: skip


def read_export(cfg: Config, path: str | Path, site: str | None) -> list[Part]:
    """A REDCap record export split into its canonical files' rows, per site (:mod:`advance_trial.redcap.export`)."""
    from dataclasses import replace as dc_replace

    from advance_trial.redcap.export import looks_like_export, split_export

    if cfg.redcap is None:
        raise UsageError(f"--kind redcap: {cfg.trial.id}'s config has no redcap section; make one with "
                         "`advance-trial config from-redcap DICTIONARY.csv --base CONFIG`")  # fmt: skip
    raw, data = read_site_file(path, None, lambda h: looks_like_export(cfg, h))
    sha = hashlib.sha256(data).hexdigest()
    return [dc_replace(p, sha256=sha) for p in split_export(cfg, raw, site)]


@dataclass
class _KindMerge:
    """One kind's files merged into its canonical table, not yet written."""

    kind: str
    outcomes: list[FileOutcome]
    fatal: list[DataProblem]
    problems: list[DataProblem]
    body: bytes
    rejected: dict[str, tuple[pd.DataFrame, FileOutcome]]
    replacements: list[dict[str, object]]
    typed: pd.DataFrame | None = None  # the merged file read back as canonical data
    read_problems: list[DataProblem] = field(default_factory=list)
    #: each file's rows (canonical text), their spreadsheet rows, the file's name and its path as given: a
    #: problem found in the merged file is told where the research assistant will look for it
    sources: list[tuple[pd.DataFrame, np.ndarray, str, str]] = field(default_factory=list)
    merged: pd.DataFrame | None = None  # the merged file's text, row for row
    cells: pd.DataFrame | None = None  # its bytes' cells, when known without tokenising them (csvtext.read_back)
    incoming: list[pd.DataFrame] = field(default_factory=list)  # the participants rows read, refused ones too


def _logged_arms(cfg: Config, log: str | Path | None, key_dir: str | Path | None) -> dict[str, tuple[str, ...]]:
    """Man -> the arm the verified allocation log gives him, or its blinding code."""
    if log is None:
        return {}
    from advance_trial.randomisation.allocation import allocations, trial_key

    frame = allocations(cfg, trial_key(cfg, key_dir, log), log)
    codes = cfg.randomisation.blinding.codes if cfg.randomisation.blinding else {}
    return {str(p): tuple(filter(None, (str(a), codes.get(str(a)))))
            for p, a in zip(frame["participant_id"], frame["arm"], strict=True)}  # fmt: skip


def _merge_kind(
    cfg: Config, data: Path, existing: CanonicalData, kind: str, files: Sequence[tuple[str, Source]], *,
    sheet: str | None, replace: bool, by: str, step: Callable[[str, int, int], None], options: HeaderOptions,
    logged_arms: dict[str, tuple[str, ...]], preview: list[RowPreview] | None = None,
) -> _KindMerge:  # fmt: skip
    current = _text_table(data / f"{kind}.csv")
    keys = list(SPECS[kind].key)
    merged = (
        current.copy()
        if current is not None
        else pd.DataFrame(columns=[c.name for c in SPECS[kind].columns], dtype=object)
    )
    index = dict(zip(key_text(merged, keys), range(len(merged)), strict=True)) if len(merged) else {}
    result = _KindMerge(kind, [], [], [], b"", {}, [])
    for n, (site, source) in enumerate(files, 1):
        path = source if isinstance(source, Part) else Path(source)
        name = path.raw.file if isinstance(path, Part) else path.name
        step(f"reading {name}", n - 1, len(files))
        if isinstance(path, Part):
            sha = path.sha256
        else:
            sha = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        done = _already(data, kind, sha, sheet, site) if sha else None
        if done is not None:
            result.outcomes.append(FileOutcome(name, sha, int(done["rows_read"]), outcome="already_imported",
                                               site=site, kind=kind))  # fmt: skip
            continue
        try:
            prep = _prepare(cfg, kind, site, path, sheet, existing, options)
        except DataError as exc:
            result.fatal.extend(exc.problems)
            result.outcomes.append(FileOutcome(name, sha, 0, outcome="refused", site=site, kind=kind))
            if kind == "participants" and isinstance(path, Part) and "participant_id" in path.raw.header:
                ids = path.raw.cells[path.raw.header.index("participant_id")]  # its men, refused with the file
                result.incoming.append(pd.DataFrame({"participant_id": ids.astype(str), "site": site}))
            continue
        step(f"checking {prep.name}", n - 1, len(files))
        new_rows, outcome = _merge(cfg, kind, site, prep, merged, index, replace, result.replacements, by,
                                   logged_arms, preview, more=n < len(files))  # fmt: skip
        outcome = _with(outcome, site=site, kind=kind)
        if len(new_rows):  # a file new to the folder: its rows are the merged file
            merged = pd.concat([merged, new_rows], ignore_index=True) if len(merged) else new_rows
        given = prep.raw.file if isinstance(path, Part) else str(source)
        result.sources.append((prep.rows, prep.raw.rows, prep.raw.file, given))
        if kind == "participants":
            result.incoming.append(prep.rows)
        result.outcomes.append(outcome)
        result.problems.extend(outcome.problems)
        if outcome.rejected:
            result.rejected[f"{site}/{prep.name}"] = (_quarantine(prep), outcome)
    columns = _column_order(cfg, kind, current, list(merged.columns))
    written = text_file(merged.reindex(columns=columns, fill_value=""))
    result.body, result.merged, result.cells = written.body, written.frame, written.cells
    return result


def _import_locked(
    cfg: Config, data: Path, txn: Transaction, site: str, batches: Sequence[tuple[str, Sequence[tuple[str, Source]]]],
    *,
    sheet: str | None, accept_valid: bool, replace: bool, by: str, report: str | Path | None,
    step: Callable[[str, int, int], None], options: HeaderOptions = HeaderOptions(), log: str | Path | None = None,
    key_dir: str | Path | None = None, preview: list[RowPreview] | None = None,
) -> list[FileOutcome]:  # fmt: skip
    """Every kind's files merged in the order the files depend on each other (screening, participants,
    the rest), checked together, written together: a new man's screening and participant rows arrive in
    one command."""
    existing = _existing(cfg, data)
    order = sorted(batches, key=lambda b: FILE_NAMES.index(b[0]))
    merges: list[_KindMerge] = []
    tables = existing.tables()
    for kind, files in order:
        arms = _logged_arms(cfg, log, key_dir) if kind == "participants" and replace else {}
        m = _merge_kind(cfg, data, _canonical(tables), kind, files, sheet=sheet, replace=replace, by=by,
                        step=step, options=options, logged_arms=arms, preview=preview)  # fmt: skip
        merges.append(m)
        m.typed, m.read_problems = parse_table(cfg, SPECS[kind], m.body, f"{kind}.csv", m.cells)
        if not m.read_problems:  # the kinds after this one are checked against its new rows
            tables[kind] = m.typed
        if kind == "participants" and not accept_valid:
            tables[kind] = _with_refused_men(tables[kind], m)
    labelled = [(m.kind, o) for m in merges for o in m.outcomes]
    fatal = [p for m in merges for p in m.fatal]
    problems = fatal + [p for m in merges for p in m.problems]
    if fatal or (problems and not accept_valid):
        _refuse(txn, labelled, site, problems, by, report, options, sheet)
    _final_check(cfg, merges, existing, txn, labelled, by, report, site, options, sheet)
    step("writing", 1, 1)
    stamp = _now()
    replacements: list[dict[str, object]] = []
    for m in merges:
        if any(o.new or o.replaced for o in m.outcomes):
            txn.put(f"{m.kind}.csv", m.body)
        for frame, outcome in m.rejected.values():
            relative = f"rejected/{m.kind}-{outcome.site or site}-{outcome.sha256[:12]}.csv"
            txn.put(relative, frame.to_csv(index=False, lineterminator="\n").encode())
            at = labelled.index((m.kind, outcome))
            labelled[at] = (m.kind, _with(outcome, rejected_file=str(data / relative)))
        replacements += m.replacements
    if replacements:
        for r in replacements:
            r["at_utc"] = stamp
        _append_csv(txn, "import/replacements.csv", replacements, REPLACEMENT_COLUMNS)
    _audit(txn, labelled, site, by, stamp, options, sheet)
    return [o for _, o in labelled]


def _with_refused_men(known: pd.DataFrame, m: _KindMerge) -> pd.DataFrame:
    """The participants the kinds after them are checked against, with the men whose participants rows this
    import refuses: the import is refused for those rows already, and his measures or sessions in the same
    import must not be refused again as "not in participants.csv" (one cause, said once, on his own row).
    Only for checking: nothing of it is written."""
    if not m.incoming:
        return known
    rows = pd.concat(m.incoming, ignore_index=True)
    ids = rows["participant_id"].replace("", np.nan)
    pending = rows[ids.notna() & ~ids.isin(set(known["participant_id"].dropna()))]
    if pending.empty:
        return known
    extra = pending.reindex(columns=["participant_id", "site", "arm"]).replace("", np.nan)
    return pd.concat([known, extra.drop_duplicates("participant_id")], ignore_index=True)


#: A key not in the canonical file (the index's -1: brought by an earlier file of this import).
_ABSENT = -2


def _with(o: FileOutcome, **changes: Any) -> FileOutcome:
    from dataclasses import replace as dc_replace

    return dc_replace(o, **changes)


def _merge(
    cfg: Config,
    kind: str,
    site: str,
    prep: _Prepared,
    merged: pd.DataFrame,
    index: dict[str, int],
    replace: bool,
    replacements: list[dict[str, object]],
    by: str,
    logged_arms: dict[str, tuple[str, ...]],
    preview: list[RowPreview] | None = None,
    more: bool = True,
) -> tuple[pd.DataFrame, FileOutcome]:
    """Compare incoming rows with the rows already there; update ``merged`` in place for replacements.
    A randomised man's arm is replaced only when ``logged_arms`` (from the allocation log) agrees.
    ``index`` (key -> row of ``merged``) gains this file's new keys when ``more`` files follow."""
    keys = list(SPECS[kind].key)
    rows, problems, provided = prep.rows, prep.problems, prep.provided
    bad = np.zeros(len(rows), dtype=bool)
    bad[prep.problems.bad_positions()] = True
    if index:
        at = np.fromiter((index.get(k, _ABSENT) for k in prep.keys.tolist()), dtype=np.int64, count=len(rows))
    else:  # a new file: every key is new
        at = np.full(len(rows), _ABSENT, dtype=np.int64)
    for col in provided:
        if col not in merged.columns:
            merged[col] = ""
    new_positions = np.flatnonzero((at == _ABSENT) & ~bad).tolist()
    known = np.flatnonzero((at != _ABSENT) & ~bad)
    # the rows whose key is there already, compared column by column at once; only those that differ go on
    olds = merged[provided].to_numpy(dtype=object)[np.maximum(at[known], 0)]
    news = rows[provided].to_numpy(dtype=object)[known]
    differ = olds.astype(str) != news.astype(str)
    same = ~differ.any(axis=1) & (at[known] >= 0)
    unchanged, replaced = int(same.sum()), 0
    fates: _Fates = dict.fromkeys(known[same].tolist(), ("unchanged", ())) if preview is not None else {}
    assigned: dict[str, tuple[list[int], list[object]]] = {}
    for j in np.flatnonzero(~same).tolist():
        i = int(known[j])
        k, where = str(prep.keys[i]), int(at[i])
        if where < 0:  # the key came in from an earlier file of this import
            problems.add_one(i, "/".join(keys), k.replace("\x1f", "/"), "the same key is in an earlier file")
            continue
        old = dict(zip(provided, olds[j].tolist(), strict=True))
        new = dict(zip(provided, news[j].tolist(), strict=True))
        differs = [provided[c] for c in np.flatnonzero(differ[j]).tolist()]
        fates[i] = ("changed", tuple((prep.shown.get(c, c), str(old[c]), str(new[c])) for c in differs))
        if replace and "arm" in differs and kind == "participants" and str(new["arm"]) not in logged_arms.get(k, ()):
            why = (f"the allocation log has arm {logged_arms[k][0]!r} for this man" if k in logged_arms else
                   "an arm changes only with the allocation log: give --log (and --key-dir) to check it against "
                   "the log, or correct the allocation with `randomise correct`")  # fmt: skip
            problems.add_one(i, prep.shown.get("arm", "arm"), new["arm"], f"--replace refused: {why}")
        elif replace:
            for c in differs:
                replacements.append({"by": by, "kind": kind, "site": site, "file": prep.name, "sha256": prep.sha,
                                     "row": int(prep.raw.rows[i]), "key": k.replace("\x1f", "/"), "column": c,
                                     "old": old[c], "new": new[c]})  # fmt: skip
                assigned.setdefault(c, ([], []))[0].append(where)
                assigned[c][1].append(new[c])
            replaced += 1
        else:
            for c in differs:
                msg = f"differs from the canonical data ({old[c]!r}); use --replace to replace it"
                problems.add_one(i, prep.shown.get(c, c), new[c], msg)
    for c, (where_list, values) in assigned.items():
        column = merged[c].to_numpy(dtype=object, copy=True)
        column[where_list] = values
        merged[c] = column
    if more:  # the files after this one are told which keys it brought
        index.update(dict.fromkeys(prep.keys[new_positions].tolist(), -1))
    bad_now = set(problems.bad_positions().tolist())
    keep = [i for i in new_positions if i not in bad_now] if bad_now else new_positions
    rejected = len(bad_now)
    taken = rows if len(keep) == len(rows) else rows.iloc[keep]  # canonical text: nothing missing
    new_rows = taken.reindex(columns=list(merged.columns), fill_value="").reset_index(drop=True)
    if preview is not None:
        preview += _row_fates(kind, prep, prep.keys, keep, fates, bad_now)
    outcome = FileOutcome(
        prep.name, prep.sha, len(rows), new=len(keep), unchanged=unchanged,
        replaced=replaced, rejected=rejected, outcome="imported_partially" if rejected else "imported",
        source=prep.raw.source, problems=tuple(p for _, p in sorted(problems.items, key=lambda x: x[1].row or 0)),
    )  # fmt: skip
    return new_rows, outcome


_Fates = dict[int, tuple[str, tuple[tuple[str, str, str], ...]]]


def _row_fates(kind: str, prep: _Prepared, keys: npt.NDArray[np.object_], new: list[int], fates: _Fates,
               bad: set[int]) -> list[RowPreview]:  # fmt: skip
    """Each row's fate, in the file's order, for the dry run."""
    why: dict[int, list[str]] = {}
    for i, p in prep.problems.items:
        why.setdefault(i, []).append(f"{p.column}: {p.message}" if p.column else p.message)
    out = []
    new_set = set(new)
    for i in range(len(prep.rows)):
        status, changes = ("new", ()) if i in new_set else fates.get(i, ("refused", ()))
        if i in bad:
            status = "refused"
        out.append(RowPreview(prep.raw.file, int(prep.raw.rows[i]), str(keys[i]).replace("\x1f", "/"), status,
                              changes, "; ".join(why.get(i, [])), kind))  # fmt: skip
    return out


def _quarantine(prep: _Prepared) -> pd.DataFrame:
    """Rejected rows as the site wrote them (mapped columns only: ignored columns stay out), with the problems."""
    bad = prep.problems.bad_positions()
    why: dict[int, list[str]] = {}
    for i, p in prep.problems.items:
        why.setdefault(i, []).append(f"{p.column}: {p.message}")
    frame = prep.raw.cells.iloc[bad, prep.positions].copy()
    frame.columns = [prep.raw.header[p] for p in prep.positions]

    for column in CODED:  # free text never reaches a file, not even the rejected rows
        free = prep.shown.get(column)
        original = free.removesuffix(f" ({column})") if free is not None else None
        if original is not None and original in frame.columns:
            frame[original] = ""
    frame.insert(0, "row", prep.raw.rows[bad])
    frame["problems"] = ["; ".join(why[int(i)]) for i in bad]
    return frame


def _refuse(
    txn: Transaction, labelled: list[tuple[str, FileOutcome]], site: str, problems: list[DataProblem], by: str,
    report: str | Path | None, options: HeaderOptions, sheet: str | None = None,
) -> None:  # fmt: skip
    """Write the problem report and the audit entry (one transaction, no data); raise with every problem.
    A dry run writes nothing and raises the same problems."""
    if isinstance(txn, _DryRun):
        raise ImportRefused(problems, None)
    data = txn.folder
    frame = pd.DataFrame(
        [(p.file, p.row, p.column, None if FREE_TEXT in p.message else p.value, p.message) for p in problems],
        columns=["file", "row", "column", "value", "problem"],
    )  # a free-text value is shown to the assistant on the terminal, never written
    first = next((o.sha256 for _, o in labelled if o.sha256), "")
    kinds = "+".join(dict.fromkeys(k for k, _ in labelled)) or "files"
    body = frame.to_csv(index=False, lineterminator="\n").encode()
    relative = f"import/reports/{kinds}-{site}-{first[:12] or 'files'}.csv"
    path = Path(report) if report else data / relative
    txn.files.clear()  # nothing of the data: only the report and the ledger
    if report:
        write_bytes_atomic(body, path)
    else:
        txn.put(relative, body)
    refused = [(k, _with(o, outcome="refused", new=0, unchanged=0, replaced=0)) for k, o in labelled
               if o.outcome != "already_imported"]  # fmt: skip
    _audit(txn, refused, site, by, _now(), options, sheet)
    txn.commit()
    raise ImportRefused(problems, path)


def _final_check(
    cfg: Config, merges: list[_KindMerge], existing: CanonicalData, txn: Transaction,
    labelled: list[tuple[str, FileOutcome]], by: str, report: str | Path | None, site: str, options: HeaderOptions,
    sheet: str | None,
) -> None:  # fmt: skip
    """The merged files must read as canonical data with every other file: nothing wrong gets in."""
    tables = existing.tables()
    problems: list[DataProblem] = []
    for m in merges:  # read back once, when merged
        problems += m.read_problems
        if m.typed is not None:
            tables[m.kind] = m.typed
    if not problems:
        problems = cross_checks(cfg, tables)
    if problems:
        problems = [_placed(cfg, merges, p, txn.folder, site) for p in problems]
        _refuse(txn, labelled, site, problems, by, report, options, sheet)


def _origin(m: _KindMerge, row: int | None) -> tuple[str, int, str] | None:
    """The site file and spreadsheet row that the merged file's row ``row`` came from in this import (the
    last file to bring its key), with the file's path as given; None for a row that was there before."""
    if row is None or m.merged is None or not 0 <= row - 2 < len(m.merged):
        return None
    keys = list(SPECS[m.kind].key)
    wanted = key_text(m.merged.iloc[[row - 2]], keys)[0]
    for rows, numbers, file, given in reversed(m.sources):
        hit = np.flatnonzero(key_text(rows, keys) == wanted)
        if len(hit):
            return file, int(numbers[hit[0]]), given
    return None


#: A man's screening and participants rows each need the other: (this kind, the message, the partner kind).
_PARTNERS = {("screening", "not in participants.csv"): "participants",
             ("participants", "not in screening.csv"): "screening"}  # fmt: skip


def _placed(cfg: Config, merges: list[_KindMerge], p: DataProblem, data: Path, site: str) -> DataProblem:
    """A problem of the merged file, placed in the site file the row came from (its row as the spreadsheet
    shows it); when the row needs its partner file (a new man's screening and participants rows), it says
    which file, and the one command that brings both."""
    kind = p.file.removesuffix(".csv")
    merge = next((m for m in merges if m.kind == kind), None)
    where = _origin(merge, p.row) if merge is not None else None
    if where is None:
        return DataProblem(p.file, p.row, p.column, p.value, f"after this import: {p.message}")
    file, row, given = where
    message = f"after this import: {p.message}"
    partner = next((k for (this, said), k in _PARTNERS.items() if this == kind and p.message.startswith(said)), None)
    if partner is not None and all(m.kind != partner for m in merges):
        import shlex

        config = cfg.source.path if cfg.source is not None else "CONFIG"
        what = "participants row (randomisation)" if partner == "participants" else "screening row"
        command = shlex.join(["advance-trial", "import", config, given, f"{partner.upper()}-FILE", "--data", str(data),
                              "--site", site, "--kind", kind, "--kind", partner])  # fmt: skip
        message += (f"; a new man's {kind} row needs his {what} in the same import: give the {partner} file too "
                    f"(replace {partner.upper()}-FILE), in one command: {command}")  # fmt: skip
    return DataProblem(file, row, p.column, p.value, message)


def _sheet_read(o: FileOutcome) -> str:
    """The workbook sheet a file was read from (its source says ``xlsx sheet 'NAME'``), else ""."""
    m = re.match(r"xlsx sheet '(.*)'(?:;|$)", o.source)
    return m.group(1) if m else ""


def _audit(
    txn: Transaction,
    labelled: list[tuple[str, FileOutcome]],
    site: str,
    by: str,
    stamp: str,
    options: HeaderOptions,
    sheet: str | None,
) -> None:
    rows = [{"at_utc": stamp, "by": by, "kind": kind, "site": o.site or site, "sheet": _sheet_read(o) or sheet or "",
             **o.counts(), "options": options.text()}  # fmt: skip
            for kind, o in labelled]  # fmt: skip
    if rows:
        _append_csv(txn, "import/audit.csv", rows, AUDIT_COLUMNS)
