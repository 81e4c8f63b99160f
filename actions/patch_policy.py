"""The repository policy's say on suggested patches: its `protected` globs and its size caps.

The built-in protections (CI definitions, lockfiles, caps) live in `agent.fixes.policy`; a repository can add
globs and lower the caps, never lift a protection (docs/fixes.md).
"""

from __future__ import annotations

from actions.policy import Policy
from agent.fixes.policy import PatchPolicy


def patch_policy(policy: Policy) -> PatchPolicy:
    """The validation policy for patches in a repository governed by `policy`."""
    return PatchPolicy().with_repo(policy.protected, policy.patch.max_bytes, policy.patch.max_lines)
