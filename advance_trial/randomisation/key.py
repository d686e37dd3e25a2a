"""The allocation key, its folder, the checkpoint beside it and signed receipts.

A trial's secret is 32 bytes from :mod:`secrets`, in ``KEY_DIR/<trial-id>.key``
(created with ``O_EXCL``, mode 0600, in a 0700 folder). The config records only
its SHA-256 (``randomisation.key_fingerprint``). Three subkeys are derived from
it by HMAC with fixed labels, so that no use of one reveals another: one for
the allocation derivation (:mod:`advance_trial.randomise`), one that
authenticates the log's rows and the checkpoint, one that seals arms in the log.

Beside the key: ``<trial-id>.checkpoint.json``, the log's latest head (row and
tag), moved on in every writing step (see :func:`write_checkpoint`); and an Ed25519 key pair
(``<trial-id>.signing.pem``, private; ``<trial-id>.signing.pub``, to hand to a
steering committee) that signs allocation receipts.

The bundled sample ships a demonstration key: a published constant
(:data:`DEMO_KEY`) that conceals nothing. It is recognised by its value and
named with a :class:`DemonstrationKeyWarning` whenever it is used.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import secrets
import stat
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advance_trial.data.durable import fsync_dir
from advance_trial.errors import AdvanceTrialWarning, ConfigError, ConfigProblem, IntegrityError, UsageError

KEY_ENV = "ADVANCE_TRIAL_KEY_DIR"
KEY_HEADER = "advance-trial allocation key 1"
CHECKPOINT_FORMAT = "advance-trial checkpoint 1"
RECEIPT_FORMAT = "advance-trial allocation receipt 1"

#: The demonstration key of the bundled sample: public, so it conceals nothing.
DEMO_KEY = hashlib.sha256(b"advance-trial demonstration key: public, conceals nothing #530").digest()


class DemonstrationKeyWarning(AdvanceTrialWarning):
    """The public demonstration key is in use: its allocations are predictable by anyone."""


@dataclass(frozen=True)
class KeyRing:
    """A trial's allocation key and where it lives.

    Attributes
    ----------
    trial_id : str
    folder : Path
        The key folder.
    fingerprint : str
        SHA-256 (hex) of the key: what the config records.
    demo : bool
        True for the public demonstration key.
    """

    trial_id: str
    folder: Path
    fingerprint: str
    demo: bool
    _key: bytes = field(repr=False)

    @property
    def derive(self) -> bytes:
        """The subkey of the allocation derivation."""
        return _subkey(self._key, "derive")

    @property
    def auth(self) -> bytes:
        """The subkey that authenticates log rows and checkpoints."""
        return _subkey(self._key, "authenticate")

    @property
    def seal(self) -> bytes:
        """The subkey that encrypts arms in the log (AES-256-GCM)."""
        return _subkey(self._key, "seal")

    @property
    def key_path(self) -> Path:
        return self.folder / f"{self.trial_id}.key"

    @property
    def checkpoint_path(self) -> Path:
        return self.folder / f"{self.trial_id}.checkpoint.json"

    @property
    def signing_path(self) -> Path:
        return self.folder / f"{self.trial_id}.signing.pem"

    @property
    def public_path(self) -> Path:
        return self.folder / f"{self.trial_id}.signing.pub"

    def mac(self, value: Any) -> str:
        """HMAC-SHA256 (hex) of a value's canonical JSON under the authentication subkey."""
        return hmac.new(self.auth, _canon(value).encode("utf-8"), hashlib.sha256).hexdigest()


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@functools.lru_cache(maxsize=32)
def _subkey(key: bytes, label: str) -> bytes:
    """A subkey (once per process for the same key: every row's tag and seal asks for one)."""
    return hmac.new(key, f"advance-trial/subkey/{label}".encode(), hashlib.sha256).digest()


def fingerprint_of(key: bytes) -> str:
    """SHA-256 (hex) of a key's 32 bytes."""
    return hashlib.sha256(key).hexdigest()


