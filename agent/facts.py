"""Plain facts read off the log: failing step, exit code, failed tests, file:line locations, command."""

from __future__ import annotations

import re
from collections.abc import Iterable

from agent.models import Facts, Location
from agent.scan import StepMark

MAX_TESTS = 50
MAX_LOCATIONS = 20

# Test-id shapes of the runners we know, each documented by its tool's output format.
_FAILED_TEST = (
    re.compile(r"^(?:FAILED|ERROR) (?P<id>\S+::\S+)"),  # pytest short summary
    re.compile(r"^--- FAIL: (?P<id>\S+)"),  # go test -v
    re.compile(r"^\s*● (?P<id>.+?\s›\s.+)$"),  # jest
    re.compile(r"^rspec (?P<id>\./\S+:\d+)"),  # rspec failure list
    re.compile(r"^test (?P<id>\S+) \.\.\. FAILED$"),  # cargo test / libtest
    re.compile(r"^\d+\) (?P<id>[\w\\]+::\w+)"),  # PHPUnit
    re.compile(
        r"^\[ERROR\] (?P<id>[\w.$]+(?:\.\w+)?)(?:\(|:)\s*(?:[\w.$]+\))?.*?(?:FAILURE|ERROR)!?"
    ),  # Surefire
    re.compile(r"^\s*(?P<id>[\w.$]+\.\w+):\d+ .*(?:expected|Assertion)"),  # Surefire "Failed tests:" list
    re.compile(r"^not ok \d+ (?:- )?(?P<id>.+)$"),  # TAP
    re.compile(r"^FAIL (?P<id>\S+\.(?:js|ts|jsx|tsx|mjs|cjs))\b"),  # jest/vitest file
    re.compile(r"^(?P<id>\S+) FAILED(?: \[|$)"),  # Gradle: com.x.FooTest > bar FAILED
)

_PATH = r"(?P<path>(?:[A-Za-z]:)?[\w.@~+\-/\\]*[\w\-]\.[A-Za-z][\w]{0,5})"
_LOCATIONS = (
    re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+)'),  # Python traceback
    re.compile(_PATH + r"\((?P<line>\d+),(?P<col>\d+)\)"),  # tsc, MSBuild
    re.compile(r"-->\s+" + _PATH + r":(?P<line>\d+):(?P<col>\d+)"),  # rustc
    re.compile(r"(?<![\w/:.])" + _PATH + r":(?P<line>\d+)(?::(?P<col>\d+))?(?=[:\s,)]|$)"),
    re.compile(r"\[ERROR\] " + _PATH + r":\[(?P<line>\d+),(?P<col>\d+)\]"),  # javac via Maven
)
_VENDORED = re.compile(
    r"site-packages|dist-packages|node_modules|/usr/lib/|/usr/local/lib/"
    r"|\.cargo/registry|/go/pkg/mod/|<frozen "
)
_NOT_A_FILE = re.compile(r"^(?:https?|ftp|git|ssh)$|^\d+\.\d+")
_GITHUB_FILE = re.compile(r"file=(?P<path>[^,]+)(?:,line=(?P<line>\d+))?(?:,col=(?P<col>\d+))?")


def failed_tests(lines: Iterable[str]) -> list[str]:
    found: list[str] = []
    for text in lines:
        for pattern in _FAILED_TEST:
            m = pattern.match(text)
            if m:
                test_id = m.group("id").strip()
                if test_id not in found:
                    found.append(test_id)
                break
        if len(found) >= MAX_TESTS:
            break
    return found


def locations(lines: Iterable[tuple[str, str]]) -> list[Location]:
    """file:line places named by the lines; `lines` pairs each text with workflow-command params."""
    found: list[Location] = []
    seen: set[tuple[str, int | None]] = set()
    for text, params in lines:
        candidates: list[re.Match[str]] = []
        if params:
            gm = _GITHUB_FILE.search(params)
            if gm:
                candidates.append(gm)
        for pattern in _LOCATIONS:
            candidates.extend(pattern.finditer(text))
        for m in candidates:
            path = m.group("path").strip()
            if (
                _VENDORED.search(path)
                or _NOT_A_FILE.match(path)
                or "://" in text[max(m.start() - 8, 0) : m.start() + 3]
            ):
                continue
            line = int(m.group("line")) if m.groupdict().get("line") else None
            col = int(m.group("col")) if m.groupdict().get("col") else None
            key = (path, line)
            if key in seen:
                continue
            seen.add(key)
            found.append(Location(path=path, line=line, column=col, message=text.strip()[:300]))
            if len(found) >= MAX_LOCATIONS:
                return found
    return found


def command_of(step: StepMark | None, exit_mark: StepMark | None) -> str | None:
    if exit_mark is not None and exit_mark.name:
        return exit_mark.name
    if step is not None and step.name.startswith("Run "):
        return step.name[4:].strip() or None
    if step is not None and step.name and step.name not in ("step_script", "build_script"):
        return step.name
    return None


def build_facts(
    *,
    step: StepMark | None,
    exit_mark: StepMark | None,
    test_lines: Iterable[str],
    location_lines: Iterable[tuple[str, str]],
    last_command: str | None,
) -> Facts:
    name = step.name if step is not None else None
    if name and name.startswith("Run "):
        name = name[4:].strip()
    return Facts(
        step=name,
        exit_code=exit_mark.code if exit_mark is not None else None,
        failed_tests=failed_tests(test_lines),
        locations=locations(location_lines),
        command=command_of(step, exit_mark) or last_command,
    )
