"""Fingerprints: the same failure gets the same id across reruns; a different failure gets another.

What varies between reruns of one failure is masked before hashing: timestamps, durations, hex ids,
UUIDs, temp dirs, PIDs, ports (`mask_volatile`), the CI workspace prefix of paths, and line numbers of
stack frames in vendored code. What identifies the failure is kept: the rule, the category, the words of
the focus lines, the names of files and tests.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from agent.logtext import mask_volatile

# Checkout directories of the common CI systems: the same repository lands in different places.
_WORKSPACE = re.compile(
    r"(?:/home/runner/work/[^/\s]+/[^/\s]+/"
    r"|/github/workspace/"
    r"|/home/travis/build/[^/\s]+/[^/\s]+/"
    r"|/builds/(?:[^/\s]+/)+?[^/\s]+/(?=\S)"
    r"|/var/lib/jenkins/workspace/[^/\s]+/"
    r"|/home/circleci/[^/\s]+/"
    r"|[A-Za-z]:\\a\\[^\\\s]+\\[^\\\s]+\\)"
)
_VENDORED_FRAME = re.compile(
    r"((?:site-packages|dist-packages|node_modules|/usr/lib/|\.cargo/registry|/go/pkg/mod/)[^\s:\"']*)"
    r"(\"?, line |:)\d+(?::\d+)?"
)
_SPACES = re.compile(r"\s+")


def normalize_for_fingerprint(text: str) -> str:
    text = _WORKSPACE.sub("", text)
    text = _VENDORED_FRAME.sub(r"\1\2<n>", text)
    return _SPACES.sub(" ", mask_volatile(text)).strip()


def fingerprint(rule: str | None, category: str, focus: Iterable[str]) -> str:
    """A 16-hex-digit id of the failure."""
    parts = [rule or "-", category, *(normalize_for_fingerprint(t) for t in focus)]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]
