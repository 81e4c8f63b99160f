"""The exceptions CI Medic raises on purpose, under one base so that an entry point can catch them all.

    CimedicError                  anything CI Medic reports to a user in one line
    ├── ConfigError               a `CIMEDIC_*` setting is missing or malformed   (agent/config.py)
    ├── InputError                a log cannot be read or analyzed                (agent/engine.py)
    ├── CatalogError              a rules file is malformed (also a ValueError)   (agent/catalog.py)
    ├── KnowledgeBaseError        the knowledge base is not installed or cannot
    │                             be opened (bad URL, unreachable database)       (agent/errors.py)
    ├── DeliveryRejected          a webhook delivery is refused; `status_code`    (webhooks/github.py)
    │   ├── SignatureError        missing, malformed or wrong signature (401)
    │   └── PayloadTooLarge       the body is over the limit (413)
    └── GitHubError               a GitHub API call failed for good               (actions/github_api.py)

Each class stays in the module that raises it (the flow of imports is unchanged: `agent` imports nothing of
`knowledge`, `webhooks` or `actions`); only this base lives here. The command line catches `CimedicError`,
prints `cimedic: error: <message>` on one line and exits with status 2 (agent/cli/__init__.py).
"""

from __future__ import annotations


class CimedicError(Exception):
    """Base of every error CI Medic raises on purpose; its message is one line meant for a user."""


class KnowledgeBaseError(CimedicError):
    """The knowledge base is not installed (the `kb` extra) or its stores cannot be opened."""
