"""Secret redaction: every family, the things that must stay, escapes, PEM blocks, declared values.

Test secrets are built at run time from a seeded generator, so no token-shaped literal sits in the repo
(secret scanners would flag it, and a real-looking literal invites copy-paste into real configs).
"""

from __future__ import annotations

import base64
import random
import string
from urllib.parse import quote

import pytest

from agent.redact import DEFAULT_REDACTOR, Finding, Redactor, redact
from agent.redaction.declared import base64_forms, variants
from agent.redaction.view import TextView, strip_hidden

_ALNUM = string.ascii_letters + string.digits
_rng = random.Random(20261124)


def fake(prefix: str, n: int, alphabet: str = _ALNUM) -> str:
    return prefix + "".join(_rng.choices(alphabet, k=n))


GHP = fake("ghp_", 36)
PEM_BODY = [fake("", 64, _ALNUM + "+/") for _ in range(6)] + [fake("", 20, _ALNUM) + "=="]


def kinds(text: str, redactor: Redactor = DEFAULT_REDACTOR) -> list[str]:
    return [f.kind for f in redactor.findings(text)]


# ------------------------------------------------------------------------------------------- families

FAMILIES: list[tuple[str, str, str]] = [
    # (id, line with a secret, kind); the secret is the part between «» and must vanish
    ("github-classic", f"remote: using «{GHP}» for auth", "github-token"),
    ("github-oauth", f"token «{fake('gho_', 36)}»", "github-token"),
    ("github-user-to-server", f"«{fake('ghu_', 36)}»", "github-token"),
    ("github-installation", f"GITHUB_TOKEN=«{fake('ghs_', 36)}»", "github-token"),
    ("github-refresh", f"refresh=«{fake('ghr_', 76)}»", "github-token"),
    ("github-fine-grained", f"pat «{fake('github_pat_', 22)}_{fake('', 59)}» ok", "github-token"),
    ("gitlab-pat", f"PRIVATE-TOKEN: «{fake('glpat-', 20)}»", "gitlab-token"),
    ("gitlab-deploy", f"using «{fake('gldt-', 20)}»", "gitlab-token"),
    ("gitlab-runner", f"token=«{fake('glrt-', 27)}»", "gitlab-token"),
    ("gitlab-job", f"«{fake('glcbt-', 30)}»", "gitlab-token"),
    ("gitlab-trigger", f"curl -F token=«{fake('glptt-', 40)}»", "gitlab-token"),
    ("gitlab-routable", f"«{fake('glpat-', 27)}.01.{fake('', 9)}».", "gitlab-token"),
    ("gitlab-registration", f"«{fake('GR1348941', 20)}»", "gitlab-token"),
    ("aws-akia", f"aws_access_key_id = «{fake('AKIA', 16, string.ascii_uppercase + string.digits)}»", None),
    ("aws-asia", f'"AccessKeyId": "«{fake("ASIA", 16, string.ascii_uppercase + string.digits)}»"', None),
    (
        "aws-secret",
        f"aws_secret_access_key=«{fake('', 40, _ALNUM + '/+')}»",
        "aws-secret-access-key",
    ),
    (
        "aws-secret-json",
        f'"SecretAccessKey": "«{fake("", 40, _ALNUM + "/+")}»",',
        "aws-secret-access-key",
    ),
    ("slack-bot", f"SLACK=«{fake('xoxb-', 40, _ALNUM + '-')}»", "slack-token"),
    ("slack-user", f"«{fake('xoxp-', 60, _ALNUM + '-')}»", "slack-token"),
    ("slack-app", f"«{fake('xapp-1-', 40, _ALNUM + '-')}»", "slack-token"),
    (
        "slack-webhook",
        f"posting to https://hooks.slack.com/services/«{fake('T', 8)}/{fake('B', 10)}/{fake('', 24)}» done",
        "slack-webhook",
    ),
    ("npm", f"//registry.npmjs.org/:_authToken=«{fake('npm_', 36)}»", "npm-token"),
    ("pypi", f"TWINE_PASSWORD=«pypi-AgEIcHlwaS5vcmc{fake('', 70, _ALNUM + '-_')}»", "pypi-token"),
    (
        "jwt",
        f"id_token: «eyJhbGciOiJSUzI1NiJ9.{fake('eyJ', 40, _ALNUM + '-_')}.{fake('', 43, _ALNUM + '-_')}»",
        "jwt",
    ),
    ("url-password", f"git clone https://deploy:«{fake('', 12)}»@git.example.com/x.git", "url-password"),
    ("url-token-as-password", f"https://x-access-token:«{GHP}»@github.com/o/r", "github-token"),
    ("db-url", f"DATABASE_URL=postgres://app:«{fake('', 16)}»@db:5432/app", None),
    ("redis-url-no-user", f"redis://:«{fake('', 16)}»@cache:6379/0", "url-password"),
    ("password-eq", f"password=«{fake('', 10)}» user=bob", "password"),
    ("passwd-colon", f"passwd: «{fake('', 10)}»", "password"),
    ("token-colon", f"  token: «{fake('', 24)}»", "token"),
    ("secret-eq", f"secret=«{fake('', 16)}»", "secret"),
    ("api-key-eq", f"api_key=«{fake('', 32)}»", "api-key"),
    ("api-key-header", f"X-Api-Key: «{fake('', 32)}»", "api-key"),
    ("password-double-quoted", f'"password": "«{fake("", 8)} {fake("", 4)}»"', "password"),
    ("password-single-quoted", f"{{'db_password': '«{fake('', 12)}»'}}", "password"),
    ("client-secret-query", f"GET /oauth?client_secret=«{fake('', 20)}»&x=1", "secret"),
    ("flag-space", f"docker login --password «{fake('', 14)}» ghcr.io", "password"),
    ("xml", f"<server><password>«{fake('', 14)}»</password></server>", "password"),
    ("bearer-header", f"Authorization: Bearer «{fake('', 40, _ALNUM + '._-')}»", "authorization"),
    (
        "basic-header",
        f"-H 'Authorization: Basic «{base64.b64encode(b'u:p4ssw0rd!').decode()}»'",
        "authorization",
    ),
    ("token-header", f"authorization: token «{fake('', 40)}»", "authorization"),
    ("google", f"key=«{fake('AIza', 35, _ALNUM + '-_')}»", "google-api-key"),
    ("stripe-secret", f"«{fake('sk_live_', 24)}»", "stripe-key"),
    ("stripe-restricted", f"«{fake('rk_test_', 24)}»", "stripe-key"),
    ("stripe-webhook", f"«{fake('whsec_', 32)}»", "stripe-key"),
    ("openai", f"OPENAI_API_KEY=«{fake('sk-proj-', 48, _ALNUM + '-_')}»", "openai-key"),
    ("anthropic", f"«{fake('sk-ant-api03-', 90, _ALNUM + '-_')}»", "anthropic-key"),
    ("docker-hub", f"«{fake('dckr_pat_', 27, _ALNUM + '-_')}»", "docker-hub-token"),
    ("huggingface", f"«{fake('hf_', 34, string.ascii_letters)}»", "huggingface-token"),
    (
        "discord-webhook",
        f"https://discord.com/api/webhooks/«1234567890/{fake('', 60, _ALNUM + '-_')}»",
        "discord-webhook",
    ),
]


