"""Random bearer secrets (integration keys, API tokens): made once, shown once, stored hashed.

The secrets are 256-bit random, so a fast SHA-256 is the right hash: it cannot be brute-forced
and lets a request find its row by an indexed lookup. The database compares hashes, never the
secret itself, so response times reveal nothing about a key.
"""

import hashlib
import secrets

PREFIX_LENGTH = 8


def generate_token(kind_prefix: str) -> str:
    """A new random secret such as `wcp_3q…`; the prefix tells people what it is for."""
    return f"{kind_prefix}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def visible_prefix(token: str) -> str:
    """The part of a secret we keep in clear, so people can tell their keys apart."""
    return token[:PREFIX_LENGTH]
