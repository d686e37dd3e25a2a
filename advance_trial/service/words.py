"""What the service's pages say: plain words for a research assistant, never a pattern, an option or an id.

The library's refusals are written for the command line (``--participant 'AF12': must match ^AF[0-9]{3,5}$``);
:func:`plain` turns each into what is wrong and what to do, in the config's labels. The JSON API keeps the
library's precise messages (programs read them); only the pages use these words.
"""

from __future__ import annotations

import re
from typing import Any

from advance_trial.config.models import Config
from advance_trial.errors import AdvanceTrialError, DataError, DataProblem, NotAllocatedError, UsageError

ROLE_LABELS = {
    "site_ra": "Research assistant",
    "unblinder": "Unblinder",
    "statistician": "Trial statistician",
    "admin": "Administrator",
}

_DIGITS = r"(?:\[0-9\]|\\d)"
_COUNT = r"(?:\{(\d+)(?:,(\d+))?\}|(\+))?"


def id_form(pattern: str) -> tuple[str, str] | None:
    """How a participant id looks, from a simple pattern (letters, then digits): a description and an example.

    ``^AF[0-9]{3,5}$`` gives ``("AF followed by 3 to 5 digits", "AF001")``; a pattern of another shape gives None.
    """
    found = re.fullmatch(r"\^?([A-Za-z]*)" + _DIGITS + _COUNT + r"\$?", pattern)
    if not found:
        return None
    prefix, low, high, plus = found.groups()
    least = int(low) if low else 1
    if plus:
        count = "one or more digits"
    elif high and high != low:
        count = f"{least} to {int(high)} digits"
    else:
        count = f"{least} digit" + ("s" if least != 1 else "")
    example = prefix + "0" * (least - 1) + "1"
    return (f"{prefix} followed by {count}" if prefix else count), example


def _factor_label(cfg: Config, name: str) -> str:
    if name == "site":
        return "site"
    if name == "cycle":
        return "group cycle"
    found = next((f for f in cfg.factors if f.id == name), None)
    return (found.label or name).lower() if found else name


def _problem(cfg: Config, p: DataProblem) -> str:
    column, value, text = p.column or "", p.value or "", p.message
    if column == "--participant":
        if text.startswith("must match"):
            form = id_form(cfg.randomisation.participant_id_pattern)
            looks = f" Participant IDs are {form[0]}, for example {form[1]}." if form else ""
            return f"“{value}” is not a participant ID of this trial.{looks} Check the ID on his screening form."
        if "may not begin" in text:
            return ("A participant ID cannot begin with =, +, - or @, nor hold hidden characters. "
                    "Type the ID as it is on his screening form.")  # fmt: skip
        if text.startswith("the same man as"):
            other = text.removeprefix("the same man as ").split(",")[0]
            return (f"{value} looks like {other}, who is allocated already (the two IDs differ only in capitals "
                    "or punctuation). Check the ID; if they are two men, call the trial manager.")  # fmt: skip
        if text == "not allocated":
            return f"No one with participant ID {value} is allocated. Check the ID."
    if column == "participant_id" and "allocated already" in text:
        return ("This participant ID is allocated already, with other details. Check the ID; if it is right, "
                "call the trial manager before doing anything else.")  # fmt: skip
    if column == "--site":
        return "Choose his site from the list."
    if column.startswith("--factor "):
        label = _factor_label(cfg, column.removeprefix("--factor "))
        return f"Choose his {label} from the list." if text.startswith(("missing", "unknown value")) else text
    if " was allocated with " in text:
        name, _, was = text.split(" was allocated with ")[1].partition("=")
        return (f"He is allocated already, with {_factor_label(cfg, name)} {was}, not {value}. Nothing new was "
                "written; check his details.")  # fmt: skip
    if column.startswith("eligibility."):
        return _eligibility(cfg, column.removeprefix("eligibility."), text)
    return text[:1].upper() + text[1:]


def _eligibility(cfg: Config, cid: str, text: str) -> str:
    c = next((c for c in (cfg.eligibility.criteria if cfg.eligibility else []) if c.id == cid), None)
    if c is None:
        return "One of the eligibility answers is not a question of this trial; reload the page and answer again."
    if text.startswith("unanswered"):
        return f"Answer every eligibility question: “{c.question}” has no answer yet."
    need = "yes" if c.eligible else "no"
    return (
        f"He cannot be allocated: he is eligible only if the answer to “{c.question}” is {need}. "
        "Nothing was written. If the answer was a mistake, correct it; otherwise he is not eligible."
    )


def plain(cfg: Config, exc: BaseException) -> str:
    """A refusal in words a research assistant reads: what is wrong and what to do."""
    if isinstance(exc, DataError | NotAllocatedError):
        return " ".join(dict.fromkeys(_problem(cfg, p) for p in exc.problems))
    text = str(exc) if isinstance(exc, AdvanceTrialError) else "Something went wrong on the server; try again."
    if isinstance(exc, UsageError) and text.startswith("--reason"):
        return ("Give the reason in at least three words: what happened, and who asks (for example “admitted "
                "to hospital, clinician asks”).")  # fmt: skip
    found = re.fullmatch(r"site '([^']*)': you allocate only at (.+)", text)
    if found:
        labels = {s.id: s.label for s in cfg.sites}
        mine = ", ".join(labels.get(s.strip(), s.strip()) for s in found.group(2).split(","))
        return f"You allocate only at {mine}. Choose your own site; a man at another site is allocated there."
    return text[:1].upper() + text[1:]


def role_label(role: str) -> str:
    """A role as the pages name it."""
    return ROLE_LABELS.get(role, role)


def context(cfg: Config) -> dict[str, Any]:
    """Labels the templates use (sites, roles, arms)."""
    return {"site_labels": {s.id: s.label for s in cfg.sites}, "role_labels": ROLE_LABELS,
            "arm_labels": {a.id: a.label for a in cfg.arms}}  # fmt: skip


__all__ = ["ROLE_LABELS", "context", "id_form", "plain", "role_label"]