def _split(marked: str) -> tuple[str, list[str]]:
    """The line without «» marks, and the marked secrets."""
    secrets: list[str] = []
    out = marked
    while "«" in out:
        a = out.index("«")
        b = out.index("»")
        secrets.append(out[a + 1 : b])
        out = out[:a] + out[a + 1 : b] + out[b + 1 :]
    return out, secrets


@pytest.mark.parametrize(
    ("marked", "kind"), [(m, k) for _, m, k in FAMILIES], ids=[i for i, _, _ in FAMILIES]
)
def test_family_is_redacted_and_the_rest_kept(marked: str, kind: str | None) -> None:
    line, secrets = _split(marked)
    expected = marked
    found = DEFAULT_REDACTOR.findings(line)
    assert found, line
    if kind is not None:
        assert [f.kind for f in found] == [kind]
        expected = marked[: marked.index("«")] + f"[REDACTED:{kind}]" + marked[marked.index("»") + 1 :]
        assert redact(line) == expected
    out = redact(line)
    for secret in secrets:
        assert secret not in out
    assert "[REDACTED:" in out


def test_aws_kinds() -> None:
    key_id = fake("AKIA", 16, string.ascii_uppercase + string.digits)
    assert kinds(f"id {key_id} end") == ["aws-access-key-id"]
    assert redact(f"aws_access_key_id = {key_id}") == "aws_access_key_id = [REDACTED:aws-access-key-id]"


