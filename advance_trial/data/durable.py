"""Writing files that survive a crash and keep the permissions a team expects (standard library only)."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (a rename, a new file) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_mode(private: bool) -> int:
    """The mode of a file the toolkit writes: ``0600`` when private (blinding keys, suppression
    records), else what the process umask allows (a trial team's shared folder stays shared)."""
    if private:
        return 0o600
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask
