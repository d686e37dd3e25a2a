"""Configs with other randomisation methods, built from the ADVANCE config's text."""

from __future__ import annotations

import re

from tests.conftest import config_path

MINIMISATION = """randomisation:
  method: minimisation
  minimisation: {factors: {site: 1.0, cycle: 1.0}, probability: 0.8}
  seed: 424242
"""
SIMPLE = """randomisation:
  method: simple
  seed: 777
"""
BLINDED = """randomisation:
  method: stratified_blocks
  strata: [site]
  block_sizes: [2, 4]
  seed: 2018052395
  blinding: {codes: {advance: K, tau: Q}}
"""


def variant(block: str, extra: str = ""):
    """The ADVANCE config with its randomisation block replaced (and ``extra`` YAML appended)."""
    from advance_trial.config import parse_config

    text = config_path("advance-feasibility").read_text()
    text = re.sub(r"^randomisation:\n(?:  .*\n)+", block, text, flags=re.M) + extra
    return parse_config(text, "variant.yaml")
