"""One request to allocate a man: the object the command line, the library and the service all build and check.

An :class:`AllocationRequest` holds the participant id, his site and the values of the design's other
factors, and nothing else: a key it does not know is refused, the site is never a factor (a factor named
``site`` would otherwise stand in for the checked site), and every factor must be one the design allocates by
(its strata, or its minimisation factors), with one of the config's levels. :meth:`AllocationRequest.checked`
gives the normalised id and the factor values as the config spells them, or every problem at once (exit 4;
HTTP 400).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictStr, ValidationError, field_validator

from advance_trial.config.models import Config
from advance_trial.errors import DataError, DataProblem
from advance_trial.randomisation import methods as rz

SOURCE = "allocation request"
#: What each field of a request is called on the command line (the service's JSON uses the field names).
OPTIONS = {"participant_id": "--participant", "site": "--site", "factors": "--factor"}


@dataclass(frozen=True)
class Prepared:
    """One allocation request, checked before the step that makes it
    (:func:`advance_trial.randomisation.verbs.prepare`)."""

    participant_id: str
    values: dict[str, str]
    answers: dict[str, bool] | None
    account: str | None = None
    note: str | None = None
    data_dir: Path | None = None


class AllocationRequest(BaseModel):
    """A request to allocate one man.

    Attributes
    ----------
    participant_id : str
    site : str
        His site id (any case).
    factors : dict
        NAME -> VALUE for each of the design's factors besides the site (any case; a number is read as text).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    participant_id: StrictStr
    site: StrictStr
    factors: dict[StrictStr, StrictStr] = {}

    @field_validator("factors", mode="before")
    @classmethod
    def _numbers_as_text(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: str(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in value.items()}
        return value

    @classmethod
    def parse(cls, body: Any) -> AllocationRequest:
        """A request from a JSON body (or any mapping); :class:`DataError` naming every unknown, missing or
        malformed key."""
        try:
            return cls.model_validate(body)
        except ValidationError as exc:
            raise DataError([_problem(e) for e in exc.errors()]) from None

    @classmethod
    def of(cls, participant_id: str, site: str, factors: Mapping[str, str | int] | None = None) -> AllocationRequest:
        """A request from the command line's options (or a form's fields)."""
        return cls.parse({"participant_id": participant_id, "site": site, "factors": dict(factors or {})})

    def checked(self, cfg: Config) -> tuple[str, dict[str, str]]:
        """The normalised id (:func:`normalise_id`) and the factor values (the site among them) as the config
        spells them; :class:`DataError` with every problem at once."""
        problems: list[DataProblem] = []
        pid = self.participant_id
        try:
            pid = normalise_id(cfg, self.participant_id)
        except DataError as exc:
            problems.extend(exc.problems)
        levels = cfg.factor_levels()
        design = rz.required_factors(cfg)
        others = [n for n in design if n != "site"]
        values: dict[str, str] = {}
        given = [("site", "--site", self.site)] + [(k, f"--factor {k}", v) for k, v in self.factors.items()]
        for i, (name, opt, value) in enumerate(given):
            if i and name.strip().casefold() == "site":
                problems.append(DataProblem(SOURCE, None, opt, value,
                                            "the site is the request's own site, never a factor"))  # fmt: skip
            elif name not in design:
                known = f"the design's factors: {', '.join(others)}" if others else "the design allocates by site alone"
                problems.append(DataProblem(SOURCE, None, opt, value, f"not a factor of the allocation; {known}"))
            else:
                by_lower = {v.casefold(): v for v in levels[name]}
                if value.strip().casefold() not in by_lower:
                    allowed = ", ".join(levels[name])
                    problems.append(DataProblem(SOURCE, None, opt, value, f"unknown value; allowed: {allowed}"))
                else:
                    values[name] = by_lower[value.strip().casefold()]
        for name in design:
            if name not in values and not any(p.column in ("--site", f"--factor {name}") for p in problems):
                allowed = ", ".join(levels[name])
                problems.append(DataProblem(SOURCE, None, f"--factor {name}", None,
                                            f"missing: give {name}=VALUE ({allowed})"))  # fmt: skip
        if problems:
            raise DataError(problems)
        return pid, dict(sorted(values.items()))


def _problem(error: Any) -> DataProblem:
    """One of pydantic's errors as the problem a user reads."""
    loc = [str(p) for p in error.get("loc", ())]
    field = loc[0] if loc else "request"
    column = OPTIONS.get(field, field) + (f" {loc[1]}" if field == "factors" and len(loc) > 1 else "")
    kind = error.get("type", "")
    value = error.get("input")
    shown = value if isinstance(value, str) else None
    if kind == "extra_forbidden":
        message = (f"unknown key {field!r}; a request holds only participant_id, site and factors (and, through the "
                   "service, eligibility)")  # fmt: skip
        column = field
    elif kind == "missing":
        message = "missing"
    elif field == "factors" and len(loc) == 1:
        message = "give the factors as NAME: VALUE pairs"
    elif kind in ("model_type", "dict_type") and not loc:
        message = "the request must be an object of participant_id, site and factors"
    else:
        message = "give it as text"
    return DataProblem(SOURCE, None, column, shown, message)


def normalise_id(cfg: Config, raw: str) -> str:
    """A participant id as the log keeps it: trimmed, upper-cased when the pattern ignores case; must match."""
    pattern = re.compile(cfg.randomisation.participant_id_pattern)
    text = raw.strip()
    if pattern.flags & re.IGNORECASE:
        text = text.upper()
    if text[:1] in ("=", "+", "-", "@") or not text.isprintable():
        raise DataError([DataProblem(SOURCE, None, "--participant", raw,
                                     "an id may not begin with = + - or @, nor hold a control character")])  # fmt: skip
    if not pattern.fullmatch(text):
        raise DataError(
            [DataProblem(SOURCE, None, "--participant", raw, f"must match {cfg.randomisation.participant_id_pattern}")]
        )
    return text


def check_request(cfg: Config, participant_id: str, site: str,
                  factors: Mapping[str, str] | None = None) -> tuple[str, dict[str, str]]:  # fmt: skip
    """:meth:`AllocationRequest.checked` of the request these values make."""
    return AllocationRequest.of(participant_id, site, factors).checked(cfg)


__all__ = ["AllocationRequest", "check_request", "normalise_id"]
