"""Suggested fixes: fix-its harvested from the log and model patches, shown only once validated (issue 12).

The service and the CLI call `harvest(diagnosis, log_lines) -> list[Patch]`, then
`validate(patch, reader, policy) -> Validated | Rejected` for each; `suggest` does both and puts the result
in the Diagnosis. Pure: files come in through the injected `Reader`.
"""

from agent.fixes.harvest import harvest
from agent.fixes.patch import Edit, Patch
from agent.fixes.policy import PatchPolicy
from agent.fixes.suggest import suggest
from agent.fixes.validate import Reader, Rejected, Unreadable, Validated, validate

__all__ = [
    "Edit",
    "Patch",
    "PatchPolicy",
    "Reader",
    "Rejected",
    "Unreadable",
    "Validated",
    "harvest",
    "suggest",
    "validate",
]
