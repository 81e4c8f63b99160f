"""Views of a Diagnosis: the terminal (`text`), a PR/MR comment body (`markdown`), and JSON; and the one
escaping policy every Markdown surface uses (PR/MR comments, check-run summaries, job summaries).

Text that came from a log (or from a model that read it) is untrusted. In Markdown it goes either inside
code spans or fenced blocks whose fence is longer than any backtick run in it (`code_span`, `code_block`),
or through `inline_md`, which flattens it to one line, defuses `@` (GitHub notifies on `@user` anywhere
outside code), escapes `<` and `>` (no HTML: images, links, details) and backslash-escapes the characters
that start Markdown structure (links, emphasis, tables, headings).
"""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.text import Text

from agent.models import Category, Diagnosis, Fix, LogLine

MARKDOWN_LIMIT = 65_000  # GitHub rejects comment bodies over 65,536 characters
LineUrl = Callable[[int], str]
"""Where line `n` of the log is on the web (CI systems anchor lines differently)."""
_BACKTICKS = re.compile(r"`+")
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#])")
_CATEGORY_STYLE = {
    "test": "yellow",
    "build": "red",
    "lint": "magenta",
    "dependency": "cyan",
    "network": "blue",
    "infrastructure": "bright_red",
    "configuration": "bright_yellow",
    "deployment": "bright_magenta",
    "unknown": "white",
}


# Below this calibrated confidence a diagnosis leads with its failing lines and says "category uncertain"
# instead of headlining a guessed title (issue 14). Chosen from leave-one-fold-out reliability: answers
# below it were right 3 times in 4, those above 9 times in 10 (docs/benchmarks.md, "Category confidence,
# uncertain diagnoses, seen before"). JSON keeps the category and the confidence either way.
UNCERTAIN_BELOW = 0.8
UNCERTAIN = "category uncertain"


def category_uncertain(diagnosis: Diagnosis) -> bool:
    """Whether the category (and the title a rule gave) is too weak a guess to lead with: `unknown`, or a
    calibrated confidence under UNCERTAIN_BELOW. Only when there are failing lines to lead with instead."""
    d = diagnosis
    return bool(d.focus) and (d.category is Category.UNKNOWN or d.confidence < UNCERTAIN_BELOW)


def to_json(diagnoses: Sequence[Diagnosis], *, lines: bool) -> str:
    """`lines=True`: one object per line (jsonl); else one object, or an array for several logs."""
    if lines:
        return "".join(json.dumps(d.to_json_dict(), ensure_ascii=False) + "\n" for d in diagnoses)
    if len(diagnoses) == 1:
        return json.dumps(diagnoses[0].to_json_dict(), ensure_ascii=False, indent=2) + "\n"
    return json.dumps([d.to_json_dict() for d in diagnoses], ensure_ascii=False, indent=2) + "\n"


# -- terminal ----------------------------------------------------------------------------------------