def test_url_keeps_user_and_host() -> None:
    pw = fake("", 12)
    assert (
        redact(f"https://alice:{pw}@example.com/path")
        == "https://alice:[REDACTED:url-password]@example.com/path"
    )
    assert redact(f"mysql://root:p@ss{pw}@db/x") == "mysql://root:[REDACTED:url-password]@db/x"


def test_keys_stay_visible_values_go() -> None:
    assert redact("DB_PASSWORD=hunter2hunter2") == "DB_PASSWORD=[REDACTED:password]"
    assert redact("export NPM_TOKEN='abc123def456'") == "export NPM_TOKEN='[REDACTED:token]'"
    assert (
        redact('{"client_secret": "s3cr3t-v4lue", "id": 1}')
        == '{"client_secret": "[REDACTED:secret]", "id": 1}'
    )
    assert redact("--token=abcdef123456 --verbose") == "--token=[REDACTED:token] --verbose"
    assert redact("Authorization: Basic dXNlcjpwYXNz") == "Authorization: Basic [REDACTED:authorization]"


@pytest.mark.parametrize(
    "line",
    [
        "token: ***",
        "password: ***",
        "GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}",
        "password=$DB_PASSWORD",
        "token: [MASKED]",
        "def login(self, password: str) -> None:",
        "password=None",
        "max_tokens=512 tokenizer=bert token_type=bearer",
        "password_file=/etc/app/pw",
        "Cache key: node-modules-3f786850e387550fdab836ed7e6dc881de23001b",
        "sort key=name",
        "Authorization: Bearer ***",
        "Downloading https://files.pythonhosted.org/packages/ab/cd/numpy-2.0.whl",
        "ssh://git@github.com:22/org/repo.git",
        "https://example.com:8443/path?x=1",
        "git@github.com:org/repo.git",
        "commit 3f786850e387550fdab836ed7e6dc881de23001b (HEAD -> main)",
        "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        "image@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "request 123e4567-e89b-12d3-a456-426614174000 failed",
        "AIDAJQABLZS4A3QDU576Q is a user id, not a key",
        "go: downloading golang.org/x/sys v0.0.0-20240101000000-abcdef123456",
        "global-configuration-settings-file-name-is-long loaded",
        "ghp_ prefix tokens are classic PATs",
        "-----BEGIN CERTIFICATE-----",
        "-----BEGIN PUBLIC KEY-----",
        "npm WARN deprecated inflight@1.0.6: leaks memory",
        "tests/test_auth.py::test_login PASSED",
        "The secret to a good build is caching.",
        "bearer token is required",
        'api_key=os.environ["OPENAI_API_KEY"],',
        "token = get_token(scope)",
        "api_key='GEMINI_API_KEY',",
        "client_secret='client_secret',",
        "pip install tiktoken==0.7.0",
        "status unpacked xauth:amd64 1:1.1.2-1",
        "redirect_uri=https://x oauth:enabled",
        'password="..."',
    ],
)
def test_not_secrets_are_left_alone(line: str) -> None:
    assert DEFAULT_REDACTOR.findings(line) == []
    assert redact(line) is line


# ----------------------------------------------------------------------------------- hidden characters


