"""Trial configs: pydantic models, YAML loading with line numbers, migrations, diffs."""

from advance_trial.config.loader import load_config, parse_config
from advance_trial.config.migrations import CURRENT_SCHEMA_VERSION
from advance_trial.config.models import Config, ConfigSource, PlannedSession

__all__ = ["CURRENT_SCHEMA_VERSION", "Config", "ConfigSource", "PlannedSession", "load_config", "parse_config"]
