"""The packaged rule catalog as data: it loads, validates, and every rule matches its own examples."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from agent.catalog import Catalog, Rule, default_catalog
from agent.catalog_docs import render_markdown
from agent.models import Category

ROOT = Path(__file__).resolve().parents[1]
CATALOG = default_catalog()
RULES = CATALOG.rules


def brute_force(catalog: Catalog, text: str) -> str | None:
    """The reference semantics of `match_line`: the first rule in order whose pattern matches."""
    for rule in catalog.rules:
        if rule.search(text):
            return rule.id
    return None


def test_catalog_is_large_and_ids_are_unique() -> None:
    assert len(RULES) >= 80
    assert len({r.id for r in RULES}) == len(RULES)


def test_every_category_is_covered() -> None:
    counts = Counter(r.category for r in RULES)
    for category in Category:
        if category is not Category.UNKNOWN:
            assert counts[category] >= 5 or (category is Category.DEPLOYMENT and counts[category] >= 4), (
                category
            )


@pytest.mark.parametrize(
    "prefix",
    [
        "python.",
        "js.",
        "go.",
        "jvm.",
        "ruby.",
        "rust.",
        "php.",
        "c.",
        "dotnet.",
        "apple.",
        "network.",
        "infra.",
        "ci.",
        "deploy.",
        "docker.",
        "apt.",
        "shell.",
        "docs.",
        "generic.",
    ],
)
def test_ecosystems_have_rules(prefix: str) -> None:
    assert any(r.id.startswith(prefix) for r in RULES)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_is_complete(rule: Rule) -> None:
    assert rule.patterns and all(hasattr(p, "search") for p in rule.patterns)
    assert rule.explanation
    assert rule.examples, "every rule needs at least one positive example line"
    assert 0.0 <= rule.specificity <= 1.0
    assert rule.docs and all(d.startswith("https://") for d in rule.docs)
    if rule.category is not Category.UNKNOWN:
        assert rule.remediation_steps


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_examples_match_their_own_rule_first(rule: Rule) -> None:
    for example in rule.examples:
        hit = CATALOG.match_line(example)
        assert hit is not None, f"{rule.id}: no rule matches {example!r}"
        assert hit.rule.id == rule.id, f"{example!r} is claimed by the earlier rule {hit.rule.id}"
        assert hit.title.strip()


@pytest.mark.parametrize("rule", [r for r in RULES if r.negatives], ids=lambda r: r.id)
def test_negative_examples_do_not_match(rule: Rule) -> None:
    for line in rule.negatives:
        hit = CATALOG.match_line(line)
        assert hit is None or hit.rule.id != rule.id, line


def test_generic_rules_have_negatives() -> None:
    generic = [r for r in RULES if r.source == "generic.yaml" and r.category is not Category.UNKNOWN]
    assert sum(1 for r in generic if r.negatives) >= 3


def test_prefilter_agrees_with_trying_every_rule() -> None:
    # The word/substring prefilter must never change which rule wins; check on every example and
    # negative line and on variants of them that shift their words around. (Contract: a literal word at
    # the very edge of a pattern is a whole word, so variants keep a separator next to the original.)
    lines = [e for r in RULES for e in (*r.examples, *r.negatives)]
    lines += (
        [f"x: {line}" for line in lines]
        + [f"{line} (x)" for line in lines]
        + [line.upper() for line in lines]
    )
    lines += [line.lower() for line in lines] + [line.replace(" ", "  ") for line in lines]
    lines += ["", "   ", "ok", "Done in 3.2s", "error: something broke", "1 passed, 0 failed"]
    for line in lines:
        hit = CATALOG.match_line(line)
        assert (hit.rule.id if hit else None) == brute_force(CATALOG, line), line


def test_every_pattern_is_screened_by_the_prefilter() -> None:
    # Patterns the prefilter cannot screen are tried on every line; keep the catalog free of them.
    assert CATALOG.unindexed_patterns == []


def test_files_are_ordered_specific_before_generic() -> None:
    sources = [r.source for r in RULES]
    order = list(dict.fromkeys(sources))
    assert order[0] == "system.yaml"
    assert order[-2:] == ["shell.yaml", "generic.yaml"]
    # files are contiguous: one file's rules are never interleaved with another's
    assert len(order) == len({*sources})
    generic = [r for r in RULES if r.source == "generic.yaml"]
    assert all(r.specificity <= 0.55 for r in generic)


@pytest.mark.parametrize(
    ("line", "rule_id"),
    [
        # a build tool line whose real cause is the disk: infrastructure wins by order
        (
            "[ERROR] Failed to execute goal maven-compiler-plugin:3.8.1:compile: Error while storing the mojo"
            " status: /x/inputFiles.lst (No space left on device)",
            "infra.disk-full",
        ),
        # a Maven resolution failure caused by a transfer error is a network failure
        (
            "[ERROR] Plugin a:b:1.0 or one of its dependencies could not be resolved:"
            " Could not transfer artifact a:b:pom:1.0 from/to central"
            " (https://repo.maven.apache.org/maven2): Connection reset",
            "jvm.artifact-transfer-failed",
        ),
        (
            "[ERROR] Failed to execute goal on project app:"
            " Could not resolve dependencies for project a:b:jar:1:"
            " Could not find artifact c:d:jar:2 in central",
            "jvm.dependency-resolution",
        ),
        # npm 404 is a missing package, before the generic 404 rule
        ("npm ERR! 404 Not Found - GET https://registry.npmjs.org/nope - Not found", "js.package-not-found"),
        (
            'go: github.com/x/y@v1.0.0: Get "https://proxy.golang.org/x": dial tcp: i/o timeout',
            "network.connection-failed",
        ),
        ("FAIL\tgithub.com/acme/app/pkg [build failed]", "go.build-failed-package"),
        ("FAIL\tgithub.com/acme/app/pkg\t0.012s", "go.test-failed"),
    ],
)
def test_ordering_resolves_overlaps(line: str, rule_id: str) -> None:
    hit = CATALOG.match_line(line)
    assert hit is not None and hit.rule.id == rule_id


def test_docs_page_is_generated_from_the_rules() -> None:
    page = (ROOT / "docs" / "error-catalog.md").read_text(encoding="utf-8")
    assert page == render_markdown(CATALOG), "regenerate with: cimedic rules docs > docs/error-catalog.md"


def test_suggested_commands_take_their_values_from_the_log() -> None:
    # A command is shown to be copied: a literal stand-in (`HOST`, `FILE`, `IMAGE:TAG`) would be run as
    # written. Values come from `{name}` captures (the command is left out when the log does not give
    # them); upper-case words are allowed only as environment variables (`NAME=value`, `$NAME`).
    import re

    stand_in = re.compile(r"(?<![$\w{])[A-Z][A-Z_]{2,}\b(?!=)")
    found = [(r.id, c) for r in RULES for c in r.remediation_commands if stand_in.search(c)]
    assert found == []


@pytest.mark.parametrize(
    ("focus", "excerpt", "command"),
    [
        (
            "Could not fetch URL https://pypi.org/simple/requests/: There was a problem confirming the ssl"
            " certificate: HTTPSConnectionPool(host='pypi.org', port=443): Max retries exceeded with url:"
            " /simple/requests/ (Caused by SSLError(SSLCertVerificationError(1, '[SSL:"
            " CERTIFICATE_VERIFY_FAILED] certificate verify failed')))",
            [],
            "openssl s_client -connect pypi.org:443 -servername pypi.org </dev/null",
        ),
        (
            "docker: Error response from daemon: manifest for koalaman/shellcheck:current not found.",
            [],
            "docker manifest inspect koalaman/shellcheck:current",
        ),
        (
            "LogDifferTest > testGithubParsing() FAILED",
            [],
            "./gradlew test --tests 'LogDifferTest.testGithubParsing'",
        ),
        (
            "Package required but not available: ‘lubridate’",
            [],
            "Rscript -e 'install.packages(\"lubridate\")'",
        ),
        (
            "240 runs, 500 assertions, 1 failures, 0 errors, 0 skips",
            ["CartTest#test_total [test/models/cart_test.rb:14]:"],
            "bundle exec rake test TEST=test/models/cart_test.rb",
        ),
    ],
)
def test_suggested_commands_are_filled_from_the_failing_lines(
    focus: str, excerpt: list[str], command: str
) -> None:
    from agent.models import LogLine

    lines = [LogLine(line=1, text=focus)]
    rest = [LogLine(line=n, text=t) for n, t in enumerate(excerpt, start=2)]
    result = CATALOG.classify(lines, [*lines, *rest])
    assert result.hit is not None
    assert result.hit.remediation().commands == [command]


def test_a_gradle_display_name_gives_no_test_filter() -> None:
    from agent.models import LogLine

    # JUnit 5's @DisplayName: `adds two prices` is not a method Gradle's --tests can select
    line = LogLine(line=1, text="CartTest > adds two prices FAILED")
    result = CATALOG.classify([line], [line])
    assert result.hit is not None and result.hit.rule.id == "jvm.gradle-test-failed"
    assert result.hit.remediation().commands == []