@pytest.mark.parametrize(
    "hidden",
    ["\x1b[0m", "\x1b[31;1m", "\x1b]8;;https://x\x07", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"],
)
def test_token_split_by_hidden_characters_is_caught(hidden: str) -> None:
    line = f"\x1b[32mtoken\x1b[0m {GHP[:9]}{hidden}{GHP[9:]} trailing \x1b[1mtext\x1b[0m"
    out = redact(line)
    assert GHP not in strip_hidden(out)
    assert GHP[9:] not in out and GHP[:9] not in out
    # everything around the token is kept, escapes inside it are re-emitted after the placeholder
    kept = hidden if hidden.startswith("\x1b") else ""
    assert out == f"\x1b[32mtoken\x1b[0m [REDACTED:github-token]{kept} trailing \x1b[1mtext\x1b[0m"


def test_hidden_characters_inside_a_key_name() -> None:
    out = redact("pass\u200bword=sup3rs3cret")
    assert out == "pass\u200bword=[REDACTED:password]"


def test_findings_are_positions_in_the_original() -> None:
    line = f"\x1b[1m{GHP[:5]}\x1b[0m{GHP[5:]}\x1b[0m!"
    [f] = DEFAULT_REDACTOR.findings(line)
    assert f == Finding("github-token", 4, 4 + 5 + 4 + len(GHP) - 5)
    assert line[f.end :] == "\x1b[0m!"


def test_text_view_maps_spans_back() -> None:
    tv = TextView("a\x1b[1mbc\u200bd")
    assert tv.view == "abcd"
    assert tv.span_to_original(1, 4) == (5, 9)
    assert tv.escapes_within(0, 9) == "\x1b[1m"


# --------------------------------------------------------------------------------------------- PEM


def _pem(label: str = "RSA PRIVATE KEY", prefix: str = "") -> list[str]:
    lines = [f"-----BEGIN {label}-----", *PEM_BODY, f"-----END {label}-----"]
    return [f"{prefix}{ln}\n" for ln in lines]


@pytest.mark.parametrize(
    "label",
    ["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY"],
)
def test_pem_block_whole_text(label: str) -> None:
    text = "before\n" + "".join(_pem(label)) + "after password-less\n"
    out = redact(text)
    assert out.splitlines() == [
        "before",
        f"-----BEGIN {label}-----",
        *["[REDACTED:private-key]"] * len(PEM_BODY),
        f"-----END {label}-----",
        "after password-less",
    ]
    for body in PEM_BODY:
        assert body not in out


def test_pem_block_line_by_line_matches_whole_text() -> None:
    lines = ["step 1\n", *_pem(prefix="2026-11-24T08:00:00.1234567Z "), "step 2\n"]
    streamed = list(DEFAULT_REDACTOR.redact_lines(lines))
    assert "".join(streamed) == redact("".join(lines))
    assert streamed[2] == "2026-11-24T08:00:00.1234567Z [REDACTED:private-key]\n"
    assert streamed[-1] == "step 2\n"
    # without line ends too
    bare = [ln.rstrip("\n") for ln in lines]
    assert [s.rstrip("\n") for s in streamed] == list(DEFAULT_REDACTOR.redact_lines(bare))


def test_pem_with_headers_and_crlf() -> None:
    text = (
        "-----BEGIN RSA PRIVATE KEY-----\r\nProc-Type: 4,ENCRYPTED\r\nDEK-Info: AES-128-CBC,00FF\r\n\r\n"
        + "\r\n".join(PEM_BODY)
        + "\r\n-----END RSA PRIVATE KEY-----\r\n"
    )
    out = redact(text)
    assert out.count("\r\n") == text.count("\r\n")
    assert not any(body in out for body in PEM_BODY)


def test_pem_on_one_line_with_escaped_newlines() -> None:
    body = "\\n".join(PEM_BODY)
    line = f'{{"private_key": "-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----\\n", "x": 1}}'
    out = redact(line)
    assert not any(b in out for b in PEM_BODY)
    # the JSON key "private_key" already marks the whole value; the merged finding keeps the specific kind
    assert out == '{"private_key": "[REDACTED:private-key]", "x": 1}'
    assert redact(f"key material: -----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----") == (
        "key material: -----BEGIN PRIVATE KEY-----[REDACTED:private-key]-----END PRIVATE KEY-----"
    )


# Issue 10 item 4: the key body reached a PR comment and cimedic.db when every line carried a prefix.
@pytest.mark.parametrize(
    "prefix",
    [
        "E   ",  # pytest's failure report
        "#12 0.345 ",  # BuildKit: step number and seconds, which change from line to line
        "+ ",  # a diff
        "+",
        "  | ",  # docker compose, tables
        "[stderr] ",
        "2026-11-24T08:00:00.1234567Z ",  # GitHub Actions raw log
        "2026-11-24 08:00:00,123 INFO ",  # Python logging
    ],
)
def test_pem_block_with_a_prefix_on_every_line(prefix: str) -> None:
    numbered = [
        prefix.replace("0.345", f"0.{300 + i}").replace(":00,123", f":{i:02d},{i}") + ln
        for i, ln in enumerate(["-----BEGIN PRIVATE KEY-----", *PEM_BODY, "-----END PRIVATE KEY-----"])
    ]
    text = "step\n" + "\n".join(numbered) + "\nnext step\n"
    out = redact(text)
    for body in PEM_BODY:
        assert body not in out
    out_lines = out.splitlines()
    assert out_lines[0] == "step" and out_lines[-1] == "next step"
    assert all(ln.endswith("[REDACTED:private-key]") for ln in out_lines[2:-2])
    assert out_lines[-2].endswith("-----END PRIVATE KEY-----")
    assert "".join(DEFAULT_REDACTOR.redact_lines(text.splitlines(keepends=True))) == out
    # the prefix stays: the reader sees which step printed a key
    assert out_lines[2] == numbered[1][: -len(PEM_BODY[0])] + "[REDACTED:private-key]"


def test_pem_body_prefix_is_the_lines_common_start_not_the_text_before_begin() -> None:
    text = (
        "E   ValueError: bad key -----BEGIN RSA PRIVATE KEY-----\n"
        + "".join(f"E   {b}\n" for b in PEM_BODY)
        + "E   -----END RSA PRIVATE KEY-----\n"
    )
    out = redact(text)
    assert not any(b in out for b in PEM_BODY)
    assert out.splitlines()[1] == "E   [REDACTED:private-key]"


def test_prefixed_truncated_pem_stops_at_the_first_prefixed_non_key_line() -> None:
    text = "[stderr] -----BEGIN PRIVATE KEY-----\n" + "".join(f"[stderr] {b}\n" for b in PEM_BODY[:2])
    text += "[stderr] Error: exit code 1\n"
    assert redact(text).splitlines()[-1] == "[stderr] Error: exit code 1"


def test_truncated_pem_stops_at_first_non_key_line() -> None:
    lines = [
        "-----BEGIN OPENSSH PRIVATE KEY-----\n",
        *(b + "\n" for b in PEM_BODY[:3]),
        "Error: exit code 1\n",
    ]
    out = list(DEFAULT_REDACTOR.redact_lines(lines))
    assert out[-1] == "Error: exit code 1\n"
    assert out[1:4] == ["[REDACTED:private-key]\n"] * 3
    assert "".join(out) == redact("".join(lines))


def test_pem_without_end_is_bounded() -> None:
    from agent.redaction.pem import MAX_BODY_LINES

    lines = ["-----BEGIN PRIVATE KEY-----\n"] + ["QUFBQUFB\n"] * (MAX_BODY_LINES + 10)
    out = redact("".join(lines)).splitlines()
    assert out.count("[REDACTED:private-key]") == MAX_BODY_LINES
    assert out[-1] == "QUFBQUFB"


def test_certificate_and_public_key_blocks_stay() -> None:
    text = "-----BEGIN CERTIFICATE-----\n" + "\n".join(PEM_BODY) + "\n-----END CERTIFICATE-----\n"
    assert redact(text) == text


# ------------------------------------------------------------------------------------------ declared


def test_declared_secret_plain_url_and_base64() -> None:
    secret = "Tr0ub4dor&3 horse/battery"
    r = Redactor([secret])
    assert r.redact(f"echo {secret}") == "echo [REDACTED:secret]"
    assert r.redact(f"GET /login?p={quote(secret, safe='')}") == "GET /login?p=[REDACTED:secret]"
    basic = base64.b64encode(f"admin:{secret}".encode()).decode()
    out = r.redact(f"Authorization: Basic {basic}")
    assert out.startswith("Authorization: Basic ")
    assert base64.b64encode(secret.encode()).decode()[:8] not in out


@pytest.mark.parametrize("prefix_len", range(6))
@pytest.mark.parametrize("suffix_len", range(4))
def test_declared_secret_base64_at_every_alignment(prefix_len: int, suffix_len: int) -> None:
    secret = "s3cr3t-V4lue!"
    blob = base64.b64encode(b"P" * prefix_len + secret.encode() + b"S" * suffix_len).decode()
    urlsafe = base64.urlsafe_b64encode(b"~" * prefix_len + secret.encode() + b"?" * suffix_len).decode()
    r = Redactor([secret])
    for encoded in (blob, urlsafe):
        out = r.redact(f"data: {encoded}")
        assert "[REDACTED:secret]" in out
        # what remains cannot be decoded back to the secret
        assert not any(form in out for form in base64_forms(secret))


def test_base64_forms_are_exact_cores() -> None:
    # "abc" -> YWJj; at offset 1 ("\0abc" -> AGFiYw) the chars whose bits all come from "abc" are "FiY",
    # at offset 2 ("\0\0abc" -> AABhYmM) "hYm" (the URL-safe alphabet changes nothing here)
    assert base64_forms("abc") == {"YWJj", "FiY", "hYm"}


def test_declared_secret_with_hidden_characters_inside() -> None:
    secret = "correct-horse-battery"
    r = Redactor([secret])
    out = r.redact(f"x={secret[:7]}\x1b[0m{secret[7:12]}\u200b{secret[12:]}!")
    assert out == "x=[REDACTED:secret]\x1b[0m!"


def test_multiline_declared_secret_keeps_line_count() -> None:
    secret = "line-one-secret\nline-two-secret"
    r = Redactor([secret])
    text = f"a\n{secret}\nb\n"
    out = r.redact(text)
    assert out == "a\n[REDACTED:secret]\n[REDACTED:secret]\nb\n"
    assert list(r.redact_lines(text.splitlines(keepends=True))) == out.splitlines(keepends=True)


def test_short_declared_values_are_ignored() -> None:
    r = Redactor(["ab", "", "xyz"])
    assert r.redact("ab xyz abc") == "ab xyz abc"
    assert variants("abc") == set()


def test_repr_and_findings_never_show_values() -> None:
    secret = fake("", 24)
    r = Redactor([secret])
    assert secret not in repr(r)
    assert repr(r) == "Redactor(<1 declared secrets>)"
    found = r.findings(f"value {secret}")
    assert found == [Finding("secret", 6, 6 + len(secret))]
    assert secret not in repr(found)


# --------------------------------------------------------------------------------------- invariants


def test_redaction_is_idempotent_on_every_family() -> None:
    text = "\n".join(_split(m)[0] for _, m, _ in FAMILIES) + "\n" + "".join(_pem())
    once = redact(text)
    assert redact(once) == once
    assert once.count("\n") == text.count("\n")


def test_line_breaks_of_all_kinds_are_kept() -> None:
    text = f"a {GHP}\rb password=abcdef\r\nc {GHP}\n"
    out = redact(text)
    assert out == "a [REDACTED:github-token]\rb password=[REDACTED:password]\r\nc [REDACTED:github-token]\n"


def test_overlapping_findings_are_merged_with_the_specific_kind() -> None:
    assert redact(f"token={GHP}") == "token=[REDACTED:github-token]"
    r = Redactor([GHP[4:20]])
    assert r.redact(f"x {GHP} y") == "x [REDACTED:github-token] y"


def test_text_without_secrets_is_returned_as_is() -> None:
    text = "plain\nlog\n"
    assert DEFAULT_REDACTOR.redact(text) is text


def test_declared_secret_right_after_a_broken_escape() -> None:
    # "ESC [ 3" is unfinished, so the view drops the secret's first letter as the escape's final byte; the
    # declared value is still found in the original text.
    r = Redactor(["Secret-Value-123"])
    assert r.redact("x \x1b[3Secret-Value-123 y") == "x \x1b[3[REDACTED:secret] y"


@pytest.mark.parametrize(
    "hostile",
    [
        "eyJ" * 100_000,
        'token="' * 50_000,
        "token=" * 50_000,
        "<password>" * 50_000,
        "ghp_" * 100_000,
        "://a:" * 100_000,
        "https://u:" + "p@" * 100_000,
        "Authorization: " * 50_000,
        "-----BEGIN PRIVATE KEY-----" * 20_000,
        "a" * 50 + "token" * 100_000,
        "-----BEGIN PRIVATE KEY-----\n" + "QUFB\n" * 100_000,
    ],
    ids=lambda s: repr(s[:12]),
)
def test_hostile_input_takes_linear_time(hostile: str) -> None:
    import time

    start = time.process_time()
    out = redact(hostile)
    elapsed = time.process_time() - start
    assert out.count("\n") == hostile.count("\n")
    # ~300-600 KB each; linear work is well under a second even on a loaded CI machine
    assert elapsed < 3.0, elapsed


def test_hex_keys_are_redacted_by_context_only() -> None:
    # A private key as bare hex cannot be told from a sha256 digest; its key name gives it away.
    hex_key = fake("", 64, "0123456789abcdef")
    assert redact(f"PRIVATE_KEY=0x{hex_key}") == "PRIVATE_KEY=[REDACTED:private-key]"
    assert redact(f"signing_key: {hex_key}") == "signing_key: [REDACTED:api-key]"
    assert redact(f"digest {hex_key}") == f"digest {hex_key}"
    assert redact(f"layer sha256:{hex_key} pushed") == f"layer sha256:{hex_key} pushed"


def test_default_redactor_declares_nothing() -> None:
    assert repr(DEFAULT_REDACTOR) == "Redactor(<0 declared secrets>)"
    assert redact("nothing to see") == "nothing to see"


def test_longer_future_github_tokens_are_still_caught() -> None:
    long_token = fake("ghs_", 300, _ALNUM + "_")
    assert redact(f"t={long_token} x") == "t=[REDACTED:github-token] x"


@pytest.mark.parametrize(
    "line",
    [
        "./scripts/deploy.sh: line 13: DEPLOY_TOKEN: unbound variable",
        "error: token: expired",
        "Login failed (password: incorrect)",
        "secret: not found in namespace default",
    ],
)
def test_colon_messages_about_a_key_are_not_secrets(line: str) -> None:
    assert redact(line) == line


def test_colon_values_that_look_generated_are_secrets() -> None:
    assert redact("password: hunter2") == "password: [REDACTED:password]"
    assert redact("api_key: abcdEFGHijkl") == "api_key: [REDACTED:api-key]"
    assert redact("POSTGRES_PASSWORD: 'postgres'") == "POSTGRES_PASSWORD: '[REDACTED:password]'"
    assert redact("PASSWORD=letmein") == "PASSWORD=[REDACTED:password]"


def test_positions_hold_with_non_ascii_text() -> None:
    # "İ".lower() is two code points; the lowercased copy used for keyword search must keep positions
    line = f"İİ é 日本 password=s3cr3t-v4lue İ {GHP} ✓"
    assert redact(line) == "İİ é 日本 password=[REDACTED:password] İ [REDACTED:github-token] ✓"


def test_declared_secret_inside_a_json_string() -> None:
    secret = 'pa"ss\\wörd-123'
    r = Redactor([secret])
    import json

    for dumped in (json.dumps({"v": secret}), json.dumps({"v": secret}, ensure_ascii=False)):
        assert r.redact(dumped) == '{"v": "[REDACTED:secret]"}'


@pytest.mark.parametrize(
    "prefix", ["xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "xoxe.xoxp-1-", "xoxe-1-"]
)
def test_every_slack_token_type(prefix: str) -> None:
    token = fake(prefix, 40, _ALNUM + "-")
    assert redact(f"SLACK_TOKEN={token} done") == "SLACK_TOKEN=[REDACTED:slack-token] done"


def test_several_secrets_on_one_line_keep_their_kinds() -> None:
    npm = fake("npm_", 36)
    line = f"{GHP} and https://u:pw12345@h/x and {npm} password=abc123"
    assert redact(line) == (
        "[REDACTED:github-token] and https://u:[REDACTED:url-password]@h/x and [REDACTED:npm-token]"
        " password=[REDACTED:password]"
    )
    assert [f.kind for f in DEFAULT_REDACTOR.findings(line)] == [
        "github-token",
        "url-password",
        "npm-token",
        "password",
    ]
