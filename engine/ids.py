"""Deterministic, stable record ids and random secret ids.

A record id is derived from ``(integration id, model, remote id)`` with BLAKE2b, so it is the
same on every sync and on every machine, and references between models (a progression's
``user_id``) can be computed without a lookup. Ids are 24 characters of the base58 alphabet
(no ``0``, ``O``, ``I``, ``l``), like Kombo's.
"""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["ALPHABET", "record_id", "random_id", "encode_base58"]

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_ID_LEN = 24


_PAIRS = [hi + lo for hi in ALPHABET for lo in ALPHABET]  # two base58 digits per divmod


_MOD_ID = 58 ** _ID_LEN


def encode_base58(data: bytes, length: int = _ID_LEN) -> str:
    """Encode *data* as exactly *length* base58 characters (left-padded, high digits dropped)."""
    if length == _ID_LEN:
        return _encode_id(data)
    n = int.from_bytes(data, "big")
    out = []
    for _ in range(length // 2):
        n, r = divmod(n, 3364)
        out.append(_PAIRS[r])
    if length % 2:
        out.append(ALPHABET[n % 58])
    return "".join(reversed(out))


def _encode_id(data: bytes, _p: list[str] = _PAIRS) -> str:
    """``encode_base58(data, 24)`` unrolled: twelve two-digit steps, the number first reduced
    below 58**24 so every division works on a smaller integer (the ids of every sync)."""
    n = int.from_bytes(data, "big") % _MOD_ID
    n, a = divmod(n, 3364)
    n, b = divmod(n, 3364)
    n, c = divmod(n, 3364)
    n, d = divmod(n, 3364)
    n, e = divmod(n, 3364)
    n, f = divmod(n, 3364)
    n, g = divmod(n, 3364)
    n, h = divmod(n, 3364)
    n, i = divmod(n, 3364)
    n, j = divmod(n, 3364)
    k, m = divmod(n, 3364)
    return "".join((_p[k], _p[m], _p[j], _p[i], _p[h], _p[g], _p[f], _p[e], _p[d], _p[c], _p[b], _p[a]))


def record_id(integration_id: str, model: str, remote_id: str) -> str:
    """The lmsync id of a record: stable for the same integration, model and remote id."""
    digest = hashlib.blake2b(
        "\x1f".join((integration_id, model, remote_id)).encode(), digest_size=20
    ).digest()
    return encode_base58(digest)


def random_id() -> str:
    """A random 24-character base58 id (run ids, task ids, integration suffixes)."""
    return encode_base58(secrets.token_bytes(20))
