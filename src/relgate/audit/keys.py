"""The server's Ed25519 signing key: created on first start in a file outside the database.

The key file is PEM (PKCS #8, unencrypted), created with mode 0600 and never
rewritten. Its key id is the first 16 hex digits of the SHA-256 of the raw
public key, so a verifier can tell which key signed a checkpoint.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from relgate.errors import BadInput

log = logging.getLogger("relgate.audit")


@dataclass(frozen=True)
class ServerKey:
    """The signing key, its public half and its id."""

    private: Ed25519PrivateKey
    path: Path

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    def public_pem(self) -> str:
        """Return the public key as PEM (SubjectPublicKeyInfo)."""
        return public_pem(self.public)


def key_id(key: Ed25519PublicKey) -> str:
    """Return the id of a public key: 16 hex digits of the SHA-256 of its raw bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(key: Ed25519PublicKey) -> str:
    """Return ``key`` as a PEM text."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_or_create(path: Path) -> ServerKey:
    """Return the key in ``path``, creating a new one (mode 0600) when the file does not exist.

    Raises BadInput naming the file when it cannot be read or created, or does
    not hold an unencrypted Ed25519 private key in PEM: the server must not
    start and silently sign with a key nobody pinned.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return _create(path)
    except OSError as exc:
        raise BadInput(
            f"audit key file {path} cannot be read ({exc.strerror}): fix its permissions "
            "or set RELGATE_AUDIT_KEY_FILE to another file"
        ) from None
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise BadInput(
            f"audit key file {path} does not hold an unencrypted PEM private key ({exc}); "
            "restore the file from a backup, or move it away to let relgate create a new key"
        ) from None
    if not isinstance(private, Ed25519PrivateKey):
        raise BadInput(
            f"audit key file {path} holds a {type(private).__name__}, not an Ed25519 key"
        )
    if path.stat().st_mode & 0o077:
        log.warning("audit key file %s is readable by other users: chmod 600 it", path)
    return ServerKey(private, path)


def load_public_key(data: bytes, *, where: str) -> Ed25519PublicKey:
    """Return the Ed25519 public key in PEM ``data``; raises BadInput naming ``where``."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise BadInput(f"{where}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BadInput(f"{where}: holds a {type(key).__name__}, not an Ed25519 public key")
    return key


def _create(path: Path) -> ServerKey:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        # a hard link appears whole or not at all, and fails when the file exists:
        # two servers starting at once never both write a key, nor read half of one
        os.link(temporary, path)
    except FileExistsError:
        return load_or_create(path)
    except OSError as exc:
        raise BadInput(
            f"audit key file {path} cannot be created ({exc.strerror}): "
            "set RELGATE_AUDIT_KEY_FILE to a writable place"
        ) from None
    finally:
        temporary.unlink(missing_ok=True)
    log.warning("created the audit signing key %s (key id %s)", path, key_id(private.public_key()))
    return ServerKey(private, path)
