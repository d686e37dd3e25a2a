"""Config models, YAML line numbers, cross-field rules and migrations."""

from __future__ import annotations

import pytest

from advance_trial.config import CURRENT_SCHEMA_VERSION, load_config, parse_config
from advance_trial.errors import ConfigError
from tests.conftest import TRIALS, config_path


def problems_of(text: str) -> list:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "x.yaml")
    return info.value.problems


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("trial", TRIALS)
def test_bundled_configs_validate(trial):
    cfg = load_config(config_path(trial))
    assert cfg.trial.id == trial
    assert cfg.source is not None and len(cfg.source.sha256) == 64
    assert cfg.source.migrations == ()


def test_advance_config_expresses_the_published_design(advance_cfg):
    cfg = advance_cfg
    assert cfg.arm_ids == ["advance", "tau"] and [a.ratio for a in cfg.arms] == [1, 1]
    assert cfg.site_ids == ["london", "wolverhampton", "bristol"]
    assert cfg.cycles == [1, 2, 3]
    assert cfg.randomisation.method == "stratified_blocks" and cfg.randomisation.strata == ["site"]
    plan = cfg.session_plan()
    compulsory = [p for p in plan if p.compulsory]
    assert len(compulsory) == 14
    assert sum(p.type == "individual" for p in compulsory) == 2
    assert {p.hours for p in compulsory if p.type == "group"} == {2.0}
    assert [(p.type, p.number, p.compulsory) for p in plan if not p.compulsory] == [("individual", 3, False)]
    assert cfg.instruments["abi"].items == 30
    assert sorted(
        cfg.instruments["abi"].subscale_items("physical") + cfg.instruments["abi"].subscale_items("psychological")
    ) == list(range(1, 31))
    assert cfg.instruments["abi_r"].respondent == "partner"
    assert {(o.subscale, o.timepoint) for o in cfg.outcomes} == {("physical", "week16"), ("psychological", "week16"),
                                                                  ("days", "week16")}  # fmt: skip
    crit = {c.id: (c.metric, c.go, c.direction) for c in cfg.progression}
    # the five progression criteria of Gilchrist et al. 2021
    assert crit == {"recruitment": ("recruitment_rate", 0.60, None), "acceptability": ("qualitative", None, None),
                    "follow_up": ("retention.week16", 0.70, None),
                    "substance_use": ("change.substance_days", None, "no_increase"),
                    "abuse": ("change.abi_physical", None, "no_increase")}  # fmt: skip


def test_digital_and_cranstoun_configs():
    d = load_config(config_path("advance-digital"))
    assert d.trial.design == "single_arm" and d.randomisation.method == "none"
    assert d.trial.target_sample_size == 60 and len(d.sites) == 7
    counts = {}
    for p in d.session_plan():
        counts[p.type] = counts.get(p.type, 0) + 1
    assert counts == {"goal_setting": 1, "online_group": 7, "website": 12, "coaching_call": 12, "booster": 1}
    c = load_config(config_path("cranstoun-dvip"))
    assert sum(p.hours for p in c.session_plan()) > 60
    th = c.thresholds[0]
    assert (th.measure, th.more_than, th.at_least, th.rule) == ("hours", 30, None, "hours > 30")


# --------------------------------------------------------------------------- errors with key path and line

