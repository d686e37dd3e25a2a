"""Print the figures issue 31 measures the house by, so that before and after come from one command.

Usage (from the repository root, after a run of the sample into ``results/``)::

    python scripts/house_metrics.py [--results results/results.csv]

It reads the package's own source (``advance_trial/``) and, when given, a run's ``results.csv``:

- modules over 500 and over 800 lines, functions over 50 lines;
- import cycles between modules (function-level imports included);
- analysis modules that import ``advance_trial.output``, and output modules that import analysis,
  randomisation, REDCap or import modules;
- table-name string literals in the disclosure and blinding modules;
- the results data set's rows, distinct ``stat_name`` values and rows whose ``stat`` is not a number.

Nothing is written; the figures go to standard output, one per line.
"""

from __future__ import annotations

import argparse
import ast
import csv
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "advance_trial"
ANALYSIS = ("advance_trial.analysis", "advance_trial.feasibility", "advance_trial.outcomes", "advance_trial.planning",
            "advance_trial.retention")  # fmt: skip
FORBIDDEN_FOR_OUTPUT = ("advance_trial.analysis", "advance_trial.feasibility", "advance_trial.outcomes",
                        "advance_trial.planning", "advance_trial.retention", "advance_trial.randomisation",
                        "advance_trial.randomise", "advance_trial.redcap", "advance_trial.importing")  # fmt: skip
DISCLOSURE = ("advance_trial.output.disclosure", "advance_trial.output.disclosure_cells", "advance_trial.output.sdc",
              "advance_trial.output.blinding")  # fmt: skip


def module_name(path: Path) -> str:
    """The dotted name of a source file of the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(tree: ast.Module, name: str, is_package: bool) -> set[str]:
    """Every ``advance_trial`` module a file imports, at any level."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("advance_trial")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("advance_trial"):
                found.add(target)
                found |= {f"{target}.{a.name}" for a in node.names}
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=None, help="a run's results.csv")
    args = parser.parse_args()

    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p): p for p in files}
    graph: dict[str, set[str]] = defaultdict(set)
    long_functions = 0
    line_counts = {}
    for name, path in modules.items():
        text = path.read_text(encoding="utf-8")
        line_counts[name] = text.count("\n")
        tree = ast.parse(text)
        for target in imports_of(tree, name, path.name == "__init__.py"):
            # the longest known module a dotted import names
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                long_functions += node.end_lineno - node.lineno + 1 > 50

    # a package's __init__ importing its own submodules is not a cycle of the house
    trimmed = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}
    found_cycles = cycles(trimmed)
    analysis_to_output = sorted(m for m in modules if m.startswith(ANALYSIS)
                                and any(t.startswith("advance_trial.output") for t in graph[m]))  # fmt: skip
    output_back = sorted(f"{m} -> {t}" for m in modules if m.startswith("advance_trial.output")
                         for t in graph[m] if t.startswith(FORBIDDEN_FOR_OUTPUT))  # fmt: skip
    table_literals = 0
    # the output files' stems: every table a run writes
    known_tables = {"accrual", "allocation", "baseline", "change", "consort", "dose", "dose_distribution",
                    "dose_participants", "dose_summary", "engagement", "harms", "outcomes", "partner_retention",
                    "plan", "progression", "recruitment", "recruitment_monthly", "recruitment_rate", "retention",
                    "retention_difference", "retention_reasons", "scores"}  # fmt: skip
    for name in DISCLOSURE:
        path = modules.get(name)
        if path is None:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in known_tables:
                table_literals += 1

    print(f"modules: {len(modules)}")
    print(f"modules over 500 lines: {sum(n > 500 for n in line_counts.values())}")
    print(f"modules over 800 lines: {sum(n > 800 for n in line_counts.values())}")
    print(f"largest module: {max(line_counts, key=line_counts.__getitem__)} ({max(line_counts.values())} lines)")
    print(f"functions over 50 lines: {long_functions}")
    print(f"import cycles: {len(found_cycles)}" + "".join(f"\n  {' <-> '.join(c)}" for c in found_cycles))
    print(f"analysis modules importing output: {len(analysis_to_output)}"
          + "".join(f"\n  {m}" for m in analysis_to_output))  # fmt: skip
    print(f"output importing analysis/randomisation/REDCap/import: {len(output_back)}"
          + "".join(f"\n  {m}" for m in output_back))  # fmt: skip
    print(f"table-name literals in disclosure and blinding: {table_literals}")
    if args.results is not None:
        with args.results.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        text_stats = 0
        for row in rows:
            try:
                float(row["stat"]) if row["stat"] != "" else None
            except ValueError:
                text_stats += 1
        print(f"results rows: {len(rows)}")
        print(f"results stat_names: {len({r['stat_name'] for r in rows})}")
        print(f"results rows whose stat is text: {text_stats}")
        print(f"results columns: {', '.join(rows[0].keys()) if rows else ''}")


if __name__ == "__main__":
    main()
