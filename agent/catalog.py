"""The ordered rule catalog: load the rules (data in `agent/rules/*.yaml`), match log lines, classify.

A rule names one known failure signature: its patterns are Python regular expressions tried against ONE
normalized log line (ANSI, CI timestamps and markup already removed by `agent.logtext`). The catalog is
ordered: rules files are sorted by their `order:` field, rules keep their order inside a file, and
`match_line` returns the first rule that matches. Specific rules come first and generic ones last, the way
PyTorch's test-infra log classifier orders its rules (rules first, the LLM refines later).

Speed matters because `match_line` is called on many candidate lines: every pattern is also compiled into
one combined alternation, so a line that matches no rule costs one regex search
(https://docs.python.org/3/library/re.html#regular-expression-syntax, `|` alternation). Only a line that
matches something is tried rule by rule, to honour catalog order.

`classify` picks the best hit over the focus and excerpt lines. When no rule matches it falls back to
keyword scoring per category (data in `agent/rules/category_keywords.yaml`), and else answers `unknown`.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from agent.errors import CimedicError
from agent.models import Category, LogLine, Remediation
from agent.shapes import DigitGate

RULES_PACKAGE = "agent"
RULES_DIR = "rules"
KEYWORDS_FILE = "category_keywords.yaml"
MAX_TITLE = 200
DEFAULT_SPECIFICITY = 0.8

# `{name}` placeholders in titles and remediation text; `{{` and `}}` stand for literal braces.
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
# A named group in a pattern; turned into a plain group inside the combined prefilter regex, because the
# same group name may appear in many rules and Python forbids duplicate names in one expression.
_NAMED_GROUP = re.compile(r"(?<!\\)\(\?P<[A-Za-z_][A-Za-z0-9_]*>")
_BACKREF = re.compile(r"\(\?P=")
_LEADING_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")
_ID = re.compile(r"^[a-z0-9]+(?:[.-][a-z0-9]+)+$")
_RULE_KEYS = {
    "id",
    "category",
    "patterns",
    "title",
    "explanation",
    "remediation",
    "docs",
    "specificity",
    "examples",
    "negatives",
    "details",
    "exit_cause",
}


# libyaml's parser when PyYAML was built with it: the same documents, read about ten times faster, which is
# most of the catalog's load time at every CLI start (https://pyyaml.org/wiki/PyYAMLDocumentation).
YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """`yaml.safe_load` with libyaml when available."""
    return yaml.load(text, Loader=YAML_LOADER)


class CatalogError(CimedicError, ValueError):
    """A rules file is malformed; the message names the file and the rule."""


@dataclass(frozen=True)
class Rule:
    """One known failure signature and what to do about it."""

    id: str
    category: Category
    patterns: tuple[re.Pattern[str], ...]
    title: str | None
    explanation: str
    remediation_steps: tuple[str, ...]
    remediation_commands: tuple[str, ...]
    docs: tuple[str, ...]
    specificity: float  # 0..1: how sure a match is; generic rules are low
    examples: tuple[str, ...] = ()
    negatives: tuple[str, ...] = ()
    source: str = ""  # the rules file it came from
    # Patterns tried on the other lines of the failure's excerpt for values the matched line does not name
    # (pip names the conflicting package two lines under its `Cannot install` line).
    details: tuple[re.Pattern[str], ...] = ()
    # The rule reads the cause off an exit report (exit code 137, `make: *** [test] Segmentation fault`):
    # on such a line it says more than "the command failed".
    exit_cause: bool = False

    @property
    def group_names(self) -> frozenset[str]:
        return frozenset(name for p in (*self.patterns, *self.details) for name in p.groupindex)

    def search(self, text: str) -> re.Match[str] | None:
        for pattern in self.patterns:
            m = pattern.search(text)
            if m is not None:
                return m
        return None


def _render(template: str, captures: Mapping[str, str], known: frozenset[str]) -> tuple[str, bool]:
    """Fill `{name}` placeholders from captures. Returns the text and whether every placeholder was filled.

    Only names that are groups of the rule are placeholders, so shell text such as `${HOME}` passes through.
    """
    complete = True

    def sub(m: re.Match[str]) -> str:
        nonlocal complete
        whole = m.group(0)
        if whole == "{{":
            return "{"
        if whole == "}}":
            return "}"
        name = m.group(1)
        if name not in known:
            return whole
        value = captures.get(name)
        if value is None or not value.strip():
            complete = False
            return f"<{name}>"
        return value.strip()

    return _PLACEHOLDER.sub(sub, template), complete


def _one_line(text: str, limit: int = MAX_TITLE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class RuleHit:
    """A rule that matched one log line, with the pattern's named captures."""

    rule: Rule
    line: LogLine
    captures: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def title(self) -> str:
        """The rendered title template; the matched line itself when there is no template or a capture
        the template needs is missing."""
        if self.rule.title:
            text, complete = _render(self.rule.title, self.captures, self.rule.group_names)
            if complete and text.strip():
                return _one_line(text)
        return _one_line(self.line.text.strip()) or self.rule.id

    def remediation(self) -> Remediation:
        known = self.rule.group_names
        return Remediation(
            explanation=_render(self.rule.explanation, self.captures, known)[0] or None,
            steps=[_render(s, self.captures, known)[0] for s in self.rule.remediation_steps],
            # A command is there to be copied and run: one whose value the log did not give
            # (`python -m unittest <case>`, which a shell reads as a redirection) is left out; the steps
            # still say what to do.
            commands=[
                text
                for text, complete in (
                    _render(c, self.captures, known) for c in self.rule.remediation_commands
                )
                if complete
            ],
            docs=list(self.rule.docs),
        )


