"""Training mode: a key and a log of their own, apart from the trial's live ones, for practising allocation.

``randomise init --training`` creates ``<trial>-training.key`` (with its checkpoint and signing pair) beside the
live key and a training log beside the live one (``<log>.training.sqlite``); ``serve --training`` and
``users ... --training`` use them. The training trial's id is the live id with ``-training``: its log records that
id, its rows are tagged and its arms sealed under the training key, so nothing moves between a training and a
live log (each refuses the other's key, rows and receipts), and the training lists tell nothing of the live ones.
"""

from __future__ import annotations

import os
from pathlib import Path

from advance_trial.config.models import Config
from advance_trial.errors import UsageError
from advance_trial.randomisation.allocation import log_path
from advance_trial.randomisation.database import Location, location
from advance_trial.randomisation.key import KeyRing, create_key, key_folder, load_key, refuse_inside

SUFFIX = "-training"


def training_id(cfg: Config) -> str:
    """The training trial's id: the live id with ``-training``."""
    return cfg.trial.id + SUFFIX


def training_log(cfg: Config, given: str | Path | Location | None = None) -> Location:
    """The training log: as given, else the live log's path with ``.training`` before its extension.

    Refuses the live log itself, and a live log that is a database URL when no training log is given.
    """
    live = log_path(cfg) if cfg.randomisation.log else None
    if given is not None:
        where = log_path(cfg, given)
    elif live is None or live.path is None:
        raise UsageError("give the training log with --log (or --db): a database of its own, never the live one")
    else:
        where = location(live.path.with_name(f"{live.path.stem}.training{live.path.suffix or '.sqlite'}"))
    if live is not None and where.identity == live.identity:
        raise UsageError(f"{where.shown}: that is the trial's live log; training uses a log of its own")
    return where


def training_config(cfg: Config, ring: KeyRing, where: Location) -> Config:
    """The config as the training service sees it: the training id, title, key and log; the same design."""
    trial = cfg.trial.model_copy(update={"id": training_id(cfg), "title": f"{cfg.trial.title} (TRAINING)"})
    shown = str(where.path) if where.path is not None else where.shown
    randomisation = cfg.randomisation.model_copy(update={"key_fingerprint": ring.fingerprint, "log": shown})
    return cfg.model_copy(update={"trial": trial, "randomisation": randomisation})


def _folder(cfg: Config, key_dir: str | Path | None, where: Location) -> Path:
    folder = key_folder(key_dir)
    config_dir = Path(cfg.source.path).parent if cfg.source else None
    log_dir = where.path.parent if where.path is not None else None
    refuse_inside(folder, [("configs folder", config_dir), ("allocation log's folder", log_dir)])
    return folder


def training_key(cfg: Config, key_dir: str | Path | None, log: str | Path | Location | None = None,
                 ) -> tuple[Config, KeyRing, Location]:  # fmt: skip
    """The training config, key and log (the key made by ``randomise init --training``)."""
    where = training_log(cfg, log)
    folder = _folder(cfg, key_dir, where)
    if not (folder / f"{training_id(cfg)}.key").exists():
        raise UsageError(f"{folder}: no training key; create it with `advance-trial randomise init --training`")
    ring = load_key(folder, training_id(cfg), None, pinned=False)
    return training_config(cfg, ring, where), ring, where


def create_training(cfg: Config, key_dir: str | Path | None, log: str | Path | Location | None = None,
                    ) -> tuple[Config, KeyRing, Location, bool]:  # fmt: skip
    """Create the training key (if there is none) and the training log; returns them, and whether the key is new."""
    from advance_trial.randomisation.allocation import init_log

    where = training_log(cfg, log)
    folder = _folder(cfg, key_dir, where)
    created = not (folder / f"{training_id(cfg)}.key").exists()
    ring = create_key(folder, training_id(cfg)) if created else load_key(folder, training_id(cfg), None, pinned=False)
    if where.path is not None:
        os.makedirs(where.path.parent, exist_ok=True)
    tcfg = training_config(cfg, ring, where)
    init_log(tcfg, ring, where, note="training log: practice allocations, apart from the live log")
    return tcfg, ring, where, created


__all__ = ["SUFFIX", "create_training", "training_config", "training_id", "training_key", "training_log"]
