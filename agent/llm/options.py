"""Tuning of the LLM layer: `CIMEDIC_LLM_*` variables next to the chain in `CIMEDIC_LLM` (agent.config).

Options follow simonw/llm's habit of a pydantic model with ``extra="forbid"``: a misspelt key in a JSON
value (the price table) stops start-up with a message naming it instead of being ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent.config import ConfigError

# Hosts whose links may survive in an answer. Documentation sites only: a link is a click away from a
# phishing page, and a model that read an injected "see https://evil.example" must not be able to relay it.
DEFAULT_LINK_ALLOWLIST: tuple[str, ...] = (
    "docs.github.com",
    "docs.gitlab.com",
    "docs.python.org",
    "pip.pypa.io",
    "packaging.python.org",
    "pypi.org",
    "docs.npmjs.com",
    "nodejs.org",
    "developer.mozilla.org",
    "go.dev",
    "pkg.go.dev",
    "doc.rust-lang.org",
    "docs.rs",
    "docs.docker.com",
    "kubernetes.io",
    "docs.oracle.com",
    "learn.microsoft.com",
)

# Paths a suggested patch may never touch: CI definitions and policy files run with the repository's
# secrets, so a patch there is a privilege escalation, not a fix (GitHub: "Security hardening for GitHub
# Actions", https://docs.github.com/en/actions/security-for-github-actions/security-guides/security-hardening-for-github-actions).
DEFAULT_PROTECTED_PATHS: tuple[str, ...] = (
    ".github/workflows/*",
    ".github/actions/*",
    ".github/cimedic.yml",
    ".github/CODEOWNERS",
    ".github/dependabot.yml",
    ".gitlab-ci.yml",
    ".gitlab/*",
    "CODEOWNERS",
    "Jenkinsfile",
    ".travis.yml",
    ".circleci/*",
    "azure-pipelines.yml",
    ".git/*",
)


class Price(BaseModel):
    """USD per million tokens, as providers publish them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class LlmOptions(BaseSettings):
    """Everything about calling models except which models (that is `CIMEDIC_LLM`)."""

    model_config = SettingsConfigDict(env_prefix="CIMEDIC_LLM_", extra="forbid", frozen=True)

    timeout: float = Field(default=60.0, gt=0, description="seconds for one attempt at one model")
    deadline: float = Field(default=180.0, gt=0, description="seconds for a whole explanation, all models")
    retries: int = Field(default=2, ge=0, le=5, description="extra attempts per model on transient errors")
    backoff: float = Field(default=1.0, ge=0, description="first retry delay; doubles each retry")
    backoff_max: float = Field(default=20.0, ge=0, description="cap on one retry delay")
    breaker_failures: int = Field(default=3, ge=1, description="consecutive failures that open a breaker")
    breaker_cooldown: float = Field(default=300.0, ge=0, description="seconds an open breaker stays open")
    max_prompt_tokens: int = Field(default=6000, ge=500, description="estimated prompt tokens, trimmed")
    max_output_tokens: int = Field(default=1500, ge=100)
    temperature: float = Field(default=0.0, ge=0, le=2)
    budget_usd: float | None = Field(default=None, ge=0, description="global daily spend limit")
    budget_usd_repo: float | None = Field(default=None, ge=0, description="daily spend limit per repo")
    calls_per_day: int | None = Field(default=None, ge=0, description="global daily call limit")
    calls_per_day_repo: int | None = Field(default=None, ge=0, description="daily call limit per repo")
    prices: dict[str, Price] = Field(
        default_factory=dict,
        description='JSON {"openai:gpt-4.1-mini": {"input": 0.4, "output": 1.6}}; key: prefix:model or model',
    )
    cache: bool = True
    cache_days: int = Field(default=30, ge=1)
    link_allowlist: tuple[str, ...] = DEFAULT_LINK_ALLOWLIST
    protected_paths: tuple[str, ...] = DEFAULT_PROTECTED_PATHS


def load_options() -> LlmOptions:
    """`LlmOptions` from the environment, with a message that names the variable on error."""
    try:
        return LlmOptions()
    except ValidationError as exc:
        parts = [
            f"CIMEDIC_LLM_{'_'.join(str(p) for p in item['loc']).upper()}: {item['msg']}"
            for item in exc.errors()
        ]
        raise ConfigError("invalid LLM configuration: " + "; ".join(parts)) from None


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the chain: `prefix:target`, e.g. `ollama:qwen2.5-coder:7b`."""

    prefix: str
    target: str

    @property
    def label(self) -> str:
        return f"{self.prefix}:{self.target}"


def parse_chain(text: str, known: tuple[str, ...]) -> list[ModelSpec]:
    """Split `CIMEDIC_LLM` into specs. Only the first ':' separates the prefix (model names hold colons)."""
    specs: list[ModelSpec] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        prefix, sep, target = item.partition(":")
        prefix = prefix.strip().lower()
        if not sep or not target.strip():
            raise ConfigError(
                f"CIMEDIC_LLM: {item!r} is not 'provider:model' (providers: {', '.join(known)})"
            )
        if prefix not in known:
            raise ConfigError(
                f"CIMEDIC_LLM: unknown provider {prefix!r} in {item!r} (known: {', '.join(known)})"
            )
        specs.append(ModelSpec(prefix, target.strip()))
    if not specs:
        raise ConfigError("CIMEDIC_LLM is set but names no model, e.g. 'openai:gpt-4.1-mini'")
    return specs