@dataclass(frozen=True)
class Classification:
    category: Category
    confidence: float
    hit: RuleHit | None


@dataclass(frozen=True)
class KeywordSet:
    """Weighted patterns per category: the fallback when no rule matches."""

    weights: Mapping[Category, tuple[tuple[re.Pattern[str], float], ...]]
    threshold: float = 1.0
    # Patterns on the failing command (`rubocop`, `npm ci`, `cargo test`): what kind of step failed. Only the
    # best-weighted match per category counts, so a long script line naming many tools is not louder.
    commands: Mapping[Category, tuple[tuple[re.Pattern[str], float], ...]] = field(default_factory=dict)
    # Lines that only point at errors told elsewhere (npm's `Test failed.  See above for more details.`):
    # they name no kind of failure, so neither rules nor words read them.
    pointers: tuple[re.Pattern[str], ...] = ()

    def points_elsewhere(self, text: str) -> bool:
        return any(p.search(text) for p in self.pointers)

    def score(self, lines: Iterable[tuple[str, float]]) -> dict[Category, float]:
        scores: dict[Category, float] = {}
        for text, line_weight in lines:
            for category, pairs in self.weights.items():
                for pattern, weight in pairs:
                    if pattern.search(text):
                        scores[category] = scores.get(category, 0.0) + weight * line_weight
        return scores

    def score_command(self, command: str) -> dict[Category, float]:
        scores: dict[Category, float] = {}
        for category, pairs in self.commands.items():
            best = max((weight for pattern, weight in pairs if pattern.search(command)), default=0.0)
            if best > 0:
                scores[category] = best
        return scores


