"""Redemption codes: generated, normalised, keyed-hashed and encrypted.

A code is 16 Crockford base32 symbols (80 random bits) shown in groups of four,
e.g. `7KQ2-M9XD-4RTV-H0BN`. Learners may type it in any case, with or without
spaces and dashes; I/L read as 1 and O as 0. The server stores an HMAC for lookup
and an AES-GCM ciphertext for display, never the code in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from settings import get_settings

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16
GROUP = 4
_CONFUSABLE = str.maketrans({"I": "1", "L": "1", "O": "0"})


def generate_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return format_code(raw)


def format_code(normalised: str) -> str:
    return "-".join(normalised[i : i + GROUP] for i in range(0, len(normalised), GROUP))


def normalise_code(entered: str) -> str | None:
    """The canonical form of what a learner typed, or None if it cannot be a code."""
    cleaned = "".join(ch for ch in entered.upper() if ch not in " -\t").translate(_CONFUSABLE)
    if len(cleaned) != CODE_LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned


def _key(purpose: bytes) -> bytes:
    secret = get_settings().secret_key.get_secret_value().encode()
    return hmac.new(secret, b"training-credits:" + purpose, hashlib.sha256).digest()


def derived_key(purpose: bytes) -> bytes:
    """A key for one purpose, derived from SECRET_KEY (webhook secrets use one too)."""
    return _key(purpose)


def hash_code(normalised: str) -> str:
    return hmac.new(_key(b"code-lookup"), normalised.encode(), hashlib.sha256).hexdigest()


def lookup_hash(entered: str) -> str:
    """The hash to look an entered code up by; "" (matching no account) when it cannot be one."""
    normalised = normalise_code(entered)
    return hash_code(normalised) if normalised else ""


def encrypt_code(normalised: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(b"code-encryption")).encrypt(nonce, normalised.encode(), b"code")
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def decrypt_code(ciphertext: str) -> str:
    blob = base64.urlsafe_b64decode(ciphertext.encode())
    plain = AESGCM(_key(b"code-encryption")).decrypt(blob[:12], blob[12:], b"code")
    return format_code(plain.decode())


def new_code() -> tuple[str, str, str]:
    """A fresh code as (display form, hash, ciphertext)."""
    display = generate_code()
    normalised = display.replace("-", "")
    return display, hash_code(normalised), encrypt_code(normalised)
