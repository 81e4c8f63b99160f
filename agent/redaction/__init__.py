"""Secret redaction for CI logs: runs before any text leaves the process (CLI output, knowledge base, LLM
prompts, PR comments). Public API: `Redactor`, `Finding`, `DEFAULT_REDACTOR`, `redact` (also importable from
`agent.redact`).
"""

from agent.redaction.redactor import DEFAULT_REDACTOR, Finding, Redactor, placeholder, redact

__all__ = ["DEFAULT_REDACTOR", "Finding", "Redactor", "placeholder", "redact"]