def render_text(diagnosis: Diagnosis, console: Console) -> None:
    d = diagnosis
    style = _CATEGORY_STYLE.get(d.category.value, "white")
    console.print(Text(d.source, style="bold underline"))
    uncertain = category_uncertain(d)
    if uncertain:
        # The lines are what is known; the category and its title are a guess, said as one.
        console.print(Text(f" {UNCERTAIN} ", style="bold reverse white") + Text(" the failing lines:"))
        width = len(str(max(f.line for f in d.focus)))
        for item in d.focus:
            row = Text(f"›{item.line:>{width}} │ ", style="bold red")
            row.append(item.text)
            console.print(row, soft_wrap=True)
        guess = f"best guess: {d.category.value}, {d.title}" if d.category is not Category.UNKNOWN else ""
        meta = f"{guess}   confidence {d.confidence:.2f}   rule {d.rule or '-'}   fingerprint {d.fingerprint}"
        console.print(Text(meta.strip(), style="dim"))
    else:
        header = Text()
        header.append(f" {d.category.value} ", style=f"bold reverse {style}")
        header.append(" ")
        header.append(d.title, style="bold")
        console.print(header)
        meta = f"confidence {d.confidence:.2f}   rule {d.rule or '-'}   fingerprint {d.fingerprint}"
        console.print(Text(meta, style="dim"))
    facts = d.facts
    bits = []
    if facts.step:
        bits.append(f"step: {facts.step}")
    if facts.command and facts.command != facts.step:
        bits.append(f"command: {facts.command}")
    if facts.exit_code is not None:
        bits.append(f"exit code: {facts.exit_code}")
    if bits:
        console.print(Text("   ".join(bits), style="dim"))
    if facts.failed_tests:
        console.print(Text("failed tests: " + ", ".join(facts.failed_tests[:10]), style="yellow"))
    if facts.locations:
        where = ", ".join(f"{loc.path}:{loc.line}" if loc.line else loc.path for loc in facts.locations[:5])
        console.print(Text("at: " + where, style="cyan"))
    if d.excerpt:
        focus = {f.line for f in d.focus}
        width = len(str(d.excerpt[-1].line))
        console.print()
        for item in d.excerpt:
            mark = "›" if item.line in focus else " "
            row = Text(f"{mark}{item.line:>{width}} │ ", style="bold red" if item.line in focus else "dim")
            row.append(item.text, style="bold" if item.line in focus else "")
            console.print(row, soft_wrap=True)
    rem = d.remediation
    if rem.explanation or rem.steps or rem.commands:
        console.print()
        heading = f"What to do, if it is {d.category.value}" if uncertain else "What to do"
        console.print(Text(heading, style="bold green"))
        if rem.explanation:
            console.print(Text(rem.explanation))
        for step in rem.steps:
            console.print(Text(f"  • {step}"))
        for command in rem.commands:
            console.print(Text(f"  $ {command}", style="green"))
        for link in rem.docs:
            console.print(Text(f"  ↗ {link}", style="blue"))
    if d.similar:
        console.print()
        console.print(Text("Seen before", style="bold cyan"))
        for s in d.similar:
            kind = "same failure" if s.exact else f"similar ({s.similarity:.2f})"
            where = s.source or s.repo or "?"
            line = f"  • {kind}: {s.title} — {seen_times(s.occurrences, s.last_seen)} ({where})"
            console.print(Text(line))
            if s.resolution:
                console.print(Text(f"    fixed by: {s.resolution}", style="green"))
    if d.llm is not None:
        console.print()
        tag = "" if d.llm.verified else " (unverified)"
        console.print(Text(f"Root cause by {d.llm.model}{tag}", style="bold magenta"))
        console.print(Text(f"  {d.llm.summary}"))
        console.print(Text(f"  {d.llm.root_cause}", style="dim"))
        if d.llm.fix:
            console.print(Text(f"  fix: {d.llm.fix}", style="green"))
    if d.fix is not None:
        console.print()
        console.print(Text(f"Suggested patch ({fix_origin(d.fix)}): {d.fix.title}", style="bold green"))
        for patch_line in d.fix.patch.splitlines():
            style = "green" if patch_line.startswith("+") else "red" if patch_line.startswith("-") else "dim"
            console.print(Text(f"  {patch_line}", style=style), soft_wrap=True)
    for note in d.fix_notes:
        console.print(Text(f"note: {note}", style="yellow"))
    for note in d.notes:
        console.print(Text(f"note: {note}", style="yellow"))
    console.print()


# -- markdown ----------------------------------------------------------------------------------------


def _defuse(text: str) -> str:
    return _MENTION.sub("@\u200b", text)


def inline_md(text: str, limit: int = 200) -> str:
    """Untrusted text for use outside code: one line, no mentions, no HTML, no Markdown structure."""
    text = " ".join(text.split())[:limit]
    text = text.replace("@", "@\u200b").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def fence_for(lines: Sequence[str]) -> str:
    """A code fence longer than any backtick run in `lines` (CommonMark 4.5), at least three."""
    longest = max((len(m.group(0)) for line in lines for m in _BACKTICKS.finditer(line)), default=0)
    return "`" * max(3, longest + 1)


