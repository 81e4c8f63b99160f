"""Property tests for redaction (hypothesis): what must hold for any log text, not just the examples."""

from __future__ import annotations

import base64
import re
import string
from collections.abc import Callable

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from agent.redact import DEFAULT_REDACTOR, Redactor, redact
from agent.redaction.view import strip_hidden

_HEX = "0123456789abcdef"
_LOWER_ALNUM = string.ascii_lowercase + string.digits
# Secrets as CI systems hand them out: token characters, no brackets or spaces. (A value containing "]" or
# "[" could recombine with a placeholder's brackets; that is accepted, see Redactor's docstring.)
_SECRET_ALPHABET = string.ascii_letters + string.digits + "-_+/=.~!@#%^*"

HIDDEN = st.sampled_from(
    ["\x1b[0m", "\x1b[31;1m", "\x1b[K", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
)

# ------------------------------------------------------------------------------------- log-like text

sha = st.text(_HEX, min_size=40, max_size=40)
short_sha = st.text(_HEX, min_size=7, max_size=12)
digest = st.text(_HEX, min_size=64, max_size=64).map(lambda h: f"sha256:{h}")
uuid = st.text(_HEX, min_size=32, max_size=32).map(
    lambda h: f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
)
number = st.one_of(
    st.integers(-(10**9), 10**12).map(str), st.floats(0, 1e6, allow_nan=False).map(lambda f: f"{f:.3f}")
)
word = st.text(_LOWER_ALNUM, min_size=1, max_size=24)
path = st.lists(st.text(_LOWER_ALNUM + "_-", min_size=1, max_size=12), min_size=1, max_size=5).map(
    lambda parts: "/".join(parts) + ".py"
)
timestamp = st.builds(
    lambda h, m, s, f: f"2026-11-24T{h:02d}:{m:02d}:{s:02d}.{f:07d}Z",
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
    st.integers(0, 9_999_999),
)
fixed = st.sampled_from(
    [
        "PASSED",
        "FAILED",
        "ERROR",
        "Traceback (most recent call last):",
        "##[group]Run",
        "##[endgroup]",
        "Downloading",
        "https://files.pythonhosted.org/packages/numpy-2.1.0.whl",
        "git@github.com:org/repo.git",
        "status=200",
        "duration_ms=12",
        "exit code 1",
        "npm ERR!",
        "-->",
        "[ 42%]",
        "max_tokens=512",
        "Cache key: node-modules",
        "\x1b[32m✓\x1b[0m",
        "HEAD is now at",
    ]
)
piece = st.one_of(sha, short_sha, digest, uuid, number, word, path, timestamp, fixed)
separator = st.sampled_from([" ", "  ", ", ", " | ", "\t", " -> "])


@st.composite
def log_line(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(piece, min_size=1, max_size=12))
    out = pieces[0]
    for p in pieces[1:]:
        out += draw(separator) + p
    return out


line_end = st.sampled_from(["\n", "\n", "\n", "\r\n", "\r"])
log_text = st.lists(st.tuples(log_line(), line_end), min_size=1, max_size=20).map(
    lambda pairs: "".join(a + b for a, b in pairs)
)

secret_value = st.text(_SECRET_ALPHABET, min_size=6, max_size=40)


def _placeholder_safe(secret: str) -> bool:
    """A secret that is itself a piece of "[REDACTED:secret]" shows up in any redacted output."""
    return secret not in "[REDACTED:secret][REDACTED:github-token]" and "REDACTED" not in secret


def _insert(text: str, at: int, hidden: list[str], chunk: str) -> str:
    """`chunk` inserted at `at`, with the `hidden` characters spread inside it."""
    pieces = list(chunk)
    for i, h in enumerate(hidden):
        pos = 1 + (i * 7) % max(1, len(pieces) - 1)
        pieces.insert(pos, h)
    return text[:at] + "".join(pieces) + text[at:]


# ------------------------------------------------------------------------------------------ properties


@settings(max_examples=150, deadline=None)
@given(log_text)
def test_text_without_secrets_is_unchanged(text: str) -> None:
    assert DEFAULT_REDACTOR.findings(text) == []
    assert redact(text) == text


@settings(max_examples=100, deadline=None)
@given(log_text, st.data())
def test_redaction_is_idempotent(text: str, data: st.DataObject) -> None:
    # mix in secrets of several families so there is something to redact
    token = data.draw(st.text(string.ascii_letters + string.digits, min_size=36, max_size=36))
    extras = data.draw(
        st.lists(
            st.sampled_from(
                [
                    f"ghp_{token}",
                    f"password={token[:12]}",
                    f"https://u:{token[:10]}@h.example/x",
                    f"Authorization: Bearer {token}",
                    f"eyJhbGciOiJIUzI1NiJ9.eyJ{token}.{token[:20]}",
                    "-----BEGIN PRIVATE KEY-----",
                    token,
                ]
            ),
            max_size=5,
        )
    )
    lines = text.splitlines(keepends=True)
    for i, extra in enumerate(extras):
        lines.insert(data.draw(st.integers(0, len(lines))), extra + ("\n" if i % 2 else " "))
    mixed = "".join(lines)
    r = Redactor([token[5:25]])
    once = r.redact(mixed)
    assert r.redact(once) == once
    assert DEFAULT_REDACTOR.redact(DEFAULT_REDACTOR.redact(mixed)) == DEFAULT_REDACTOR.redact(mixed)


@settings(max_examples=150, deadline=None)
@given(log_text, secret_value, st.data())
def test_declared_secret_never_survives(text: str, secret: str, data: st.DataObject) -> None:
    assume(_placeholder_safe(secret))
    at = data.draw(st.integers(0, len(text)))
    hidden = data.draw(st.lists(HIDDEN, max_size=3))
    embedded = _insert(text, at, hidden, secret)
    out = Redactor([secret]).redact(embedded)
    assert secret not in strip_hidden(out)
    assert out.count("\n") == embedded.count("\n")


@settings(max_examples=150, deadline=None)
@given(log_text, secret_value, st.binary(max_size=5), st.binary(max_size=5), st.booleans())
def test_base64_of_a_declared_secret_never_survives(
    text: str, secret: str, before: bytes, after: bytes, urlsafe: bool
) -> None:
    assume(_placeholder_safe(secret))
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    blob = encode(before + secret.encode() + after).decode()
    out = Redactor([secret]).redact(f"{text}data: {blob}\n")
    assert encode(secret.encode()).decode().rstrip("=") not in out
    # nor can the secret be read back from any base64 run left in the output
    for run in out.split():
        for shift in range(4):
            chunk = run[shift:]
            chunk = chunk[: len(chunk) - len(chunk) % 4]
            try:
                decoded = (base64.urlsafe_b64decode if urlsafe else base64.b64decode)(chunk)
            except ValueError:
                continue
            assert secret.encode() not in decoded


@settings(max_examples=100, deadline=None)
@given(log_text, secret_value)
def test_url_encoded_declared_secret_never_survives(text: str, secret: str) -> None:
    from urllib.parse import quote, quote_plus

    assume(_placeholder_safe(secret))
    r = Redactor([secret])
    for encoded in (quote(secret, safe=""), quote_plus(secret), quote(secret)):
        out = r.redact(f"{text}GET /cb?v={encoded}&x=1\n")
        assert encoded not in out


@settings(max_examples=100, deadline=None)
@given(log_text, st.data())
def test_line_by_line_equals_whole_text(text: str, data: st.DataObject) -> None:
    # a PEM block and a few tokens, streamed one line at a time
    body = data.draw(st.lists(st.text(string.ascii_letters + string.digits + "+/", min_size=4, max_size=64)))
    block = (
        "-----BEGIN EC PRIVATE KEY-----\n"
        + "".join(b + "\n" for b in body)
        + "-----END EC PRIVATE KEY-----\n"
    )
    lines = text.splitlines(keepends=True)
    lines.insert(data.draw(st.integers(0, len(lines))), block)
    full = "".join(lines)
    streamed = list(DEFAULT_REDACTOR.redact_lines(full.splitlines(keepends=True)))
    assert "".join(streamed) == redact(full)
    begin = streamed.index("-----BEGIN EC PRIVATE KEY-----\n")
    assert streamed[begin + 1 : begin + 1 + len(body)] == ["[REDACTED:private-key]\n"] * len(body)
    assert streamed[begin + 1 + len(body)] == "-----END EC PRIVATE KEY-----\n"


@settings(max_examples=100, deadline=None)
@given(log_text, st.lists(secret_value, max_size=3), st.data())
def test_findings_are_ordered_disjoint_and_within_lines(
    text: str, secrets: list[str], data: st.DataObject
) -> None:
    for s in secrets:
        text = _insert(text, data.draw(st.integers(0, len(text))), [], s)
    found = Redactor(secrets).findings(text)
    prev_end = 0
    for f in found:
        assert prev_end <= f.start < f.end <= len(text)
        assert "\n" not in text[f.start : f.end] and "\r" not in text[f.start : f.end]
        prev_end = f.end


# Arbitrary text built from the fragments the rules care about, glued in any order: the invariants hold
# whatever the rules decide about it.
_FRAGMENTS = st.sampled_from(
    [
        *string.printable,
        *("\x1b", "\x1b[0m", "\x1b[3", "\u200b", "\ufeff", "é", "İ", "[", "]", "@", "://", "eyJ", "AKIA"),
        *("-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----", "password=", "token: ", "ghp_"),
        *("Authorization: Bearer ", "[REDACTED:token]", "<password>", "</password>", "--token "),
    ]
)
arbitrary_text = st.lists(_FRAGMENTS, max_size=80).map("".join)
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_TOKEN_TEXT = st.text(string.ascii_letters + string.digits + "-_+/=.", min_size=4)


@settings(max_examples=200, deadline=None)
@given(arbitrary_text, st.lists(_TOKEN_TEXT, max_size=2))
def test_invariants_on_arbitrary_text(text: str, secrets: list[str]) -> None:
    secrets = [
        s for s in secrets if _placeholder_safe(s) and s not in "[REDACTED:private-key][REDACTED:token]"
    ]
    r = Redactor(secrets)
    out = r.redact(text)
    assert r.redact(out) == out
    assert len(_LINE_RE.findall(out)) == len(_LINE_RE.findall(text))
    for s in secrets:
        assert s not in strip_hidden(out)
    if not secrets:
        assert "".join(r.redact_lines(_LINE_RE.findall(text))) == out


# Line prefixes of the tools that print keys (issue 10 item 4), as functions of a line's number: BuildKit's
# seconds, timestamps and line counters change from line to line.
_PREFIXES: list[Callable[[int], str]] = [
    lambda _i: "E   ",
    lambda i: f"#12 {i // 10}.{i % 10 * 37:03d} ",
    lambda _i: "+ ",
    lambda _i: "  | ",
    lambda _i: "[stderr] ",
    lambda i: f"2026-11-24T08:{i // 60 % 60:02d}:{i % 60:02d}.{i * 7919 % 10**7}Z ",
    lambda i: f"{i + 1}> ",
]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_PREFIXES), st.integers(0, 500), st.data())
def test_prefixed_pem_body_never_survives(
    prefix: Callable[[int], str], start: int, data: st.DataObject
) -> None:
    alphabet = string.ascii_letters + string.digits + "+/"
    body = data.draw(st.lists(st.text(alphabet, min_size=16, max_size=64), min_size=1, max_size=30))
    lines = [prefix(start) + "-----BEGIN OPENSSH PRIVATE KEY-----"]
    lines += [prefix(start + 1 + i) + b for i, b in enumerate(body)]
    lines += [prefix(start + 1 + len(body)) + "-----END OPENSSH PRIVATE KEY-----", "done."]
    text = "\n".join(lines) + "\n"
    out = redact(text)
    for b in body:
        assert b not in out
    assert out.count("\n") == text.count("\n")
    assert "".join(DEFAULT_REDACTOR.redact_lines(text.splitlines(keepends=True))) == out
