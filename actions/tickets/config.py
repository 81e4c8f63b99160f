"""Tracker settings from `CIMEDIC_JIRA_*` and `CIMEDIC_LINEAR_*` environment variables (docs/tickets.md)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

LINEAR_API_URL = "https://api.linear.app/graphql"


class TrackerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CIMEDIC_", extra="ignore", frozen=True)

    jira_url: str | None = Field(
        default=None, description="https://your-site.atlassian.net or a Data Center URL"
    )
    jira_email: str | None = Field(default=None, description="Cloud: the account's email (with jira_token)")
    jira_token: SecretStr | None = Field(
        default=None,
        description="Cloud: an API token (with jira_email); Data Center: a personal access token",
    )
    jira_project: str | None = Field(default=None, description="project key, e.g. OPS")
    jira_issue_type: str = "Bug"
    linear_url: str = LINEAR_API_URL
    linear_api_key: SecretStr | None = None
    linear_team: str | None = Field(default=None, description="team key, e.g. ENG")
    # Linear finds an issue again by an attachment URL (unique per issue): this base + repo + fingerprint.
    linear_attachment_base: str = "https://cimedic.invalid/fingerprints/"
    tracker_timeout_seconds: float = Field(default=20.0, gt=0)
    tracker_attempts: int = Field(default=4, ge=1, description="tries of a call refused with 429 / 5xx")
    tracker_retry_base_seconds: float = Field(default=1.0, ge=0)
