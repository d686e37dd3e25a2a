"""Site data import (issue 4): readers, the config's mapping, row checks, and the audited import."""

from advance_trial.importing.core import FileOutcome, ImportRefused, import_files

__all__ = ["FileOutcome", "ImportRefused", "import_files"]
