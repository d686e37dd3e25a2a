"""One registry per closed vocabulary, and the config's models spell exactly the same names."""

from __future__ import annotations

import typing

from advance_trial import vocabulary as v
from advance_trial.config import models
from advance_trial.data.schema import FILE_NAMES, SPECS


def _literal(annotation) -> set[str]:
    while typing.get_origin(annotation) is not typing.Literal:
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    return set(typing.get_args(annotation))


def test_analyses_match_the_config_literal():
    assert _literal(models.AnalysisName) == set(v.ANALYSES)


def test_dose_measures_match_the_threshold_literal():
    assert _literal(models.Threshold.model_fields["measure"].annotation) == set(v.DOSE_MEASURES)


def test_file_kinds_match_import_kinds_and_the_schema():
    kinds = models.ImportRule.model_fields["kinds"].annotation
    assert _literal(typing.get_args(kinds)[0]) == set(v.FILE_KINDS) == set(SPECS)
    assert FILE_NAMES == v.FILE_KINDS


def test_interval_methods_match_the_reporting_literal():
    assert _literal(models.Reporting.model_fields["proportion_ci"].annotation) == set(v.PROPORTION_METHODS)


def test_every_analysis_reports_on_known_scales_with_the_right_nulls():
    assert {s for a in v.ANALYSES.values() for s in a.scales} <= set(v.EFFECTS)
    assert {e: v.null_of(e) for e in ("odds_ratio", "rate_ratio", "mean_difference")} == {
        "odds_ratio": 1.0,
        "rate_ratio": 1.0,
        "mean_difference": 0.0,
    }
    assert [n for n, a in v.ANALYSES.items() if not a.complete_cases] == ["multiple_imputation"]
