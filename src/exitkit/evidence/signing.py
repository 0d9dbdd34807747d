"""Ed25519 keys that sign ledger entries: generate, load (file or environment), sign, check.

The private key comes from a file (``--signing-key``, ``EXITKIT_SIGNING_KEY_FILE``) or from
the environment (``EXITKIT_SIGNING_KEY`` holding the PEM text), never from a drill spec.
"""

import base64
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from exitkit.errors import ExitkitError
from exitkit.redaction import register_secret

KEY_ENV = "EXITKIT_SIGNING_KEY"
KEY_FILE_ENV = "EXITKIT_SIGNING_KEY_FILE"


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of the SHA-256 of the raw public key: names the key in entries."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class Signer:
    """A loaded private key; ``repr`` never shows it."""

    _key: Ed25519PrivateKey

    @property
    def key_id(self) -> str:
        """The id of the matching public key."""
        return key_id(self._key.public_key())

    def sign(self, message: bytes) -> str:
        """Base64 Ed25519 signature of *message*."""
        return base64.b64encode(self._key.sign(message)).decode("ascii")

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id})"


def signature_holds(public_key: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    """True when *signature* (canonical base64) is *public_key*'s signature of *message*.

    Base64 that decodes to the same bytes but is not the canonical encoding (padding bits
    set in the last character) is refused: every byte of a signed entry must be its own.
    """
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, message)
    except (InvalidSignature, ValueError):
        return False
    return base64.b64encode(raw).decode("ascii") == signature


def generate_key_pair(prefix: str | os.PathLike[str]) -> tuple[Path, Path, str]:
    """Write ``PREFIX.key`` (PKCS#8 PEM, mode 0600) and ``PREFIX.pub``; never overwrites.

    Returns both paths and the key id.
    """
    private_path, public_path = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    for path in (private_path, public_path):
        if path.exists():
            raise ExitkitError(f"{path}: already exists; not overwriting a key")
    private_path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private_pem)
    public_path.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_path, public_path, key_id(key.public_key())


def load_signer(path: str | os.PathLike[str] | None = None,
                environ: Mapping[str, str] | None = None) -> Signer | None:
    """The signing key from *path*, else ``EXITKIT_SIGNING_KEY_FILE``, else
    ``EXITKIT_SIGNING_KEY`` (PEM text); None when none is configured."""
    environ = os.environ if environ is None else environ
    path = path or environ.get(KEY_FILE_ENV)
    if path:
        origin = str(path)
        try:
            pem = Path(path).read_bytes()
        except OSError as exc:
            raise ExitkitError(f"{origin}: cannot read the signing key ({exc.strerror})") from None
    elif environ.get(KEY_ENV):
        origin, pem = KEY_ENV, environ[KEY_ENV].encode()
    else:
        return None
    register_secret(pem.decode("ascii", "replace").strip())
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise ExitkitError(f"{origin}: not an unencrypted Ed25519 private key in PEM "
                           f"(make one with 'exitkit keys generate')")
    return Signer(key)


def load_public_key(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """Read an Ed25519 public key (PEM) for checking a ledger."""
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except OSError as exc:
        raise ExitkitError(f"{path}: cannot read the public key ({exc.strerror})") from None
    except ValueError:
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise ExitkitError(f"{path}: not an Ed25519 public key in PEM")
    return key
