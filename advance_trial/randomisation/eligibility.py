"""Eligibility answers given before an allocation: checked against the config's ``eligibility`` criteria.

A research assistant answers every criterion (``{id: true|false}``); a man is allocated only when each answer is
the one the criterion calls eligible. The answers are then recorded with his allocation, in its row's
``detail``, so the log says what was asked and answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from advance_trial.config.models import Config, EligibilityCriterion
from advance_trial.errors import DataError, DataProblem

SOURCE = "allocation request"


def criteria(cfg: Config) -> list[EligibilityCriterion]:
    """The config's criteria, in the order they are asked (none without an ``eligibility`` block)."""
    return list(cfg.eligibility.criteria) if cfg.eligibility is not None else []


def _refuse(column: str, value: Any, message: str) -> DataError:
    return DataError([DataProblem(SOURCE, None, column, None if value is None else str(value), message)])


def check_answers(cfg: Config, answers: Mapping[str, Any]) -> dict[str, bool]:
    """The answers, checked: each criterion answered ``true`` or ``false``, and eligibly.

    Returns
    -------
    dict
        ``{id: answer}`` in the config's order (what the log records).

    Raises
    ------
    DataError
        Naming the first criterion (in the config's order) unanswered or answered ineligibly, or an answer
        that is not ``true``/``false``, or an id that is no criterion.
    """
    asked = criteria(cfg)
    known = {c.id for c in asked}
    for given in answers:
        if given not in known:
            listed = ", ".join(c.id for c in asked) or "none: the config asks no eligibility questions"
            raise _refuse(f"eligibility.{given}", None, f"not an eligibility criterion of this trial ({listed})")
    out: dict[str, bool] = {}
    for c in asked:
        value = answers.get(c.id)
        if value is None:
            raise _refuse(f"eligibility.{c.id}", None, f"unanswered: {c.question}")
        if not isinstance(value, bool):
            raise _refuse(f"eligibility.{c.id}", value, "answer it with true or false")
        if value != c.eligible:
            said = "yes" if value else "no"
            raise _refuse(f"eligibility.{c.id}", value,
                          f"not eligible: {c.question} was answered {said}")  # fmt: skip
        out[c.id] = value
    return out


__all__ = ["check_answers", "criteria"]
