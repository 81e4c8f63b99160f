"""The model's answer is untrusted data too: make it safe to post before any action sees it.

A log can carry instructions aimed at the model (prompt injection); whatever the model does with them, its
output passes through here. Rules (issue 4; OWASP LLM05 "Improper Output Handling",
https://genai.owasp.org/llmrisk/llm052025-improper-output-handling/):
- no raw HTML: tags and comments are removed and a leftover `<` cannot open one (GitHub renders a subset
  of HTML in comments, https://docs.github.com/en/get-started/writing-on-github);
- no images (markdown or HTML: an image URL is a tracking beacon / exfiltration channel);
- no @-mentions (they notify people; GitHub/GitLab `@user`, `@org/team`, Slack `<@U123>` / `<!channel>`):
  the `@` becomes a full-width `＠`, which reads the same and notifies nobody;
- links only to hosts on the allow-list (markdown links keep their text, bare URLs are replaced);
- a patch is dropped when it touches a protected path (CI definitions, CODEOWNERS, ...), escapes the
  repository (absolute paths, `..`), or is not a unified diff; one that passes is still only a candidate,
  kept by the pipeline only once it parses strictly and applies to the files at the failing commit
  (`agent.fixes.suggest`, docs/fixes.md);
- commands that fetch and run code, escalate privileges or destroy data are dropped; all are shown, never run.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from agent.llm.prompt import clean_text

MAX_SUMMARY = 300
MAX_TEXT = 2000
MAX_PATCH = 20000
MAX_COMMANDS = 8
MAX_COMMAND = 300

_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<[!?@#][^<>]*>")
_TAG_START = re.compile(r"<(?=[A-Za-z!?/@#])")
_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)|!\[[^\]\n]*\]\[[^\]\n]*\]")
_MD_LINK = re.compile(r"\[([^\]\n]*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"\n]*\")?\s*\)")
_MD_REF_DEF = re.compile(r"^\s{0,3}\[[^\]\n]+\]:\s*\S+.*$", re.M)
_URL = re.compile(r"(?:[a-z][a-z0-9+.-]*://|www\.)[^\s<>\"'`)\]]+", re.I)
_MENTION = re.compile(r"(?<![\w@/.+-])@(?=[A-Za-z0-9_])")
_FENCE = re.compile(r"^\s*(```|~~~)", re.M)

# Commands that download and execute, escalate, exfiltrate or destroy. Advisory output must never
# normalise them, whatever the log asked for.
_DANGEROUS = re.compile(
    r"\|\s*(?:sudo\s+)?(?:ba|z|da|k|c|tc|fi)?sh\b"
    r"|\|\s*(?:python[0-9.]*|perl|ruby|node|php)\b"
    r"|\b(?:curl|wget|iwr|invoke-webrequest)\b.*\|"
    r"|\bbase64\s+(?:-d|--decode)\b"
    r"|\beval\b|\bsudo\b|\bsu\s|\bchmod\s+(?:-R\s+)?[0-7]*7[0-7]*\s+/"
    r"|\brm\s+-[a-z]*r[a-z]*f?\s+(?:/|~|\$HOME|\*)"
    r"|\bmkfs\b|\bdd\s+if=|:\(\)\s*\{"
    r"|\bgit\s+push\b|\bgh\s+(?:secret|auth|api)\b|\bnpm\s+publish\b|\btwine\s+upload\b"
    r"|\benv\b\s*$|\bprintenv\b|\$\{?\w*(?:TOKEN|SECRET|PASSWORD|KEY)\w*\}?"
    r"|>\s*/dev/(?:tcp|udp)/|\bnc\s+-e\b",
    re.I,
)


@dataclass
class SanitizeReport:
    """What was removed, for the audit trail and the tests."""

    removed: list[str] = field(default_factory=list)

    def note(self, what: str) -> None:
        if what not in self.removed:
            self.removed.append(what)


def host_allowed(url: str, allowlist: Sequence[str]) -> bool:
    if url.lower().startswith("www."):
        url = "https://" + url
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme.lower() != "https" or not parts.hostname or parts.username or parts.password:
        return False
    host = parts.hostname.lower().rstrip(".")
    return any(host == h or host.endswith("." + h) for h in (a.lower() for a in allowlist))


def clean_markdown(text: str, *, allowlist: Sequence[str], limit: int, report: SanitizeReport) -> str:
    """Plain, safe text: no HTML, images, mentions or links off the allow-list; at most `limit` chars."""
    lines = [clean_text(x) for x in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    out = "\n".join(lines)
    if _HTML_COMMENT.search(out):
        out = _HTML_COMMENT.sub("", out)
        report.note("html-comment")
    if _MD_IMAGE.search(out):
        out = _MD_IMAGE.sub("", out)
        report.note("image")
    if _HTML_TAG.search(out):
        out = _HTML_TAG.sub("", out)
        report.note("html")
    if _MD_REF_DEF.search(out):
        out = _MD_REF_DEF.sub("", out)
        report.note("link")

    def _link(m: re.Match[str]) -> str:
        if host_allowed(m.group(2), allowlist):
            return m.group(0)
        report.note("link")
        return m.group(1)

    out = _MD_LINK.sub(_link, out)

    def _bare(m: re.Match[str]) -> str:
        url = m.group(0).rstrip(".,;:!?")
        tail = m.group(0)[len(url) :]
        if host_allowed(url, allowlist):
            return m.group(0)
        report.note("link")
        return "[link removed]" + tail

    # Bare URLs outside markdown links (links kept above are re-checked, which is harmless: they pass).
    out = _URL.sub(_bare, out)
    if _MENTION.search(out):
        out = _MENTION.sub("＠", out)
        report.note("mention")
    # Last, because removing a link or tag can put a `<` next to a letter again ("<[a](x)" -> "<a"):
    # an unterminated tag, e.g. "<img src=x onerror=...", cannot open.
    if _TAG_START.search(out):
        out = _TAG_START.sub("‹", out)
        report.note("html")
        # The `‹` can join what the `<` kept apart into a URL again ("https://<evil.example").
        out = _URL.sub(_bare, out)
    out = re.sub(r"[ \t]+\n", "\n", out).strip()
    if len(out) > limit:
        out = out[: limit - 1].rstrip() + "…"
        report.note("truncated")
    return out


def _patch_paths(patch: str) -> list[str] | None:
    """Every path a unified diff names, or None when it is not a unified diff with a hunk."""
    paths: list[str] = []
    hunks = 0
    for line in patch.splitlines():
        if line.startswith(("--- ", "+++ ")):
            path = line[4:].split("\t", 1)[0].strip()
            if path != "/dev/null":
                paths.append(path)
        elif line.startswith("diff --git "):
            paths += line[len("diff --git ") :].split()
        elif line.startswith(("rename from ", "rename to ", "copy from ", "copy to ")):
            paths.append(line.split(" ", 2)[2].strip())
        elif line.startswith("@@"):
            hunks += 1
    if not paths or not hunks:
        return None
    return paths


def _normalize_path(path: str) -> str | None:
    """Repository-relative path with git's a/ b/ prefixes removed; None when it escapes the repository."""
    path = path.strip().strip('"')
    if path.startswith(("a/", "b/")):
        path = path[2:]
    if "\\" in path or path.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", path):
        return None
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    return "/".join(parts)


