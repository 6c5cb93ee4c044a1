"""Revision targets and file names, the same for every backend."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["BASE", "HEAD", "relative_steps", "slugify"]

HEAD = "head"
BASE = "base"
_RELATIVE = re.compile(r"^[+-]\d+$")


def relative_steps(target: str) -> int | None:
    """``-1`` -> -1, ``+2`` -> 2; ``None`` when ``target`` is not relative."""
    return int(target) if _RELATIVE.match(target) else None


def slugify(message: str, max_length: int = 40) -> str:
    """A file-name-safe slug of ``message``: lowercase ASCII letters, digits and ``_``."""
    text = unicodedata.normalize("NFKD", message).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return slug[:max_length].rstrip("_") or "revision"