def code_span(text: str) -> str:
    """Inline code that no backtick run in `text` can close early (CommonMark 6.1)."""
    longest = max((len(m.group(0)) for m in _BACKTICKS.finditer(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def fix_origin(fix: Fix) -> str:
    """Who suggested a fix, in a few words."""
    if fix.source == "rule":
        return f"the build's own tool: {', '.join(fix.rules)}"
    return f"the LLM: {', '.join(fix.rules) or 'unnamed model'}"


def fix_details(fix: Fix) -> list[str]:
    """A validated fix as a collapsed diff (Markdown lines). The fence outruns every backtick run in the
    patch, so no line of it can close the block early and reach the Markdown around it."""
    rows = fix.patch.splitlines()
    summary = (
        f"Suggested patch: {inline_md(fix.title, 200)} (from {inline_md(fix_origin(fix), 120)}; "
        "checked: it applies to the failing commit)"
    )
    fence = fence_for(rows)
    return ["<details><summary>" + summary + "</summary>", "", fence + "diff", *rows, fence, "", "</details>"]


def code_block(lines: Sequence[str], info: str = "text") -> str:
    fence = fence_for(lines)
    return f"{fence}{info}\n" + "\n".join(lines) + f"\n{fence}"


def seen_times(occurrences: int, last_seen: str | None) -> str:
    """'seen 3 times, last 2026-12-05 08:54 UTC' (recorded times are ISO 8601 UTC: knowledge/text.py)."""
    times = "once" if occurrences == 1 else f"{occurrences} times"
    if not last_seen:
        return f"seen {times}"
    when = last_seen.replace("T", " ").removesuffix("Z")[:16]
    return f"seen {times}, last {when} UTC" if last_seen.endswith("Z") else f"seen {times}, last {last_seen}"


def anchor_lines(log_url: str) -> LineUrl:
    """`#L<n>` line anchors on `log_url` (GitLab job pages and most log viewers)."""
    return lambda n: f"{log_url}#L{n}"


def _line_ref(line: int, line_url: LineUrl | None) -> str:
    return f"[line {line}]({line_url(line)})" if line_url else f"line {line}"


def _numbered(items: Sequence[LogLine], focus: set[int]) -> list[str]:
    width = len(str(items[-1].line)) if items else 1
    return [f"{'>' if i.line in focus else ' '}{i.line:>{width}} | {i.text}" for i in items]


def excerpt_block(items: Sequence[LogLine], focus: set[int], line_url: LineUrl | None = None) -> str:
    """Numbered log lines, focus lines marked `>`; with `line_url`, each line number links to the log.

    A fenced code block cannot hold links, so the linked form is an HTML `<pre>` block: CommonMark reads it
    as raw HTML up to the line holding `</pre>`, blank lines included, and never as Markdown (spec 0.31,
    4.6 "HTML blocks", start condition 1), and GitHub keeps `<pre>` and `<a href>` through its sanitizer.
    The log text is HTML-escaped, so it can neither close the block nor add tags, and `@` is defused.
    """
    if line_url is None:
        return code_block(_numbered(items, focus))
    width = len(str(items[-1].line)) if items else 1
    rows = [
        f"{'&gt;' if i.line in focus else ' '}"
        f'<a href="{html.escape(line_url(i.line))}">{i.line:>{width}}</a> | '
        + html.escape(_defuse(i.text), quote=False)
        for i in items
    ]
    return "<pre>" + "\n".join(rows) + "</pre>"


def render_markdown(
    diagnosis: Diagnosis,
    *,
    log_url: str | None = None,
    line_url: LineUrl | None = None,
    heading: str = "###",
) -> str:
    """The body of a PR/MR comment for one diagnosis, under MARKDOWN_LIMIT characters.

    Line numbers link to `line_url(n)`, or to `log_url#L<n>` when only `log_url` is given.
    """
    d = diagnosis
    if line_url is None and log_url:
        line_url = anchor_lines(log_url)
    uncertain = category_uncertain(d)
    focus_quotes = [
        f"> {_line_ref(item.line, line_url)}: {code_span(item.text.strip()[:300])}" for item in d.focus
    ]
    if uncertain:
        out = [f"{heading} ❔ Category uncertain: the failing lines", "", *focus_quotes, ""]
        guess = (
            "**Category:** `unknown`"
            if d.category is Category.UNKNOWN
            else f"**Best guess:** `{d.category.value}`, {code_span(d.title)}"
        )
        meta = [guess, f"**Confidence:** {d.confidence:.2f}"]
    else:
        out = [f"{heading} ❌ {code_span(d.title)}", ""]
        meta = [f"**Category:** `{d.category.value}`", f"**Confidence:** {d.confidence:.2f}"]
    if d.rule:
        meta.append(f"**Rule:** `{d.rule}`")
    meta.append(f"**Fingerprint:** `{d.fingerprint}`")
    if d.verdict is not None:
        meta.insert(0, f"**Verdict:** `{d.verdict.kind}`")
    out += [" · ".join(meta), ""]
    facts = []
    if d.facts.step:
        facts.append(f"- Failing step: {code_span(d.facts.step)}")
    if d.facts.command and d.facts.command != d.facts.step:
        facts.append(f"- Command: {code_span(d.facts.command)}")
    if d.facts.exit_code is not None:
        facts.append(f"- Exit code: `{d.facts.exit_code}`")
    if d.facts.failed_tests:
        facts.append("- Failed tests: " + ", ".join(code_span(t) for t in d.facts.failed_tests[:10]))
    if facts:
        out += [*facts, ""]
    if focus_quotes and not uncertain:
        out += [*focus_quotes, ""]
    if d.excerpt:
        first, last = d.excerpt[0].line, d.excerpt[-1].line
        out += [
            f"<details><summary>Log excerpt, lines {first}–{last}</summary>",
            "",
            excerpt_block(d.excerpt, {f.line for f in d.focus}, line_url),
            "",
            "</details>",
            "",
        ]
    rem = d.remediation
    if rem.explanation or rem.steps or rem.commands:
        out.append(f"**What to do, if it is `{d.category.value}`**" if uncertain else "**What to do**")
        out.append("")
        if rem.explanation:
            out += [_defuse(rem.explanation), ""]
        out += [f"- {_defuse(step)}" for step in rem.steps]
        if rem.commands:
            out += ["", code_block(rem.commands, "sh")]
        if rem.docs:
            out += ["", "Docs: " + ", ".join(f"<{link}>" for link in rem.docs)]
        out.append("")
    if d.similar:
        out += ["**Seen before**", ""]
        for s in d.similar:
            kind = "same failure" if s.exact else f"similar ({s.similarity:.2f})"
            fix = f" — fixed by {code_span(s.resolution)}" if s.resolution else ""
            where = f" in `{s.repo}`" if s.repo else ""
            out.append(
                f"- {kind}{where}: {code_span(s.title)}, {seen_times(s.occurrences, s.last_seen)}{fix}"
            )
        out.append("")
    if d.llm is not None:
        tag = "" if d.llm.verified else " (unverified: evidence did not check out)"
        out += [
            f"**Root cause** ({inline_md(d.llm.model, 60)}{tag})",
            "",
            inline_md(d.llm.summary, 800),
            "",
            inline_md(d.llm.root_cause, 800),
            "",
        ]
        if d.llm.fix:
            out += [f"**Fix:** {inline_md(d.llm.fix, 800)}", ""]
    if d.fix is not None:
        out += [*fix_details(d.fix), ""]
    if d.notes:
        out += ["**Notes**", "", *(f"- {inline_md(n, 300)}" for n in d.notes), ""]
    body = "\n".join(out).rstrip() + "\n"
    if len(body) > MARKDOWN_LIMIT and len(d.excerpt) > 10:
        # Keep the focus and the lines around it; say what was cut.
        keep = {f.line for f in d.focus}
        trimmed = [x for x in d.excerpt if any(abs(x.line - k) <= 5 for k in keep)] or d.excerpt[:10]
        shorter = d.model_copy(update={"excerpt": [LogLine(line=x.line, text=x.text[:500]) for x in trimmed]})
        return render_markdown(shorter, line_url=line_url, heading=heading)
    if len(body) > MARKDOWN_LIMIT:
        body = body[: MARKDOWN_LIMIT - 40] + "\n\n… (cut to fit a comment)\n"
    return body


def render_text_to_string(diagnosis: Diagnosis, *, color: bool = False, width: int = 120) -> str:
    console = Console(
        record=True, width=width, color_system="standard" if color else None, file=io.StringIO()
    )
    render_text(diagnosis, console)
    return console.export_text(styles=color)