# How much a hit on a focus line counts against one on another excerpt line.
FOCUS_WEIGHT = 1.0
EXCERPT_WEIGHT = 0.85
# A failure often reports another kind of error from inside the step that failed: a test that could not
# reach a service, a link checker whose requests timed out. categories.md counts "an exception inside a
# test" as a test failure and link/quality checks as lint, so when a rule of the enclosing kind matched
# EARLIER in the chunk (the step announces itself first), the enclosing kind is the primary cause.
ENCLOSING: Mapping[Category, frozenset[Category]] = {
    Category.TEST: frozenset({Category.NETWORK, Category.CONFIGURATION, Category.DEPENDENCY}),
    Category.LINT: frozenset({Category.NETWORK}),
}
# A failure of the category on the left is one of the right-hand category when a line of that kind stands in
# its excerpt: a dependency that could not be fetched because the registry answered 502 or the connection
# dropped is a network failure (categories.md: "HTTP 5xx or 429 from a registry" is network), whichever line
# leads (Gradle's `Could not resolve all files` stands four levels above its `Could not GET ... 502`).
CAUSED_BY: Mapping[Category, frozenset[Category]] = {Category.DEPENDENCY: frozenset({Category.NETWORK})}
CONTEXT_MIN = 0.6
# A build that fails in a dependency's own source, where the package manager unpacked it, failed on a package
# that needs a newer toolchain or broke in its release (categories.md: "a package needing a newer runtime, a
# broken upstream release" is dependency): cargo's registry (`--> ~/.cargo/registry/src/.../lib.rs:147:45`),
# node_modules, Python's site-packages, Bundler's vendor/bundle and gem directories, Go's module cache, the
# local Maven repository, CocoaPods' Pods and Carthage's checkouts. The first compiler location (file, line
# and column: an interpreter's stack frames name no column, and their outermost frame is the runner's own)
# decides: a project's own error that mentions a package further down stays build.
SOURCE_LOCATION = re.compile(r"(?:[A-Za-z]:)?[\w.@~+\\/-]*[\\/][\w.@+-]+\.[A-Za-z]\w{0,5}[:(]\d+[:,]\d+")
PACKAGE_DIRECTORY = re.compile(
    r"[\\/](?:\.cargo[\\/]registry|node_modules|site-packages|dist-packages|vendor[\\/]bundle|gems"
    r"|pkg[\\/]mod|\.m2[\\/]repository|Pods|Carthage[\\/]Checkouts)[\\/]"
)
# A connection the tests open to a host of the job's own (localhost, a container's bare name as in
# `HTTPConnectionPool(host='nginx-proxy', port=80)`, or no host named) that fails is the test's failure:
# categories.md counts "an exception inside a test" as test, and keeps network for operations on the outside
# (registries, downloads, external services), which name a domain.
OWN_HOST_RULES = frozenset({"network.connection-failed"})
EXTERNAL_HOST = re.compile(
    r"(?i)(?:://|\bhost\s*[=:]?\s*['\"]|\bto\s+)(?!localhost\b|127\.|0\.0\.0\.0\b)[a-z0-9-]+\.[a-z0-9.-]*[a-z]"
)
UNCATEGORIZED_CONFIDENCE = 0.1


def _in_a_package(decided: Classification, texts: list[str]) -> Classification:
    """A build failure located in a dependency's unpacked source is that dependency's failure."""
    if decided.category is not Category.BUILD:
        return decided
    for text in texts:
        location = SOURCE_LOCATION.search(text)
        if location is not None:
            if PACKAGE_DIRECTORY.search(location.group(0)):
                return Classification(Category.DEPENDENCY, decided.confidence, decided.hit)
            return decided
    return decided


# ------------------------------------------------------------------------------------------ prefilter

# The stdlib's own regex parser (the module `re` compiles with) reads the literals out of each pattern.
# It is private API, so it is loaded by name and used only to build the prefilter; a failure to read a
# pattern just leaves that pattern unscreened.
_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

_WORD = re.compile(r"\w+")
# Words too common in log lines to screen anything; a pattern is filed under a rarer word when it has one.
_COMMON_WORDS = frozenset(
    {"error", "errors", "failed", "fail", "failure", "the", "and", "for", "not", "with", "from", "found"}
    | {"file", "line", "at", "in", "on", "of", "to", "is", "are"}
)
_BOUNDARY_AT = {_c.AT_BOUNDARY, _c.AT_BEGINNING, _c.AT_BEGINNING_STRING, _c.AT_END, _c.AT_END_STRING}


def _is_separator(item: tuple[Any, Any]) -> bool:
    """Whether this parsed regex item always consumes or asserts a word boundary (space, `\\b`, `^`)."""
    op, av = item
    if op is _c.AT:
        return av in _BOUNDARY_AT
    if op is _c.LITERAL:
        return not chr(av).isalnum() and chr(av) != "_"
    if op is _c.IN:
        return all(
            (kind is _c.CATEGORY and value is _c.CATEGORY_SPACE)
            or (kind is _c.LITERAL and not (chr(value).isalnum() or chr(value) == "_"))
            for kind, value in av
        )
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
        low, _high, body = av
        return bool(low >= 1 and len(body) == 1 and _is_separator(body[0]))
    return False