BROKEN = {
    # name: (old, new, expected path, needle for the expected line, words in the message)
    "unknown key": (
        "  design: parallel",
        "  design: parallel\n  colour: blue",
        "trial.colour",
        "colour: blue",
        "unknown key 'colour'",
    ),
    "ratio as text": (
        "ratio: 1}\n  - {id: tau",
        "ratio: one}\n  - {id: tau",
        "arms[0].ratio",
        "id: advance,",
        "valid integer",
    ),
    "ratio quoted": (
        "ratio: 1}\n  - {id: tau",
        'ratio: "1"}\n  - {id: tau',
        "arms[0].ratio",
        "id: advance,",
        "which is text",
    ),
    "design": ("design: parallel", "design: crossover", "trial.design", "design: crossover", "'parallel'"),
    "version float": ('version: "1.0.0"', "version: 1.0", "trial.version", "version: 1.0", "quotes"),
    "bad semver": ('version: "1.0.0"', 'version: "v1"', "trial.version", 'version: "v1"', "semantic version"),
    "trial id": ("id: advance-feasibility", "id: Advance_Feasibility", "trial.id", "Advance_Feasibility", "lower-case"),
    "block size": (
        "block_sizes: [2, 4]",
        "block_sizes: [3, 4]",
        "randomisation.block_sizes[0]",
        "block_sizes",
        "not a multiple",
    ),
    "stratum": (
        "strata: [site]",
        "strata: [region]",
        "randomisation.strata[0]",
        "strata: [region]",
        "unknown stratification factor",
    ),
    "subscale item": (
        "physical: [2, 4, 7,",
        "physical: [31, 4, 7,",
        "instruments.abi.subscales.physical",
        "physical: [31",
        "outside 1..30",
    ),
    "threshold": ("at_least: 7}", "at_least: 15}", "thresholds[1].at_least", "at_least: 15}", "cannot be met"),
    "window": (
        "window_weeks: [-2, 8]",
        "window_weeks: [2, 8]",
        "timepoints[1].window_weeks",
        "window_weeks",
        "must contain 0",
    ),
    "metric": (
        "metric: retention.week16",
        "metric: retention.week61",
        "progression[2].metric",
        "week61",
        "not defined",
    ),
    "schedule arm": ("  arm: advance", "  arm: advanc", "schedule.arm", "arm: advanc", "unknown arm"),
    "outcome timepoint": (
        "    subscale: physical\n    timepoint: week16\n    type: continuous",
        "    subscale: physical\n    timepoint: week17\n    type: continuous",
        "outcomes[0].timepoint",
        "week17",
        "unknown timepoint",
    ),
    "duplicate key": (
        "  design: parallel",
        "  design: parallel\n  design: single_arm",
        "trial.design",
        "design: single_arm",
        "given twice",
    ),
    "ci level": ("ci_level: 0.95", "ci_level: 95", "reporting.ci_level", "ci_level: 95", "less than 1"),
    "proportion ci": (
        "proportion_ci: wilson",
        "proportion_ci: exact",
        "reporting.proportion_ci",
        "exact",
        "'clopper_pearson'",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_config_names_key_and_line(advance_text, case):
    old, new, path, needle, words = BROKEN[case]
    assert old in advance_text, "the fixture no longer contains the text this case edits"
    text = advance_text.replace(old, new, 1)
    problems = problems_of(text)
    match = [p for p in problems if p.path == path]
    assert match, f"no problem at {path}: {problems}"
    assert match[0].line == line_of(text, needle)
    assert words in match[0].message


def test_missing_trial_section(advance_text):
    text = advance_text.replace("trial:\n  id:", "study:\n  id:")
    paths = {p.path: p for p in problems_of(text)}
    assert "required key is missing" in paths["trial"].message
    assert paths["study"].line == line_of(text, "study:")


def test_unparseable_yaml_names_line(advance_text):
    text = advance_text.replace("cycles: [1, 2, 3]", "cycles: [1, 2, 3")
    (p,) = problems_of(text)
    assert "not valid YAML" in p.message and p.line is not None
    assert abs(p.line - line_of(text, "cycles:")) <= 2


@pytest.mark.parametrize("text, words", [("", "empty"), ("- a\n- b\n", "mapping"), ("trial: {}\n", "schema_version")])
def test_degenerate_files(text, words):
    (p,) = problems_of(text)
    assert words in p.message


def test_every_problem_is_reported_at_once(advance_text):
    text = advance_text.replace("design: parallel", "design: crossover").replace("ratio: 1}", "ratio: 0}", 1)
    assert {p.path for p in problems_of(text)} >= {"trial.design", "arms[0].ratio"}


# --------------------------------------------------------------------------- cross-field rules on small configs

MINIMAL = """\
schema_version: 1
trial: {id: t, version: "0.1.0", title: T, design: parallel}
arms: [{id: a, label: A, ratio: 2}, {id: b, label: B, ratio: 1}]
sites: [{id: s1, label: S1}]
randomisation: {method: blocks, block_sizes: [3, 6], seed: 1}
"""


def test_minimal_config_and_defaults():
    cfg = parse_config(MINIMAL)
    assert cfg.reporting.ci_level == 0.95 and cfg.reporting.proportion_ci == "wilson" and cfg.reporting.min_cell == 5
    assert cfg.session_plan() == [] and cfg.baseline is None


@pytest.mark.parametrize(
    "edit, path, words",
    [
        (("block_sizes: [3, 6]", "block_sizes: [2, 6]"), "randomisation.block_sizes[0]", "multiple of"),
        (("design: parallel", "design: single_arm"), "arms", "exactly one arm"),
        (("seed: 1", "seed: -1"), "randomisation.assess_seed", "greater than or equal to 0"),
        (("method: blocks, block_sizes: [3, 6]", "method: minimisation"), "randomisation.minimisation", "needs"),
        (
            ("method: blocks, block_sizes: [3, 6]", "method: stratified_blocks, block_sizes: [3]"),
            "randomisation.strata",
            "at least one stratum",
        ),
        (("method: blocks", "method: none"), "randomisation.method", "must be randomised"),
    ],
)
def test_cross_field_rules(edit, path, words):
    problems = problems_of(MINIMAL.replace(*edit))
    assert any(p.path == path and words in p.message for p in problems), problems


def test_minimisation_factors_must_exist():
    text = MINIMAL.replace(
        "randomisation: {method: blocks, block_sizes: [3, 6], seed: 1}",
        "factors: [{id: substance, levels: [alcohol, drugs]}]\n"
        "randomisation: {method: minimisation, seed: 1,\n  minimisation: {factors: {site: 1.0, substance: 1, age: 1}}}",
    )
    (p,) = problems_of(text)
    assert p.path == "randomisation.minimisation.factors.age" and "unknown minimisation factor" in p.message
    assert p.line == 7


def test_single_arm_needs_method_none():
    text = MINIMAL.replace("design: parallel", "design: single_arm").replace(
        "arms: [{id: a, label: A, ratio: 2}, {id: b, label: B, ratio: 1}]", "arms: [{id: a, label: A}]"
    )
    (p,) = problems_of(text)
    assert p.path == "randomisation.method" and "'none'" in p.message


def test_threshold_needs_one_bound_and_a_schedule():
    base = MINIMAL + "schedule: {arm: a, sessions: [{type: group, count: 4, hours: 2}]}\n"
    both = base + "thresholds: [{id: x, measure: hours, at_least: 2, more_than: 1}]\n"
    assert "exactly one" in problems_of(both)[0].message
    unknown_arm = base.replace("arm: a,", "arm: c,")
    assert problems_of(unknown_arm)[0].path == "schedule.arm"
    measure = base + "thresholds: [{id: x, measure: minutes, at_least: 2}]\n"
    assert problems_of(measure)[0].path == "thresholds[0].measure"


def test_subscale_ranges_are_expanded():
    text = MINIMAL + (
        "instruments:\n  q: {items: 6, min: 0, max: 3, subscales: {a: ['1-3'], b: ['4-6']}, reverse: ['2-3']}\n"
    )
    ins = parse_config(text).instruments["q"]
    assert ins.subscales == {"a": [1, 2, 3], "b": [4, 5, 6]} and ins.reverse == [2, 3]
    assert ins.item_columns("q") == ["q_01", "q_02", "q_03", "q_04", "q_05", "q_06"]


def test_session_numbering_continues_within_type():
    text = MINIMAL + (
        "schedule: {arm: a, sessions: [{type: individual, count: 2, hours: 1}, {type: group, count: 2, hours: 2},"
        " {type: individual, count: 1, hours: 1, compulsory: false}]}\n"
    )
    plan = parse_config(text).session_plan()
    assert [(p.type, p.number, p.compulsory) for p in plan] == [
        ("individual", 1, True),
        ("individual", 2, True),
        ("group", 1, True),
        ("group", 2, True),
        ("individual", 3, False),
    ]


def test_traffic_light_rules():
    base = MINIMAL + "timepoints: [{id: baseline, week: 0}, {id: w12, week: 12, window_weeks: [-2, 4]}]\n"
    ok = base + "progression: [{id: r, metric: retention.w12, green: 0.8, amber: 0.6, judge_on: lower_bound}]\n"
    assert parse_config(ok).progression[0].judge_on == "lower_bound"
    inverted = base + "progression: [{id: r, metric: retention.w12, green: 0.6, amber: 0.8}]\n"
    assert problems_of(inverted)[0].path == "progression[0].amber"
    both = base + "progression: [{id: r, metric: retention.w12, go: 0.7, green: 0.8, amber: 0.6}]\n"
    assert "not both" in problems_of(both)[0].message


def test_timepoints_must_be_in_order_without_overlap():
    text = MINIMAL + (
        "timepoints: [{id: baseline, week: 0}, {id: w8, week: 8, window_weeks: [-1, 6]},"
        " {id: w12, week: 12, window_weeks: [-2, 4]}]\n"
    )
    assert "overlaps" in problems_of(text)[0].message
    order = MINIMAL + "timepoints: [{id: w8, week: 8}, {id: baseline, week: 0}]\n"
    assert "time order" in problems_of(order)[0].message


# --------------------------------------------------------------------------- schema versions and migrations


def test_newer_schema_is_refused(advance_text):
    (p,) = problems_of(advance_text.replace("schema_version: 2", "schema_version: 3"))
    assert p.path == "schema_version" and "newer" in p.message and "upgrade" in p.message
    assert p.line == line_of(advance_text, "schema_version")


@pytest.mark.parametrize("value", ['"1"', "1.5", "-1"])
def test_schema_version_must_be_a_whole_number(advance_text, value):
    (p,) = problems_of(advance_text.replace("schema_version: 2", f"schema_version: {value}"))
    assert p.path == "schema_version"


def test_schema_0_migrates_on_load(advance_text):
    old = (
        advance_text.replace("schema_version: 2", "schema_version: 0")
        .replace("randomisation:", "randomization:")
        .replace("proportion_ci: wilson", "ci_method: wilson")
        .replace("measure: sessions, at_least: 1}", "measure: sessions, min: 1}")
    )
    cfg = parse_config(old)
    assert cfg.schema_version == CURRENT_SCHEMA_VERSION
    assert cfg.randomisation.method == "stratified_blocks" and cfg.thresholds[0].at_least == 1
    note, to_2 = cfg.source.migrations
    assert to_2.startswith("schema 1 -> 2") and "relative to the config's folder" in to_2
    assert note.startswith("schema 0 -> 1") and "randomization -> randomisation" in note and "min -> at_least" in note
    assert cfg.source.schema_version == 0
    new = parse_config(advance_text)
    assert cfg.model_dump() == new.model_dump()


def test_migrated_keys_keep_their_lines(advance_text):
    old = advance_text.replace("schema_version: 2", "schema_version: 0").replace("randomisation:", "randomization:")
    old = old.replace("block_sizes: [2, 4]", "block_sizes: [3, 4]")
    (p,) = problems_of(old)
    assert p.path == "randomisation.block_sizes[0]" and p.line == line_of(old, "block_sizes")


def test_migration_registry_covers_every_older_version():
    from advance_trial.config.migrations import MIGRATIONS

    assert set(MIGRATIONS) == set(range(CURRENT_SCHEMA_VERSION))


@pytest.mark.parametrize(
    "new, path, words",
    [
        ("analyses: [logistic]", "outcomes[0].analyses[0]", "does not apply to a continuous outcome"),
        ("analyses: [change]", "outcomes[0].analyses[0]", "for single-arm designs"),
        ("analyses: [ancova, ancova]", "outcomes[0].analyses", "listed twice"),
        ("analyses: [anova]", "outcomes[0].analyses[0]", "ancova"),
    ],
)
def test_outcome_analyses_rules(advance_text, new, path, words):
    old = "analyses: [ancova, partially_nested, partially_nested_equal_var, multiple_imputation, cace]"
    assert old in advance_text
    found = problems_of(advance_text.replace(old, new, 1))
    assert any(p.path == path and words in p.message for p in found), found


def test_single_arm_outcomes_are_changes():
    text = config_path("advance-digital").read_text()
    old = "adjust_for: []}"
    assert old in text
    found = problems_of(text.replace(old, "adjust_for: [], analyses: [ancova]}", 1))
    assert any("change from baseline" in p.message for p in found), found


# --------------------------------------------------------------------------- libyaml, and one parse per process
BROKEN_YAML = {
    "unclosed list": "schema_version: 1\ncycles: [1, 2\ntrial: {id: t}\n",
    "tab indent": "schema_version: 1\ntrial:\n\tid: t\n",
    "bad mapping": "schema_version: 1\ntrial: id: t\n",
    "stray quote": 'schema_version: 1\ntrial: {id: "t}\n',
    "duplicate key": "schema_version: 1\nschema_version: 2\n",
    "control character": "schema_version: 1\ntrial: \x07\n",
}


def _both_loaders(monkeypatch, read):
    """``read()`` with libyaml's loader and with the pure-Python one."""
    import yaml

    from advance_trial.config import yamlsource

    if not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML without libyaml")
    assert yamlsource.FAST_LOADER is yaml.CSafeLoader
    fast = read()
    monkeypatch.setattr(yamlsource, "FAST_LOADER", yaml.SafeLoader)
    return fast, read()


@pytest.mark.parametrize("trial", TRIALS)
def test_libyaml_reads_a_config_as_the_python_loader_does(monkeypatch, trial):
    """The same data and the same line for every key (the lines every message about a config prints)."""
    from advance_trial.config.yamlsource import load_yaml

    fast, slow = _both_loaders(monkeypatch, lambda: load_yaml(config_path(trial)))
    assert fast.data == slow.data and fast.lines == slow.lines and fast.sha256 == slow.sha256
    assert len(fast.lines) > 100


@pytest.mark.parametrize("case", sorted(BROKEN_YAML))
def test_a_broken_file_is_reported_as_the_python_loader_reports_it(monkeypatch, case):
    def problems() -> list[tuple[str, int | None, str]]:
        return [(p.path, p.line, p.message) for p in problems_of(BROKEN_YAML[case])]

    fast, slow = _both_loaders(monkeypatch, problems)
    assert fast == slow and fast[0][2]


def test_a_config_is_parsed_once_per_process_and_again_when_edited(tmp_path, monkeypatch):
    from advance_trial.config import loader

    path = tmp_path / "trial.yaml"
    path.write_text(config_path("advance-feasibility").read_text())
    parses: list[str] = []
    parse = loader.parse_yaml
    monkeypatch.setattr(loader, "parse_yaml", lambda *a, **k: parses.append(a[1]) or parse(*a, **k))
    first = load_config(path)
    assert load_config(path) is first and len(parses) == 1
    path.write_text(path.read_text().replace("title: ", "title: Edited ", 1))
    edited = load_config(path)
    assert len(parses) == 2 and edited.trial.title.startswith("Edited ") and edited.source.sha256 != first.source.sha256
    with pytest.raises(ConfigError):  # a file broken since is reported, not answered from memory
        path.write_text("schema_version: [\n")
        load_config(path)
