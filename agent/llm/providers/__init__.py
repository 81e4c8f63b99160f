"""Built-in providers; importing this package registers them (see `agent.llm.registry`)."""

from agent.llm.providers import anthropic, google, ollama, openai

__all__ = ["anthropic", "google", "ollama", "openai"]