def _flatten(items: Iterable[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Inline groups that match exactly once, so their literals join the surrounding sequence."""
    out: list[tuple[Any, Any]] = []
    for op, av in items:
        if op is _c.SUBPATTERN and not (len(av[-1]) == 1 and av[-1][0][0] is _c.BRANCH):
            out.extend(_flatten(av[-1]))
        else:
            out.append((op, av))
    return out


def _branch_of(item: tuple[Any, Any]) -> list[list[tuple[Any, Any]]] | None:
    """The alternatives of a bare BRANCH item or of an exactly-once group holding only a BRANCH."""
    op, av = item
    if op is _c.BRANCH:
        return [list(b) for b in av[1]]
    if op is _c.SUBPATTERN and len(av[-1]) == 1 and av[-1][0][0] is _c.BRANCH:
        return [list(b) for b in av[-1][0][1][1]]
    return None


def _word_sets(items: Sequence[tuple[Any, Any]], left_edge: bool, right_edge: bool) -> list[frozenset[str]]:
    """Candidate key sets for a regex sequence: each set holds words one of which every match contains as a
    whole token. A literal word counts when separators (or the edges of the sequence, when the caller
    says they are boundaries) surround it; a group of alternatives counts when every branch has a word.
    The parser factors common prefixes out of alternatives (`E(HOST|NET)UNREACH`), so a pending literal
    run is carried into each branch.
    """
    flat = _flatten(items)
    sets: list[frozenset[str]] = []
    run: list[tuple[Any, Any]] = []
    left = left_edge
    for index, item in enumerate([*flat, (None, None)]):
        op = item[0]
        if op is _c.LITERAL:
            run.append(item)
            continue
        after = right_edge if index + 1 >= len(flat) else _is_separator(flat[index + 1])
        branches = _branch_of(item) if op is not None else None
        if branches is not None:
            words: set[str] = set()
            for branch in branches:
                inner = _word_sets([*run, *branch], left, after)
                if not inner:
                    words = set()
                    break
                words |= _pick(inner)
            if words:
                sets.append(frozenset(words))
            run = []
            left = False
            continue
        right = right_edge if op is None else _is_separator(item)
        text = "".join(chr(v) for _, v in run)
        for m in _WORD.finditer(text):
            if (m.start() > 0 or left) and (m.end() < len(text) or right):
                sets.append(frozenset({m.group(0).lower()}))
        run = []
        left = right
    return sets


def _pick(sets: list[frozenset[str]]) -> frozenset[str]:
    """The most selective key set: single uncommon long words first."""
    return max(sets, key=lambda ws: (all(w not in _COMMON_WORDS for w in ws), -len(ws), min(map(len, ws))))


def _substring_sets(items: Sequence[tuple[Any, Any]]) -> list[frozenset[str]]:
    """Like `_word_sets` without word boundaries: literal runs (and groups of alternatives whose every
    branch has one) that any match must contain as a substring."""
    sets: list[frozenset[str]] = []
    run: list[str] = []
    for op, av in [*_flatten(items), (None, None)]:
        if op is _c.LITERAL:
            run.append(chr(av).lower())
            continue
        if run:
            sets.append(frozenset({"".join(run)}))
        run = []
        # A group of alternatives, or the bare BRANCH the parser leaves of a non-capturing one.
        branches = _branch_of((op, av)) if op is not None else None
        if branches is not None:
            alternatives: set[str] = set()
            for branch in branches:
                inner = _substring_sets(list(branch))
                if not inner:
                    alternatives = set()
                    break
                alternatives |= max(inner, key=lambda ss: min(map(len, ss)))
            if alternatives:
                sets.append(frozenset(alternatives))
    return sets


def required_substrings(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Lower-cased strings of which at least one occurs in every line `pattern` matches (a weaker screen
    than `required_words`, for patterns whose literals are not whole words); None when there are none."""
    parsed = list(_parser.parse(pattern.pattern, pattern.flags))
    branches = parsed[0][1][1] if len(parsed) == 1 and parsed[0][0] is _c.BRANCH else [parsed]
    found: set[str] = set()
    for branch in branches:
        inner = _substring_sets(list(branch))
        if not inner:
            return None
        found |= max(inner, key=lambda ss: min(map(len, ss)))
    return frozenset(found)


def required_words(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Lower-cased words of which at least one occurs as a whole `\\w+` token in every line `pattern`
    matches; None when no such word can be read off the pattern (it is then tried on every line).

    Contract for rule authors: a literal word at the very start or end of a pattern is taken to be a
    whole word (write `\\w*word` to match inside longer words). Uses the stdlib regex parser.
    """
    parsed = list(_parser.parse(pattern.pattern, pattern.flags))
    if len(parsed) == 1 and parsed[0][0] is _c.BRANCH:
        words: set[str] = set()
        for branch in parsed[0][1][1]:
            inner = _word_sets(list(branch), True, True)
            if not inner:
                return None
            words |= _pick(inner)
        return frozenset(words)
    sets = _word_sets(parsed, True, True)
    return _pick(sets) if sets else None


class Catalog:
    """The ordered rules with a fast first-match lookup and a classifier."""

    def __init__(self, rules: Sequence[Rule], keywords: KeywordSet | None = None) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.keywords = keywords or KeywordSet(weights={})
        self._by_id = {r.id: r for r in self.rules}
        self._rank = {r.id: i for i, r in enumerate(self.rules)}
        # Prefilter index: every pattern is filed under a word that must appear as a whole token in any
        # line it matches (see `required_words`); patterns without such a word are always tried.
        self._patterns: list[tuple[re.Pattern[str], Rule]] = []
        self._index: dict[str, list[int]] = {}
        self._always: list[int] = []
        self._substrings: list[tuple[frozenset[str], int]] = []
        by_substring: dict[str, list[int]] = {}
        for rule in self.rules:
            for pattern in rule.patterns:
                position = len(self._patterns)
                self._patterns.append((pattern, rule))
                words = required_words(pattern)
                if words is None:
                    substrings = required_substrings(pattern)
                    if substrings is None:
                        self._always.append(position)
                    else:
                        self._substrings.append((substrings, position))
                        for sub in substrings:
                            by_substring.setdefault(sub, []).append(position)
                else:
                    for word in words:
                        self._index.setdefault(word, []).append(position)

        self._by_substring = tuple((sub, tuple(ps)) for sub, ps in by_substring.items())
        self._keys = frozenset(self._index)
        # One search tells whether any substring key occurs at all (most lines carry none of them).
        alternation = "|".join(re.escape(sub) for sub in sorted(by_substring, key=len, reverse=True))
        self._substring_gate = re.compile(alternation or r"(?!)")

    @functools.cached_property
    def digit_gate(self) -> DigitGate:
        """Which lines its patterns may read differently once their digits are turned into `0`."""
        return DigitGate.of([p for p, _ in self._patterns], required_substrings)

    @property
    def unindexed_patterns(self) -> list[str]:
        """Patterns the prefilter cannot screen (tried on every line); kept few for speed."""
        return [self._patterns[i][0].pattern for i in self._always]

    @property
    def substring_screened_patterns(self) -> list[tuple[str, frozenset[str]]]:
        return [(self._patterns[i][0].pattern, subs) for subs, i in self._substrings]

    def get(self, rule_id: str) -> Rule | None:
        return self._by_id.get(rule_id)

    def match_line(self, text: str, line: int = 1) -> RuleHit | None:
        """The first rule, in catalog order, matching this one line; None when no rule does.

        A line costs one `findall` over its words plus dictionary lookups; only patterns filed under one
        of its words (and the few unindexed ones) are searched, in catalog order.
        """
        lowered = text.lower()
        candidates = set(self._always)
        index = self._index
        # set.intersection runs in C over the line's words; only the few keys present are looked up.
        for word in self._keys.intersection(_WORD.findall(lowered)):
            candidates.update(index[word])
        if self._substring_gate.search(lowered):
            for positions in [ps for sub, ps in self._by_substring if sub in lowered]:
                candidates.update(positions)
        if not candidates:
            return None
        for position in sorted(candidates):
            pattern, rule = self._patterns[position]
            m = pattern.search(text)
            if m is not None:
                captures = {k: v for k, v in m.groupdict().items() if v is not None}
                return RuleHit(rule=rule, line=LogLine(line=line, text=text), captures=captures)
        return None

    def match_lines(self, lines: Iterable[LogLine]) -> list[RuleHit]:
        hits = []
        for log_line in lines:
            hit = self.match_line(log_line.text, log_line.line)
            if hit is not None:
                hits.append(hit)
        return hits

    def classify(
        self, focus: Sequence[LogLine], excerpt: Sequence[LogLine], command: str | None = None
    ) -> Classification:
        """The category of a failure from its focus lines (weighted most) and the rest of its excerpt; when
        no rule names it, the words of those lines and of the failing `command` decide."""
        focus_numbers = {ln.line for ln in focus}
        ordered: list[tuple[LogLine, float]] = [(ln, FOCUS_WEIGHT) for ln in focus]
        ordered += [(ln, EXCERPT_WEIGHT) for ln in excerpt if ln.line not in focus_numbers]
        ordered = [(ln, w) for ln, w in ordered if not self.keywords.points_elsewhere(ln.text)]

        scored: list[tuple[float, int, RuleHit]] = []
        uncategorized: RuleHit | None = (
            None  # e.g. "exit code 1": names the failure, says nothing of its kind
        )
        for position, (log_line, weight) in enumerate(ordered):
            hit = self.match_line(log_line.text, log_line.line)
            if hit is None:
                continue
            if hit.rule.category is Category.UNKNOWN:
                uncategorized = uncategorized or hit
            else:
                scored.append((hit.rule.specificity * weight, position, hit))

        if scored:
            texts = [ln.text for ln, _ in ordered]
            decided = _in_a_package(self._in_own_test_run(self._decide(scored), texts, command), texts)
            if decided.hit is not None and decided.hit.rule.details:
                detailed = _with_details(decided.hit, [ln.text for ln in excerpt])
                return Classification(decided.category, decided.confidence, detailed)
            return decided

        keyword_scores = self.keywords.score((ln.text, w) for ln, w in ordered)
        for category, weight in (self.keywords.score_command(command) if command else {}).items():
            keyword_scores[category] = keyword_scores.get(category, 0.0) + weight
        if keyword_scores:
            category, best = max(keyword_scores.items(), key=lambda kv: kv[1])
            if best >= self.keywords.threshold:
                share = best / sum(keyword_scores.values())
                return Classification(category, round(min(0.5, 0.15 + 0.3 * share), 3), None)
        if uncategorized is not None:
            # categories.md: unknown is "the log does not say why it failed (for example only exit code 1)";
            # the hit is still returned so the caller can title the failure.
            return Classification(Category.UNKNOWN, UNCATEGORIZED_CONFIDENCE, uncategorized)
        return Classification(Category.UNKNOWN, 0.0, None)

    def _in_own_test_run(
        self, decided: Classification, texts: list[str], command: str | None
    ) -> Classification:
        """A failed connection to a host of the job's own, while the tests run, is the tests' failure."""
        hit = decided.hit
        if hit is None or hit.rule.id not in OWN_HOST_RULES or not command:
            return decided
        kinds = self.keywords.score_command(command)
        if not kinds or max(kinds, key=lambda k: kinds[k]) is not Category.TEST:
            return decided
        # Only the failed connections' own lines name where they went (a help URL elsewhere does not).
        connections = [
            t for t in texts if (h := self.match_line(t)) is not None and h.rule.id in OWN_HOST_RULES
        ]
        if any(EXTERNAL_HOST.search(t) for t in connections):
            return decided
        # A database or cache of the job's that refuses is a service that is not up (categories.md:
        # "service container unavailable" is infrastructure), as the category words tell.
        words = self.keywords.score((t, 1.0) for t in texts)
        if words.get(Category.INFRASTRUCTURE, 0.0) >= self.keywords.threshold:
            return Classification(Category.INFRASTRUCTURE, decided.confidence, hit)
        return Classification(Category.TEST, decided.confidence, hit)

    def _decide(self, scored: list[tuple[float, int, RuleHit]]) -> Classification:
        # Best = highest weighted specificity; ties go to the earlier line, then the earlier rule.
        rank = self._rank
        _, position, hit = min(scored, key=lambda s: (-round(s[0], 6), s[1], rank[s[2].rule.id]))
        category = hit.rule.category
        if hit.rule.specificity < 0.95:
            enclosing = [
                s
                for s in scored
                if s[1] < position
                and s[0] >= CONTEXT_MIN
                and category in ENCLOSING.get(s[2].rule.category, ())
            ]
            if enclosing:
                _, position, hit = max(enclosing, key=lambda s: (s[0], -s[1]))
                category = hit.rule.category
            else:
                causing = CAUSED_BY.get(category, frozenset())
                causes = [s for s in scored if s[0] >= CONTEXT_MIN and s[2].rule.category in causing]
                if causes:
                    _, position, hit = max(causes, key=lambda s: (s[0], -s[1]))
                    category = hit.rule.category
        total = sum(s[0] for s in scored)
        agree = sum(s[0] for s in scored if s[2].rule.category is category) / total
        confidence = hit.rule.specificity * (0.6 + 0.4 * agree)
        return Classification(category, round(max(0.05, min(1.0, confidence)), 3), hit)


def _with_details(hit: RuleHit, lines: Sequence[str]) -> RuleHit:
    """The hit with the captures its rule's `details` patterns find on the excerpt's lines (the first
    value of each name wins; the matched line's own captures are never replaced)."""
    captures = dict(hit.captures)
    for text in lines:
        for pattern in hit.rule.details:
            m = pattern.search(text)
            if m is not None:
                for name, value in m.groupdict().items():
                    if value is not None and name not in captures:
                        captures[name] = value
    return RuleHit(rule=hit.rule, line=hit.line, captures=captures)


# --------------------------------------------------------------------------------------------- loading


def _strings(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise CatalogError(f"{where}: `{key}` must be a string or a list of strings")


def _compile(source: str, where: str) -> re.Pattern[str]:
    flags = 0
    m = _LEADING_FLAGS.match(source)
    if m:
        # Only `(?i)` is portable into the combined regex (as a scoped `(?i:...)` group).
        if set(m.group(1)) - {"i"}:
            raise CatalogError(f"{where}: only a leading (?i) flag is supported in {source!r}")
        flags |= re.IGNORECASE
        source = source[m.end() :]
    if _BACKREF.search(source):
        raise CatalogError(f"{where}: named back-references are not supported in {source!r}")
    try:
        return re.compile(source, flags)
    except re.error as exc:
        raise CatalogError(f"{where}: bad pattern {source!r}: {exc}") from exc


def parse_rule(raw: Mapping[str, Any], source: str = "<memory>") -> Rule:
    """One rule from its YAML mapping, validated."""
    rid = raw.get("id")
    where = f"{source}: rule {rid!r}"
    if not isinstance(rid, str) or not _ID.match(rid):
        raise CatalogError(f"{where}: `id` must be dotted lowercase, e.g. python.module-not-found")
    unknown_keys = set(raw) - _RULE_KEYS
    if unknown_keys:
        raise CatalogError(f"{where}: unknown keys {sorted(unknown_keys)}")
    try:
        category = Category(str(raw.get("category")))
    except ValueError as exc:
        raise CatalogError(f"{where}: unknown category {raw.get('category')!r}") from exc
    patterns = tuple(_compile(p, where) for p in _strings(raw.get("patterns"), where, "patterns"))
    if not patterns:
        raise CatalogError(f"{where}: at least one pattern is required")
    title = raw.get("title")
    if title is not None and not isinstance(title, str):
        raise CatalogError(f"{where}: `title` must be a string")
    explanation = raw.get("explanation", "")
    if not isinstance(explanation, str) or not explanation.strip():
        raise CatalogError(f"{where}: `explanation` is required")
    remediation = raw.get("remediation") or {}
    if not isinstance(remediation, Mapping) or set(remediation) - {"steps", "commands"}:
        raise CatalogError(f"{where}: `remediation` takes `steps` and `commands`")
    specificity = raw.get("specificity", DEFAULT_SPECIFICITY)
    if not isinstance(specificity, int | float) or not 0.0 <= float(specificity) <= 1.0:
        raise CatalogError(f"{where}: `specificity` must be a number in 0..1")
    rule = Rule(
        id=rid,
        category=category,
        patterns=patterns,
        title=title,
        explanation=" ".join(explanation.split()),
        remediation_steps=_strings(remediation.get("steps"), where, "remediation.steps"),
        remediation_commands=_strings(remediation.get("commands"), where, "remediation.commands"),
        docs=_strings(raw.get("docs"), where, "docs"),
        specificity=float(specificity),
        examples=_strings(raw.get("examples"), where, "examples"),
        negatives=_strings(raw.get("negatives"), where, "negatives"),
        details=tuple(_compile(p, where) for p in _strings(raw.get("details"), where, "details")),
        exit_cause=bool(raw.get("exit_cause", False)),
        source=source,
    )
    if title is not None:
        used = {m.group(1) for m in _PLACEHOLDER.finditer(title) if m.group(1)}
        missing = used - rule.group_names
        if missing:
            raise CatalogError(f"{where}: title uses {sorted(missing)}, not groups of any pattern")
    return rule


def parse_rules_file(text: str, source: str) -> tuple[int, list[Rule]]:
    """`(order, rules)` from one rules file: `order: <int>` and `rules: [...]`."""
    data = load_yaml(text) or {}
    if not isinstance(data, Mapping) or not isinstance(data.get("rules"), list):
        raise CatalogError(f"{source}: expected a mapping with `order` and a `rules` list")
    order = data.get("order", 500)
    if not isinstance(order, int):
        raise CatalogError(f"{source}: `order` must be an integer")
    return order, [parse_rule(r, source) for r in data["rules"]]


def _weighted_patterns(
    data: Any, source: str, key: str
) -> dict[Category, tuple[tuple[re.Pattern[str], float], ...]]:
    if not isinstance(data, Mapping):
        raise CatalogError(f"{source}: `{key}` maps categories to lists of patterns")
    weights: dict[Category, tuple[tuple[re.Pattern[str], float], ...]] = {}
    for name, entries in data.items():
        try:
            category = Category(name)
        except ValueError as exc:
            raise CatalogError(f"{source}: {key}: unknown category {name!r}") from exc
        pairs = []
        for entry in entries:
            where = f"{source}: {key}: {name}"
            pairs.append((_compile(str(entry["pattern"]), where), float(entry.get("weight", 1.0))))
        weights[category] = tuple(pairs)
    return weights


def parse_keywords(text: str, source: str = KEYWORDS_FILE) -> KeywordSet:
    data = load_yaml(text) or {}
    return KeywordSet(
        weights=_weighted_patterns(data.get("categories") or {}, source, "categories"),
        threshold=float(data.get("threshold", 1.0)),
        commands=_weighted_patterns(data.get("commands") or {}, source, "commands"),
        pointers=_pointers(data.get("pointers") or [], source),
    )


def _pointers(data: Any, source: str) -> tuple[re.Pattern[str], ...]:
    if not isinstance(data, list) or not all(isinstance(p, str) for p in data):
        raise CatalogError(f"{source}: `pointers` is a list of patterns")
    return tuple(_compile(p, f"{source}: pointers") for p in data)


def load_catalog(files: Mapping[str, str], keywords: str | None = None) -> Catalog:
    """A catalog from rules file texts keyed by name; files are ordered by `order`, then name."""
    loaded = []
    for name, text in files.items():
        order, rules = parse_rules_file(text, name)
        loaded.append((order, name, rules))
    loaded.sort(key=lambda t: (t[0], t[1]))
    rules = [r for _, _, file_rules in loaded for r in file_rules]
    seen: dict[str, str] = {}
    for r in rules:
        if r.id in seen:
            raise CatalogError(f"duplicate rule id {r.id!r} in {r.source} and {seen[r.id]}")
        seen[r.id] = r.source
    return Catalog(rules, parse_keywords(keywords) if keywords is not None else None)


def load_directory(path: Path) -> Catalog:
    """A catalog from a directory of rules files (used by tests and for trying local rules)."""
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(path.glob("*.yaml"))}
    keywords = files.pop(KEYWORDS_FILE, None)
    return load_catalog(files, keywords)


@functools.cache
def default_catalog() -> Catalog:
    """The packaged catalog, loaded once (package data read through importlib.resources,
    https://docs.python.org/3/library/importlib.resources.html)."""
    root = resources.files(RULES_PACKAGE).joinpath(RULES_DIR)
    files = {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in root.iterdir()
        if entry.name.endswith(".yaml")
    }
    keywords = files.pop(KEYWORDS_FILE, None)
    return load_catalog(files, keywords)
