"""The server's signing key file: created 0600 once, reused, refused when it is not a key."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from relgate.audit.keys import load_or_create, load_public_key
from relgate.errors import BadInput


def test_the_key_file_is_created_with_mode_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "audit-key.pem"

    created = load_or_create(path)
    reused = load_or_create(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert created.key_id == reused.key_id
    assert len(created.key_id) == 16
    assert list(path.parent.iterdir()) == [path]  # no temporary file left beside it


def test_the_public_key_reads_back_to_the_same_key_id(tmp_path: Path) -> None:
    key = load_or_create(tmp_path / "k.pem")

    public = load_public_key(key.public_pem().encode(), where="key.pem")

    assert public.public_bytes_raw() == key.public.public_bytes_raw()


def test_a_malformed_key_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "audit-key.pem"
    path.write_text("not a key\n")

    with pytest.raises(BadInput, match=re.escape(f"audit key file {path} does not hold")):
        load_or_create(path)
    assert path.read_text() == "not a key\n"  # never overwritten


def test_a_key_file_that_cannot_be_read_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "audit-key.pem"
    path.mkdir()

    with pytest.raises(BadInput, match=re.escape(f"audit key file {path} cannot be read")):
        load_or_create(path)


def test_a_key_of_another_algorithm_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit-key.pem"
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )

    with pytest.raises(BadInput, match="not an Ed25519 key"):
        load_or_create(path)


def test_a_public_key_file_that_is_not_ed25519_is_refused() -> None:
    with pytest.raises(BadInput, match=r"pinned\.pem: not a PEM public key"):
        load_public_key(b"hello", where="pinned.pem")
