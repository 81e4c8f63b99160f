"""Chat webhook settings: `CIMEDIC_SLACK_WEBHOOK_URL`, `CIMEDIC_TEAMS_WEBHOOK_URL` (docs/tickets.md)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CIMEDIC_", extra="ignore", frozen=True)

    # The URLs are credentials (anyone holding one can post): kept secret in logs and the audit log.
    slack_webhook_url: SecretStr | None = None
    teams_webhook_url: SecretStr | None = None
    notify_timeout_seconds: float = Field(default=10.0, gt=0)
    notify_attempts: int = Field(default=3, ge=1)
    notify_retry_base_seconds: float = Field(default=1.0, ge=0)