def key_folder(given: str | Path | None) -> Path:
    """The key folder: ``--key-dir``, else ``ADVANCE_TRIAL_KEY_DIR``, else a usage error."""
    value = given if given is not None else os.environ.get(KEY_ENV)
    if not value:
        raise UsageError(f"no key folder: pass --key-dir DIR or set {KEY_ENV}")
    return Path(value).expanduser().resolve()


def refuse_inside(folder: Path, forbidden: Iterable[tuple[str, Path | None]]) -> None:
    """Refuse a key folder inside (or holding) a folder others read: configs, data, outputs, the log's."""
    for what, other in forbidden:
        if other is None:
            continue
        other = Path(other).expanduser().resolve()
        if folder == other or other in folder.parents or folder in other.parents:
            raise UsageError(f"key folder {folder}: it must be kept apart from the {what} ({other})")


def _private(path: Path, want_dir: bool) -> bool:
    mode = path.stat().st_mode
    return bool(stat.S_ISDIR(mode) == want_dir) and not mode & 0o077


def create_key(folder: Path, trial_id: str, key: bytes | None = None) -> KeyRing:
    """Create a new key (and its signing pair) in ``folder``; refuses to overwrite any file.

    ``key`` is for tests and the demonstration only; a trial's key comes from :mod:`secrets`.
    """
    ring, files = key_files(folder, trial_id, key)
    written: list[Path] = []
    try:
        for path, body, mode in files:
            _write_new(path, body, mode)
            written.append(path)
    except FileExistsError as exc:
        for path in written:
            path.unlink()
        raise UsageError(f"{exc.filename}: already exists; a trial's key is created once") from None
    return ring