def protected(path: str, patterns: Sequence[str]) -> bool:
    """Case-insensitive (macOS and Windows file systems are); `dir/*` covers everything below `dir`."""
    low = path.lower()
    return any(fnmatch.fnmatchcase(low, p.lower()) or low == p.lower().rstrip("/*") for p in patterns)


def clean_patch(patch: str, *, protected_paths: Sequence[str], report: SanitizeReport) -> str | None:
    patch = "\n".join(clean_text(x) for x in patch.replace("\r\n", "\n").split("\n")).strip("\n")
    if not patch.strip():
        return None
    if len(patch) > MAX_PATCH:
        report.note("patch-too-long")
        return None
    paths = _patch_paths(patch)
    if paths is None:
        report.note("patch-invalid")
        return None
    for raw in paths:
        path = _normalize_path(raw)
        if path is None:
            report.note("patch-outside-repo")
            return None
        if protected(path, protected_paths):
            report.note("patch-protected-path")
            return None
    return patch + "\n"


def clean_commands(commands: Sequence[str], *, allowlist: Sequence[str], report: SanitizeReport) -> list[str]:
    kept: list[str] = []
    for raw in commands:
        cmd = clean_text(raw.replace("\n", " ")).strip()
        if not cmd:
            continue
        if len(cmd) > MAX_COMMAND or _FENCE.search(cmd) or cmd.count("`") % 2:
            report.note("command-dropped")
            continue
        if _DANGEROUS.search(cmd):
            report.note("command-dangerous")
            continue
        urls = [u.group(0) for u in _URL.finditer(cmd)]
        if any(not host_allowed(u, allowlist) for u in urls):
            report.note("command-link")
            continue
        if _MENTION.search(cmd) or _TAG_START.search(cmd):
            report.note("command-dropped")
            continue
        if cmd not in kept:
            kept.append(cmd)
        if len(kept) == MAX_COMMANDS:
            break
    return kept
