"""The detectors: which shapes of text are secrets, and why we believe so.

Two kinds of rule, chosen for speed on large logs:

- `ScanRule`: a token with a fixed literal prefix (``ghp_``, ``AKIA``, ``eyJ``...). Python's `re` finds a
  literal prefix with a fast scan (about 1 GB/s measured here), so these run over the whole text.
- `KeywordRule`: ``password=...``-style assignments and auth headers. Their keys are case-insensitive, which
  `re` cannot prefilter (``(?i)password`` scans at ~80 MB/s, an alternation of keywords at ~9 MB/s), and a
  pattern that starts with "any key characters" tries every position. So the lowercased text is searched
  with `str.find` for the word a key ends with (``token``, ``password``...); at each occurrence the key is
  read backwards and the rest (separator and value) is matched forwards, anchored. Cost grows with the
  number of occurrences, not with the size of the text.

Every pattern runs in linear time on hostile input (a log is attacker-controlled text when a fork's pull
request prints it): a pattern that can fail after an unbounded run uses bounded or possessive quantifiers
(Python 3.11+), or rejects a start inside a longer run right after its literal prefix (the JWT rule).

Token starts are checked in Python (`ScanRule.not_after`) rather than with a leading lookbehind: a pattern
that starts with a lookbehind loses `re`'s literal-prefix scan and runs ~10x slower.

Every pattern stays within one line (no ``\\s`` across ``\\n``): redaction must never change line numbers, and
`Redactor.redact_lines` must give the same answer as `Redactor.redact` on the joined text.

Deliberately *not* detected: bare hex or base64 strings by entropy. Git SHAs, sha256 digests, UUIDs, cache
keys and build ids fill CI logs, and an entropy rule cannot tell them from keys (detect-secrets' default
plugins flag every commit SHA). Hex or base64 that is a secret is caught by its context instead (an
assignment key, an Authorization header, a PEM block) or declared by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# Priorities when findings overlap (the union is redacted; the kind comes from the highest priority).
SPECIFIC = 30  # a token whose format is documented by its issuer
DECLARED = 20  # a value the caller told us is secret
CONTEXT = 10  # a value that is secret because of where it stands (key=value, header, URL)

# A token must not be the tail of a longer word: these may not stand right before it.
_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_E = r"(?![A-Za-z0-9_])"  # token end: not followed by more word characters
_E_DASH = r"(?![A-Za-z0-9_-])"

# Values that stand in for a secret rather than being one: masks printed by CI systems, template and shell
# references, type annotations and the like. Redacting them would only add noise.
_NOT_SECRETS = frozenset(
    {
        "none",
        "null",
        "nil",
        "true",
        "false",
        "undefined",
        "str",
        "string",
        "bytes",
        "int",
        "bool",
        "optional",
        "required",
        "masked",
        "[masked]",
        "redacted",
        "hidden",
        "secret",
        "secrets",
        "password",
        "passwd",
        "token",
        "api_key",
        "apikey",
        "self",
    }
)


def is_placeholder(value: str) -> bool:
    """True for values that are masks or references, not secrets (``***``, ``[MASKED]``, ``${X}``...)."""
    if not value.strip("*"):  # GitHub Actions prints masked values as ***
        return True
    return value.startswith(("[REDACTED:", "[MASKED]", "$", "%(", "%s", "{{", "<"))


# An environment variable's name (OPENAI_API_KEY): a reference to a secret, not one.
_ENV_NAME_RE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")


def plausible_assigned_value(value: str, m: re.Match[str] | None = None, key: str = "") -> bool:
    """Whether the value of ``password=VALUE`` and friends may be a secret.

    Not secrets: masks and references (`is_placeholder`), stop words (``None``, ``true``...), a value that
    repeats its key (``client_secret='client_secret'``), an environment variable's name, code
    (``token = get_token()``, ``os.environ["X"]``), punctuation only (``...``).

    With a colon and no quotes (``KEY: value``) the line may as well be a message about the key: bash
    says ``DEPLOY_TOKEN: unbound variable``, tools say ``token: expired``. There a plain lowercase word is
    not taken for a secret; a value with a digit, inner capitals, symbols or 20+ characters is.
    """
    if len(value) < 3 or is_placeholder(value) or value.lower() in _NOT_SECRETS:
        return False
    if not any(c.isalnum() for c in value) or _ENV_NAME_RE.fullmatch(value):
        return False
    if key and value.lower().replace("-", "_") == key.replace("-", "_").lstrip("_"):
        return False
    if m is not None and m.group("bare") is not None:
        after = m.string[m.end() : m.end() + 1]
        if after in ("(", "["):  # a call or a subscript: source code, not a value
            return False
        if "sep" in m.re.groupindex and m.group("sep") == ":":
            return _looks_generated(value)
    return True


def _looks_generated(value: str) -> bool:
    if len(value) >= 20 or any(c.isdigit() for c in value):
        return True
    if any(c.isupper() for c in value[1:]) and any(c.islower() for c in value):
        return True
    return any(c in "+/=!@#$%^&*~:?" for c in value)


def _not_placeholder(value: str, m: re.Match[str] | None = None, key: str = "") -> bool:
    return not is_placeholder(value)


@dataclass(frozen=True, slots=True)
class ScanRule:
    """A token format with a literal prefix; `group` selects the secret part of the match.

    A match is dropped when the character before it is in `not_after` (the token would be the tail of a
    longer word).
    """

    kind: str
    pattern: re.Pattern[str]
    group: int = 0
    priority: int = SPECIFIC
    accept: Callable[[str], bool] | None = None
    not_after: frozenset[str] = frozenset()
    # Literals one of which occurs in every match: on short texts (a single line) checking them with `in` is
    # cheaper than starting a regex scan.
    anchors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KeywordRule:
    """A context pattern anchored on a word that ends a key (see the module docstring).

    At each occurrence of one of `words` in the lowercased text, the key is the run of key characters ending
    with the word; if `key_ok(key)`, `tail` is matched right after the word and its value group is the secret.
    """

    name: str
    words: tuple[str, ...]
    key_ok: Callable[[str], bool]
    tail: re.Pattern[str]
    kind_of: Callable[[str], str]
    accept: Callable[[str, re.Match[str], str], bool] = plausible_assigned_value
    priority: int = CONTEXT
    opener: str = ""  # a character required right before the key ("<" for XML elements)


def _literal_prefix(pattern: str) -> str:
    out = ""
    for ch in pattern:
        if ch in ".^$*+?{}[]\\|()":
            break
        out += ch
    return out


def _scan(
    kind: str,
    pattern: str,
    *,
    group: int = 0,
    priority: int = SPECIFIC,
    accept: Callable[[str], bool] | None = None,
    bounded: bool = True,
    anchors: tuple[str, ...] = (),
) -> ScanRule:
    anchors = anchors or (_literal_prefix(pattern),)
    assert all(anchors), pattern
    not_after = _WORD if bounded else frozenset()
    return ScanRule(kind, re.compile(pattern), group, priority, accept, not_after, anchors)


SCAN_RULES: tuple[ScanRule, ...] = (
    # GitHub, "About authentication to GitHub" / "Behind GitHub's new authentication token formats" (2021):
    # ghp_ (classic PAT), gho_ (OAuth), ghu_ (user-to-server), ghs_ (server-to-server / installation,
    # including GITHUB_TOKEN), ghr_ (refresh); 36+ chars of [A-Za-z0-9_] after the prefix. GitHub says the
    # length may grow, so only a minimum is enforced (the run is taken whole, possessively).
    _scan("github-token", r"gh[pousr]_[A-Za-z0-9_]{30,}+"),
    # Fine-grained PATs: github_pat_ + 22 chars + _ + 59 chars.
    _scan("github-token", r"github_pat_[A-Za-z0-9_]{22,}+"),
    # GitLab, "Token overview > Token prefixes": glpat- personal/project/group access, gloas- OAuth app
    # secret, gldt- deploy, glrt- runner authentication, glcbt- CI/CD job, glptt- pipeline trigger,
    # glft- feed, glimt- incoming mail, glagent- agent for Kubernetes, glsoat- SCIM, glffct- feature-flags
    # client, glwt- workspace; GR1348941 runner registration. Newer routable tokens append
    # ".<version>.<crc>" parts. The prefixes are listed explicitly: a generic gl[a-z]+- would catch words
    # like "global-configuration-".
    _scan(
        "gitlab-token",
        r"gl(?:pat|oas|dt|rtr?|cbt|ptt|ft|imt|agent|soat|ffct|wt)-[A-Za-z0-9_-]{20,}(?:\.[A-Za-z0-9_-]+)*",
    ),
    # (one rule per literal prefix: an alternation of prefixes defeats re's prefix scan)
    _scan("gitlab-token", r"GR1348941[A-Za-z0-9_-]{20,}"),
    # AWS IAM User Guide, "Unique identifiers" (IAM identifiers reference): AKIA = long-term access key id,
    # ASIA = temporary (STS) access key id, ABIA = STS service bearer token, ACCA = context-specific
    # credential; 16 more upper-case alphanumerics. (AIDA/AROA... are user/role ids, not credentials.)
    _scan(
        "aws-access-key-id",
        r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])",
        anchors=("AKIA", "ASIA", "ABIA", "ACCA"),
    ),
    # Slack, "Token types": xoxb- bot, xoxp- user, xoxa-/xoxr- legacy app/refresh, xoxo-/xoxs- workspace
    # and session tokens; xoxe.xoxp-/xoxe- rotating tokens; xapp- app-level tokens.
    _scan(
        "slack-token",
        r"(?:xox(?:[abposr]|e\.xox[bp]|e)-|xapp-)[A-Za-z0-9-]{10,}",
        anchors=("xox", "xapp-"),
    ),
    # Slack incoming webhooks (https://hooks.slack.com/services/T.../B.../secret) and workflow triggers: the
    # path is the credential. The host stays visible so a reader knows what was there.
    _scan(
        "slack-webhook",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9_/-]{8,})",
        group=1,
        bounded=False,
    ),
    # Discord webhooks: /api/webhooks/<id>/<token>.
    _scan(
        "discord-webhook",
        r"discord(?:app)?\.com/api/webhooks/([0-9]+/[A-Za-z0-9_-]{20,})",
        group=1,
        bounded=False,
    ),
    # npm, "About access tokens" (2021 format): npm_ + 36 base62 chars (30 random + 6 checksum).
    _scan("npm-token", rf"npm_[A-Za-z0-9]{{36}}{_E}"),
    # PyPI API tokens are "pypi-" + a base64url macaroon; its serialised header starts AgEIcHlwaS5vcmc
    # (pypi.org) or AgENdGVzdC5weXBpLm9yZw (test.pypi.org), hence the common "AgE".
    _scan("pypi-token", r"pypi-AgE[A-Za-z0-9_-]{40,}"),
    # JWT (RFC 7519) in JWS compact form (RFC 7515 §7.1): three base64url segments; the header is a JSON
    # object, so its encoding starts "eyJ" ('{"'). The signature may be empty (alg "none"); JWE (RFC 7516)
    # adds two more segments.
    _scan(
        "jwt",
        r"eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{10,}+\.[A-Za-z0-9_-]{10,}+\.[A-Za-z0-9_-]*+"
        r"(?:\.[A-Za-z0-9_-]++){0,2}",
    ),
    # Google Cloud, "Manage API keys": 39 chars starting AIza.
    _scan("google-api-key", rf"AIza[0-9A-Za-z_-]{{35}}{_E_DASH}"),
    # Stripe, "API keys": secret sk_live_/sk_test_, restricted rk_live_/rk_test_ (publishable pk_ keys are
    # public by design); webhook signing secrets whsec_.
    _scan("stripe-key", rf"sk_(?:live|test)_[0-9A-Za-z]{{16,}}+{_E}"),
    _scan("stripe-key", rf"rk_(?:live|test)_[0-9A-Za-z]{{16,}}+{_E}"),
    _scan("stripe-key", rf"whsec_[A-Za-z0-9+/=]{{24,}}+{_E}"),
    # OpenAI keys: sk-proj- / sk-svcacct- / sk-admin-, and the legacy sk-<20>T3BlbkFJ<20> ("OpenAI" in
    # base64).
    _scan(
        "openai-key",
        r"sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})",
    ),
    # Anthropic keys: sk-ant-api03-..., sk-ant-admin01-...
    _scan("anthropic-key", r"sk-ant-[a-z]+[0-9]{2}-[A-Za-z0-9_-]{20,}"),
    # Docker Hub personal access tokens: dckr_pat_...; Hugging Face user access tokens: hf_ + 34 letters.
    _scan("docker-hub-token", r"dckr_pat_[A-Za-z0-9_-]{20,}"),
    _scan("huggingface-token", rf"hf_[A-Za-z]{{34}}{_E}"),
    # Credentials in a URL, RFC 3986 §3.2.1 userinfo: scheme://user:password@host. The user stays visible
    # (it tells which account was used); the password is redacted. The password is taken up to the last "@"
    # before the path, as a shell or a library would split an unencoded "@" in a password.
    _scan(
        "url-password",
        r"://[^\s:/@'\"<>]*:([^\s/'\"<>]+)@",
        group=1,
        priority=CONTEXT,
        accept=lambda v: not is_placeholder(v),
        bounded=False,
    ),
)

# ---------------------------------------------------------------------------------------------- keywords

# Characters a key is made of (GITHUB_TOKEN, db.password, x-api-key, --password, _authToken).
KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")
MAX_KEY_LENGTH = 64

_VALUE = (
    r"(?:\"(?P<dq>(?:[^\"\\\r\n]|\\[^\r\n]){0,4096}+)\"|'(?P<sq>[^'\r\n]{0,4096}+)'"
    r"|(?P<bare>(?!\[REDACTED:)[^\s'\"`,;&<>()\[\]{}]+))"
)
# "key" alone is too common (cache keys, sort keys): only these kinds of key count.
_SECRET_KEY_RE = re.compile(
    r".*(?:api|access|secret|private|client|signing|encryption|master|account|auth)[_-]?key|.*apikey"
)


def _secret_key_name(key: str) -> bool:
    if key.endswith("key"):
        return _SECRET_KEY_RE.fullmatch(key) is not None
    # "auth" and "credentials" only as whole words of the key (npm's _auth, basic_auth), not xauth or oauth
    for word in ("auth", "credential", "credentials"):
        if key.endswith(word):
            return len(key) == len(word) or key[-len(word) - 1] in "_-."
    return True


def _assignment_kind(key: str) -> str:
    key = key.replace("-", "_")
    if "secret_access_key" in key or "secretaccesskey" in key:
        return "aws-secret-access-key"
    if "pass" in key:
        return "password"
    if "private" in key and key.endswith("key"):
        return "private-key"
    if key.endswith("token"):
        return "token"
    if "secret" in key:
        return "secret"
    if key.endswith("key"):
        return "api-key"
    return "credential"


# The words a secret-bearing key ends with: GITHUB_TOKEN, db_password, client_secret, x-api-key match; the
# word must end the key, so max_tokens, tokenizer, token_type, password_file do not.
_ASSIGNMENT_WORDS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "key",
    "auth",
    "credential",
    "credentials",
)

KEYWORD_RULES: tuple[KeywordRule, ...] = (
    # key = value, key: value, key => value, key := value; key and value quoted or not (env dumps, YAML,
    # JSON, Python reprs, query strings, .npmrc "_authToken=", "PRIVATE-TOKEN:" headers).
    KeywordRule(
        "assignment",
        _ASSIGNMENT_WORDS,
        _secret_key_name,
        re.compile(r"(?![A-Za-z0-9])[\"']?[ \t]*(?P<sep>=>|:=|=(?!=)|:)[ \t]*" + _VALUE),
        _assignment_kind,
    ),
    # Command-line flags with a space: --password VALUE, --token VALUE (the "=" form is an assignment).
    KeywordRule(
        "flag",
        ("password", "passwd", "passphrase", "secret", "token", "key"),
        lambda key: key.startswith("--") and _secret_key_name(key),
        re.compile(r"[ \t]+(?!-)" + _VALUE),
        _assignment_kind,
    ),
    # XML elements, e.g. Maven settings.xml <password>...</password>.
    KeywordRule(
        "xml",
        ("password", "passwd", "passphrase", "secret", "token", "key"),
        _secret_key_name,
        re.compile(r">(?P<bare>[^<\r\n]{1,4096}+)</"),
        _assignment_kind,
        opener="<",
    ),
    # HTTP Authorization / Proxy-Authorization (RFC 9110 §11.6.2, §11.7.2): the scheme (Bearer, Basic,
    # token, ...) stays visible, the credentials go. Covers curl -H "Authorization: ..." and header dumps.
    KeywordRule(
        "authorization",
        ("authorization",),
        lambda key: key in ("authorization", "proxy-authorization"),
        re.compile(
            r"[\"']?[ \t]*[:=][ \t]*[\"']?"
            r"(?:(?i:bearer|basic|token|bot|digest|negotiate|ntlm|aws4-hmac-sha256|hmac)[ \t]+)?"
            r"(?P<bare>[^\s'\",]+)"
        ),
        lambda key: "authorization",
        accept=_not_placeholder,
    ),
    # A bearer token on its own (RFC 6750 §2.1 b64token syntax), e.g. in a printed header list.
    KeywordRule(
        "bearer",
        ("bearer",),
        lambda key: key == "bearer",
        re.compile(r"[ \t]+(?P<bare>[A-Za-z0-9._~+/-]{16,}=*)"),
        lambda key: "authorization",
        accept=_not_placeholder,
    ),
)


def keyword_value_span(m: re.Match[str]) -> tuple[int, int, str]:
    """The span and text of the value group that matched (double-quoted, single-quoted or bare)."""
    for name in ("dq", "sq", "bare"):
        if name in m.re.groupindex and m.group(name) is not None:
            return m.start(name), m.end(name), m.group(name)
    raise AssertionError("keyword rule without a value group")  # pragma: no cover