def key_files(folder: Path, trial_id: str, key: bytes | None = None) -> tuple[KeyRing, list[tuple[Path, bytes, int]]]:
    """A new key (from :mod:`secrets` unless given) and its signing pair: the ring, and each file's path, bytes and
    mode, the key last (its presence says the others are there); the folder is made (0700) or checked private."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = key if key is not None else secrets.token_bytes(32)
    if folder.exists():
        if not folder.is_dir():
            raise UsageError(f"{folder}: not a folder")
        if not _private(folder, True) and key != DEMO_KEY:
            raise UsageError(f"{folder}: the key folder is open to other users; chmod 700 it or choose another")
    else:
        folder.mkdir(mode=0o700, parents=True)
        os.chmod(folder, 0o700)
    ring = KeyRing(trial_id, folder, fingerprint_of(key), key == DEMO_KEY, key)
    signing = Ed25519PrivateKey.generate()
    pem = signing.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = signing.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return ring, [(ring.public_path, public, 0o644), (ring.signing_path, pem, 0o600),
                  (ring.key_path, f"{KEY_HEADER}\n{key.hex()}\ntrial: {trial_id}\n".encode(), 0o600)]  # fmt: skip


def write_new(path: Path, body: bytes, mode: int, sync_folder: bool = True) -> None:
    """Write a file that must not exist yet (``O_EXCL``), with its mode, and fsync it (and its folder)."""
    _write_new(path, body, mode, sync_folder)


def _write_new(path: Path, body: bytes, mode: int, sync_folder: bool = True) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, body)
        os.fsync(fd)
    finally:
        os.close(fd)
    if sync_folder:
        fsync_dir(path.parent)


def load_key(folder: Path, trial_id: str, fingerprint: str | None, config_file: str = "<config>", *,
             pinned: bool = True) -> KeyRing:  # fmt: skip
    """Read a trial's key, check its permissions and that the config's fingerprint is its own.

    ``pinned=False`` skips the fingerprint check (a training key, which no config records).

    Raises
    ------
    ConfigError
        The config records no fingerprint, or another key's.
    UsageError
        No key there, or a key file or folder that other users can read.
    """
    ring = read_key(folder, trial_id)
    if not pinned:
        return ring
    if fingerprint is None:
        raise ConfigError(
            config_file,
            [ConfigProblem("randomisation.key_fingerprint", None,
                           f"missing: this trial has no recorded key; `randomise init` records {ring.fingerprint}")],
        )  # fmt: skip
    if not hmac.compare_digest(fingerprint.lower(), ring.fingerprint):
        raise ConfigError(
            config_file,
            [ConfigProblem("randomisation.key_fingerprint", None,
                           f"{fingerprint} is not the fingerprint of the key in {folder} ({ring.fingerprint})")],
        )  # fmt: skip
    return ring


def read_key(folder: Path, trial_id: str) -> KeyRing:
    """Read a trial's key and check its permissions (not yet against a config's fingerprint: :func:`load_key`)."""
    path = folder / f"{trial_id}.key"
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except FileNotFoundError:
        raise UsageError(f"{path}: no allocation key; create it with `advance-trial randomise init`") from None
    except (UnicodeDecodeError, OSError) as exc:
        raise UsageError(f"{path}: cannot read the allocation key ({exc})") from None
    try:
        if lines[0] != KEY_HEADER:
            raise ValueError
        key = bytes.fromhex(lines[1])
        if len(key) != 32:
            raise ValueError
    except (IndexError, ValueError):
        raise UsageError(f"{path}: not an advance-trial allocation key") from None
    demo = key == DEMO_KEY
    if demo:
        warnings.warn(
            f"{path} is the public DEMONSTRATION key: anyone can predict its allocations; never use it for a trial",
            DemonstrationKeyWarning,
            stacklevel=2,
        )
    elif not _private(path, False) or not _private(folder, True):
        raise UsageError(
            f"{path}: the key (or its folder) can be read by other users; chmod 600 the key and 700 the folder"
        )
    return KeyRing(trial_id, folder, fingerprint_of(key), demo, key)


# ---------------------------------------------------------------------------- checkpoint


@dataclass(frozen=True)
class Checkpoint:
    """The log's head as last written: the log's id, the row and its tag.

    ``upto`` is set only while a step that may append several rows (the service's allocations made together)
    is under way, or after a step made together with other processes' requests, for the next: written before
    that step's commit, it says that the log may end anywhere from ``row`` (nothing committed yet) to ``upto``,
    the rows after ``row`` chained to ``tag``. ``mark`` (SQLite logs) is the log's
    files as the step that wrote the checkpoint left them
    (:meth:`~advance_trial.randomisation.database.SqliteDb.files_mark`).
    """

    log_id: str
    row: int
    tag: str
    upto: int | None = None
    mark: str | None = None


#: The checkpoint file's size: its JSON padded with spaces to one 512-byte disk sector (see :func:`write_checkpoint`).
CHECKPOINT_SIZE = 512


def write_checkpoint(ring: KeyRing, cp: Checkpoint) -> None:
    """Move the checkpoint on, durably and whole: a step is not done until this returns.

    The file is one 512-byte sector (:data:`CHECKPOINT_SIZE`): once it exists at that size, the new
    checkpoint is written over it in place, in one write at offset 0, and ``fdatasync`` makes it
    durable (one flush, where a new file, a rename and the folder's flush took three). A disk writes
    a sector whole, which is what PostgreSQL relies on for its own control file (kept under 512 bytes
    for that reason); were a write ever torn, the checkpoint would fail to authenticate and every step
    would stop (exit 5), never act on a wrong head. Writers hold the trial's exclusive lock and
    readers its shared lock, so no reader sees a write half done. A checkpoint not yet at that size
    (a new trial, or one written by an earlier version) is replaced atomically the old way: a new
    0600 file, fsync, rename, fsync the folder.
    """
    body = checkpoint_bytes(ring, cp)
    if len(body) <= CHECKPOINT_SIZE:
        body = body.rstrip(b"\n").ljust(CHECKPOINT_SIZE - 1, b" ") + b"\n"
        try:
            fd = os.open(ring.checkpoint_path, os.O_WRONLY | os.O_NOFOLLOW)
        except OSError:
            fd = -1  # none yet (or not a plain file): replaced below
        if fd >= 0:
            try:
                st = os.fstat(fd)
                whole = stat.S_ISREG(st.st_mode) and st.st_size == CHECKPOINT_SIZE and st.st_nlink == 1
                if whole and os.pwrite(fd, body, 0) == CHECKPOINT_SIZE:
                    os.fdatasync(fd)
                    return
            finally:
                os.close(fd)
    tmp = ring.folder / f".{ring.trial_id}.checkpoint.{secrets.token_hex(6)}.tmp"
    try:
        _write_new(tmp, body, 0o600, sync_folder=False)
        os.replace(tmp, ring.checkpoint_path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(ring.folder)


def checkpoint_bytes(ring: KeyRing, cp: Checkpoint) -> bytes:
    """The checkpoint file's bytes (before padding): the head, authenticated under the key."""
    body: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT, "trial_id": ring.trial_id, "log_id": cp.log_id, "row": cp.row, "tag": cp.tag,
    }  # fmt: skip
    if cp.upto is not None:
        body["upto"] = cp.upto
    if cp.mark is not None:
        body["mark"] = cp.mark
    body["mac"] = ring.mac(body)
    return (json.dumps(body, indent=1, sort_keys=True) + "\n").encode()


def read_checkpoint(ring: KeyRing) -> Checkpoint:
    """The checkpoint, authenticated; :class:`IntegrityError` if it is missing, edited or another trial's."""
    path = ring.checkpoint_path
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IntegrityError(
            f"{path}: no checkpoint beside the key, so a cut or a rollback could not be seen"
        ) from None
    except (OSError, ValueError) as exc:
        raise IntegrityError(f"{path}: unreadable checkpoint ({exc})") from None
    if not isinstance(body, dict):
        raise IntegrityError(f"{path}: not a checkpoint")
    mac = body.pop("mac", "")
    if not isinstance(mac, str) or not hmac.compare_digest(mac, ring.mac(body)):
        raise IntegrityError(f"{path}: the checkpoint does not authenticate under this key; it was edited")
    if body.get("format") != CHECKPOINT_FORMAT or body.get("trial_id") != ring.trial_id:
        raise IntegrityError(f"{path}: not a checkpoint of {ring.trial_id!r}")
    try:
        upto, mark = body.get("upto"), body.get("mark")
        return Checkpoint(str(body["log_id"]), int(body["row"]), str(body["tag"]), None if upto is None else int(upto),
                          None if mark is None else str(mark))  # fmt: skip
    except (KeyError, TypeError, ValueError):
        raise IntegrityError(f"{path}: not a checkpoint") from None


# ---------------------------------------------------------------------------- receipts


def sign_receipt(ring: KeyRing, receipt: Mapping[str, Any]) -> dict[str, Any]:
    """The receipt with an Ed25519 signature over its canonical JSON (from the key folder's signing key)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    body = {"format": RECEIPT_FORMAT, **receipt}
    try:
        pem = ring.signing_path.read_bytes()
    except FileNotFoundError:
        return body
    private = _private_key(pem)
    if not isinstance(private, Ed25519PrivateKey):
        raise UsageError(f"{ring.signing_path}: not an Ed25519 key")
    body["signature"] = base64.b64encode(private.sign(_canon(body).encode("utf-8"))).decode()
    return body


@functools.lru_cache(maxsize=4)
def _private_key(pem: bytes) -> Any:
    """A signing key parsed from its PEM (once per process for the same bytes: the file is read every time)."""
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(pem, password=None)


def check_receipt_signature(receipt: Mapping[str, Any], public_pem: bytes) -> None:
    """Check a receipt's signature with a public key alone; :class:`IntegrityError` if it does not hold."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        public = serialization.load_pem_public_key(public_pem)
    except ValueError as exc:
        raise UsageError(f"not a public key ({exc})") from None
    if not isinstance(public, Ed25519PublicKey):
        raise UsageError("not an Ed25519 public key")
    body = dict(receipt)
    signature = body.pop("signature", None)
    if not isinstance(signature, str):
        raise IntegrityError("the receipt carries no signature")
    try:
        public.verify(base64.b64decode(signature), _canon(body).encode("utf-8"))
    except (InvalidSignature, ValueError):
        raise IntegrityError(
            "the receipt's signature does not verify: it was altered or not signed by this key"
        ) from None
