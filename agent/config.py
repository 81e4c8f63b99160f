"""Process-wide settings from `CIMEDIC_*` environment variables, read once and loud on error.

pydantic-settings validates every variable; `load_settings()` turns a validation error into one message that
names the variable, so a malformed setting stops start-up instead of failing later.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent.errors import CimedicError


class ConfigError(CimedicError):
    """A setting is missing or malformed; the message names it."""


def _default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "cimedic"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CIMEDIC_", extra="ignore", frozen=True)

    home: Path = Field(default_factory=_default_home, description="where local state lives")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite in home by default")
    chroma_url: str | None = Field(default=None, description="Chroma server URL; embedded store by default")
    redis_url: str | None = Field(default=None, description="Redis URL for a queue shared by several hosts")
    llm: str | None = Field(default=None, description="model chain, e.g. 'openai:gpt-4.1-mini,ollama:qwen'")
    github_app_id: int | None = None
    github_private_key: str | None = None
    github_private_key_file: Path | None = None
    github_webhook_secret: str | None = None
    github_token: str | None = None
    github_api_url: str = "https://api.github.com"
    # GitLab (issue 11): docs/gitlab.md. Configured when CIMEDIC_GITLAB_TOKEN is set.
    gitlab_url: str = Field(default="https://gitlab.com", description="gitlab.com or a self-managed URL")
    gitlab_token: str | None = Field(default=None, description="access token of the bot user (api scope)")
    gitlab_webhook_token: str | None = Field(default=None, description="the hook's secret token")
    gitlab_signing_key: str | None = Field(default=None, description="the hook's signing key (whsec_...)")
    gitlab_timeout_seconds: float = Field(default=30.0, gt=0)
    # service (webhooks/, issue 5): docs/configuration.md
    worker_threads: int = Field(default=4, ge=1, le=64, description="jobs run at once per worker process")
    lease_seconds: float = Field(default=60.0, gt=0, description="a claimed delivery is retried after this")
    retry_base_seconds: float = Field(default=5.0, ge=0, description="first retry delay of a failed delivery")
    max_attempts: int = Field(default=4, ge=1, description="attempts before a delivery is marked failed")
    github_retry_base_seconds: float = Field(default=1.0, ge=0, description="backoff base for GitHub 5xx")
    github_timeout_seconds: float = Field(default=30.0, gt=0)
    queue_name: str = Field(
        default="cimedic", description="queue (and Redis key prefix) shared by the workers"
    )
    redeliver_every_seconds: float = Field(default=600.0, ge=0, description="0 turns periodic redelivery off")
    publish_delay_seconds: float = Field(default=2.0, ge=0, description="merge output updates within this")

    @property
    def gitlab_configured(self) -> bool:
        return bool(self.gitlab_token)

    @property
    def github_configured(self) -> bool:
        """Any GitHub setting turns GitHub on (and then a missing one is an error, not a silent off)."""
        return any(
            (
                self.github_app_id,
                self.github_token,
                self.github_webhook_secret,
                self.github_private_key,
                self.github_private_key_file,
            )
        )

    @property
    def sqlite_url(self) -> str:
        return f"sqlite:///{self.home / 'cimedic.db'}"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or self.sqlite_url


def describe(error: ValidationError, prefix: str = "CIMEDIC_") -> str:
    """One line naming every variable that failed validation (the same shape for every settings class)."""
    parts = []
    for item in error.errors():
        name = prefix + "_".join(str(p) for p in item["loc"]).upper()
        parts.append(f"{name}: {item['msg']}")
    return "invalid configuration: " + "; ".join(parts)


@functools.cache
def load_settings() -> Settings:
    """The settings of this process (cached: environment variables are read once)."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(describe(exc)) from None
