"""The catalog engine: loading and validation, first-match lookup, titles, remediation, classification."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.catalog import (
    Catalog,
    CatalogError,
    Classification,
    RuleHit,
    default_catalog,
    load_catalog,
    load_directory,
    parse_rule,
    required_substrings,
    required_words,
)
from agent.cli import app
from agent.models import Category, LogLine


def ll(text: str, line: int = 1) -> LogLine:
    return LogLine(line=line, text=text)


def rule(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "x.sample",
        "category": "test",
        "patterns": [r"boom (?P<what>\w+)"],
        "explanation": "Something went boom.",
    }
    base.update(overrides)
    return base


def catalog_of(*rules: dict[str, object], keywords: str | None = None) -> Catalog:
    import yaml

    return load_catalog({"a.yaml": yaml.safe_dump({"order": 1, "rules": list(rules)})}, keywords)


# ----------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"category": "weather"}, "unknown category"),
        ({"patterns": ["("]}, "bad pattern"),
        ({"patterns": []}, "at least one pattern"),
        ({"id": "NoDots"}, "dotted lowercase"),
        ({"explanation": ""}, "explanation"),
        ({"colour": "red"}, "unknown keys"),
        ({"title": "{missing} happened"}, "not groups"),
        ({"patterns": ["(?s)x"]}, "only a leading (?i)"),
        ({"patterns": [r"(?P<a>x)(?P=a)"]}, "back-references"),
        ({"specificity": 2}, "specificity"),
        ({"remediation": {"step": ["x"]}}, "remediation"),
    ],
)
def test_invalid_rules_are_rejected_with_a_reason(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(CatalogError, match=re.escape(message)):
        parse_rule(rule(**overrides), "t.yaml")


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(CatalogError, match="duplicate rule id"):
        catalog_of(rule(), rule())


def test_files_are_ordered_by_order_field(tmp_path: Path) -> None:
    (tmp_path / "late.yaml").write_text(
        "order: 900\nrules:\n  - {id: g.any, category: build, patterns: ['boom'], explanation: generic}\n"
    )
    (tmp_path / "early.yaml").write_text(
        "order: 10\nrules:\n  - {id: s.one, category: network, patterns: ['boom x'], explanation: specific}\n"
    )
    catalog = load_directory(tmp_path)
    assert [r.id for r in catalog.rules] == ["s.one", "g.any"]
    hit = catalog.match_line("boom x")
    assert hit is not None and hit.rule.id == "s.one"
    hit = catalog.match_line("boom y")
    assert hit is not None and hit.rule.id == "g.any"


def test_default_catalog_is_cached() -> None:
    assert default_catalog() is default_catalog()


# ------------------------------------------------------------------------------------------ prefilter


@pytest.mark.parametrize(
    ("pattern", "line"),
    [
        (r"\b(EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)\b", "connect ENETUNREACH 1.2.3.4:443"),
        (r"compil(ation|e|ing) failed", "compilation failed"),
        (r"(?i)could not resolve host", "curl: (6) COULD NOT RESOLVE HOST: x"),
        (r"SC(?P<code>\d{4})", "In x.sh: SC2086"),
        (r"cc1(plus)?: out of memory", "cc1plus: out of memory allocating"),
        (r"^\s*×\s+(?P<t>.+)", "  × renders"),
    ],
)
def test_prefilter_keys_are_present_in_matching_lines(pattern: str, line: str) -> None:
    compiled = re.compile(pattern[4:], re.I) if pattern.startswith("(?i)") else re.compile(pattern)
    assert compiled.search(line)
    words = required_words(compiled)
    if words is not None:
        assert words & set(re.findall(r"\w+", line.lower())), words
    else:
        subs = required_substrings(compiled)
        assert subs is None or any(s in line.lower() for s in subs)


def test_match_line_is_fast_on_lines_that_match_nothing() -> None:
    catalog = default_catalog()
    lines = [
        f"[{i:05d}] compiling module number {i} of the project without trouble at all" for i in range(20000)
    ]
    started = time.perf_counter()
    assert all(catalog.match_line(line) is None for line in lines)
    # ~10-70 us per line on a shared CI box; the bound catches pathological patterns (a combined
    # alternation of all rules took ~45 ms per line), not small regressions.
    assert time.perf_counter() - started < 5.0


# --------------------------------------------------------------------------------- titles, remediation


def test_title_template_is_rendered_from_captures() -> None:
    catalog = catalog_of(rule(title="Boom: {what}"))
    hit = catalog.match_line("  boom engine  ", 7)
    assert hit is not None
    assert hit.title == "Boom: engine"
    assert hit.line == ll("  boom engine  ", 7)


def test_missing_capture_falls_back_to_the_line() -> None:
    catalog = catalog_of(rule(patterns=[r"boom(?P<what> \w+)?!"], title="Boom: {what}"))
    hit = catalog.match_line("  boom!   ")
    assert hit is not None and hit.title == "boom!"


def test_untitled_rule_uses_the_trimmed_line() -> None:
    catalog = catalog_of(rule(title=None))
    long_line = "boom x " + "y" * 400
    hit = catalog.match_line("\tboom now   later\t")
    assert hit is not None and hit.title == "boom now later"
    hit = catalog.match_line(long_line)
    assert hit is not None and len(hit.title) <= 200 and hit.title.endswith("…")


def test_remediation_renders_captures_and_leaves_shell_braces() -> None:
    catalog = catalog_of(
        rule(
            remediation={"steps": ["fix {what}"], "commands": ["echo ${HOME} {what} {{literal}}"]},
            docs=["https://example.org/boom"],
        )
    )
    hit = catalog.match_line("boom engine")
    assert hit is not None
    rem = hit.remediation()
    assert rem.steps == ["fix engine"]
    assert rem.commands == ["echo ${HOME} engine {literal}"]
    assert rem.docs == ["https://example.org/boom"]
    assert rem.explanation == "Something went boom."


def test_a_command_the_log_does_not_fill_is_left_out() -> None:
    catalog = catalog_of(
        rule(
            patterns=[r"boom(?P<what> \w+)?!"],
            remediation={"steps": ["fix {what}"], "commands": ["inspect {what}", "boom --help"]},
        )
    )
    named = catalog.match_line("boom engine!")
    assert named is not None and named.remediation().commands == ["inspect engine", "boom --help"]
    unnamed = catalog.match_line("boom!")
    assert unnamed is not None
    # `inspect <what>` would be a shell redirection from a file named `what`: not a command to copy
    assert unnamed.remediation().commands == ["boom --help"]
    assert unnamed.remediation().steps == ["fix <what>"]


def test_packaged_rule_titles_use_captures() -> None:
    hit = default_catalog().match_line("ModuleNotFoundError: No module named 'yaml'", 12)
    assert isinstance(hit, RuleHit)
    assert hit.rule.id == "python.module-not-found"
    assert hit.title == "Python module yaml not found"
    assert hit.captures == {"module": "yaml"}
    assert hit.line.line == 12


# ------------------------------------------------------------------------------------- classification


def test_most_specific_hit_wins_over_generic_ones() -> None:
    result = default_catalog().classify(
        [ll("3 tests failed", 1), ll("E: Unable to locate package libfoo-dev", 2)], []
    )
    assert result.category is Category.DEPENDENCY
    assert result.hit is not None and result.hit.rule.id == "apt.package-not-found"
    assert 0.5 < result.confidence <= 1.0


def test_focus_lines_outweigh_excerpt_lines() -> None:
    catalog = default_catalog()
    focus = [ll("FAILED tests/test_api.py::test_login - assert 1 == 2", 10)]
    excerpt = [ll("error: could not compile `app` due to previous error", 3)]
    result = catalog.classify(focus, excerpt)
    assert result.category is Category.TEST
    assert result.hit is not None and result.hit.line.line == 10


def test_network_error_inside_a_failing_test_is_a_test_failure() -> None:
    lines = [
        ll("__________________________ test_fetch ___________________________", 1),
        ll("E   requests.exceptions.ConnectionError: Max retries exceeded with url: /x", 2),
    ]
    result = default_catalog().classify(lines, [])
    assert result.category is Category.TEST
    # ...but a network failure with no test around it stays network
    alone = default_catalog().classify(lines[1:], [])
    assert alone.category is Category.NETWORK


def test_link_checker_timeouts_are_lint() -> None:
    lines = [ll("> Links", 1), ll("  1. [L12] https://example.org Net::ReadTimeout", 2)]
    assert default_catalog().classify(lines, []).category is Category.LINT


def test_disk_full_is_never_overridden_by_test_context() -> None:
    lines = [ll("--- FAIL: TestWrite (0.01s)", 1), ll("write /tmp/x: no space left on device", 2)]
    lines[1] = ll("write /tmp/x: No space left on device", 2)
    assert default_catalog().classify(lines, []).category is Category.INFRASTRUCTURE


def test_agreement_raises_confidence() -> None:
    catalog = default_catalog()
    one = catalog.classify([ll("--- FAIL: TestA (0.00s)", 1), ll("E: Unable to locate package x", 2)], [])
    many = catalog.classify([ll("--- FAIL: TestA (0.00s)", 1), ll("--- FAIL: TestB (0.00s)", 2)], [])
    assert many.confidence > one.confidence or one.category is not Category.TEST


def test_keyword_fallback_and_unknown() -> None:
    keywords = """
threshold: 1.0
categories:
  lint: [{pattern: '(?i)not in alphabetical order', weight: 1.5}]
  test: [{pattern: '(?i)\\\\btests?\\\\b', weight: 0.5}]
"""
    catalog = catalog_of(rule(), keywords=keywords)
    result = catalog.classify([ll("entries are not in alphabetical order")], [])
    assert result == Classification(Category.LINT, result.confidence, None)
    assert 0 < result.confidence <= 0.5
    assert catalog.classify([ll("exit 1")], []).category is Category.UNKNOWN
    # a single weak keyword stays under the threshold
    assert catalog.classify([ll("running tests")], []).category is Category.UNKNOWN


def test_the_failing_command_decides_when_no_rule_names_the_error() -> None:
    catalog = default_catalog()
    # A finding no rule knows (a made-up linter's wording): nothing but the command says it is a lint step.
    focus = [ll("docs/intro.md: heading levels skip from 1 to 3", 7)]
    assert catalog.classify(focus, []).category is Category.UNKNOWN
    linted = catalog.classify(focus, [], command="bundle exec mdl docs/")
    assert linted.category is Category.LINT and linted.hit is None
    assert 0 < linted.confidence <= 0.5  # a fallback's answer stays a weak one
    assert catalog.classify(focus, [], command="npm ci").category is Category.DEPENDENCY
    # letters-only boundaries: a script's name with `_` or digits still says what it runs
    assert catalog.classify(focus, [], command="./ci/lint_06.sh").category is Category.LINT
    # A generic word (`tests`) is weaker than a tool's name: alone it stays under the threshold, and it
    # adds to what the lines say.
    assert catalog.classify(focus, [], command="./ci/run_tests.sh").category is Category.UNKNOWN
    specs = [ll("spec/orders_spec.rb: 2 examples did not finish", 7)]
    assert catalog.classify(specs, []).category is Category.UNKNOWN
    assert catalog.classify(specs, [], command="./ci/run_tests.sh").category is Category.TEST
    # A plain `make` says little: it does not outweigh a line's words.
    worded = [ll("the test suite reported 2 unexpected results", 7)]
    assert catalog.classify(worded, [], command="make").category is Category.TEST


def test_a_rule_outweighs_the_failing_command() -> None:
    lines = [ll("E: Unable to locate package libfoo-dev", 3)]
    result = default_catalog().classify(lines, [], command="make test")
    assert result.category is Category.DEPENDENCY
    assert result.hit is not None and result.hit.rule.id == "apt.package-not-found"


def test_a_line_that_points_at_errors_above_names_no_kind() -> None:
    # npm ends every failed `npm test` script so, a linter's too (tldr-pages' Travis logs in LogChunks): the
    # finding above says lint, and the closing line's "Test failed" must not outvote it.
    finding = [ll("pages/common/mat2.md:3: XYZ004 Command descriptions should end in a period", 594)]
    closing = [ll("npm ERR! Test failed.  See above for more details.", 596)]
    for catalog in (default_catalog(), generic_only()):
        result = catalog.classify(finding, closing, command="npm test")
        assert result.category is Category.LINT, result
    # the same words without the pointer still count
    tests = [ll("npm ERR! Test failed: 3 specs", 596)]
    assert generic_only().classify(finding, tests, command="npm test").category is Category.TEST


def test_pointer_patterns_are_validated() -> None:
    with pytest.raises(CatalogError, match="pointers"):
        catalog_of(rule(), keywords="pointers: 'see above'\n")
    with pytest.raises(CatalogError, match="pointers"):
        catalog_of(rule(), keywords="pointers: ['(unclosed']\n")


def test_command_patterns_are_validated() -> None:
    with pytest.raises(CatalogError, match=r"commands: unknown category 'linting'"):
        catalog_of(rule(), keywords="commands:\n  linting: [{pattern: 'x'}]\n")
    with pytest.raises(CatalogError, match="commands"):
        catalog_of(rule(), keywords="commands: [lint]\n")


def generic_only() -> Catalog:
    """The packaged keywords with no tool's rule: what classifies a tool nobody wrote a rule for."""
    rules = Path(__file__).resolve().parent.parent / "agent" / "rules"
    return load_catalog(
        {"generic.yaml": (rules / "generic.yaml").read_text()},
        (rules / "category_keywords.yaml").read_text(),
    )


@pytest.mark.parametrize(
    ("line", "category"),
    [
        (
            "FATAL ERROR: Reached heap limit Allocation failed",
            Category.INFRASTRUCTURE,
        ),
        ("MemoryError", Category.INFRASTRUCTURE),
        ("./build.sh: line 4: 12188 Killed                  ./bundle", Category.INFRASTRUCTURE),
        ("src/main.zig:7:13: mismatched types: expected 'u32', found 'i64'", Category.BUILD),
        (
            "./app: error while loading shared libraries: libgreet.so",
            Category.DEPENDENCY,
        ),
        ('npm error Missing script: "e2e"', Category.CONFIGURATION),
        (
            "No Rakefile found (looking for: rakefile, Rakefile)",
            Category.CONFIGURATION,
        ),
        ("docs/guide.md:12: MD013 Line length", Category.LINT),
        ("README.md:2186:Line longer than 80 characters.", Category.LINT),
        ("# fail 2", Category.TEST),
        ("** (Mix) mix format failed due to --check-formatted.", Category.LINT),
        ("src/net.c:14: recieve ==> receive", Category.LINT),
        ("    --- FAIL: TestCloud_config (0.00s)", Category.TEST),
        ("FAIL: t/parse.sh", Category.TEST),
        (
            "pages/common/tar.md: 12: MD040/fenced-code-language Fenced code blocks should have a language",
            Category.LINT,
        ),
        (
            "src/cart.ts(11,3): error TS2322: Type 'string' is not assignable to type 'number'.",
            Category.BUILD,
        ),
        (
            "src/cart.ts(9,37): error TS2339: Property 'total' does not exist on type 'Item[]'.",
            Category.BUILD,
        ),
        ("  6:11  error  Expected '===' and instead saw '=='  eqeqeq", Category.LINT),
        ("  12:3  warning  Unexpected console statement  no-console", Category.LINT),
        ("Fatal Python error: Segmentation fault", Category.TEST),
        ("fatal runtime error: stack overflow, aborting", Category.TEST),
    ],
)
def test_the_keywords_alone_classify_common_wordings(line: str, category: Category) -> None:
    assert generic_only().classify([ll(line)], []).category is category


def test_the_shells_report_of_a_killed_child_outweighs_a_build_step() -> None:
    # `bash ./build.sh` names a build step and the step printed "linking", but the shell says its child
    # was killed (OOM killer or a time limit): the environment failed, not the build.
    lines = [ll("linking bundle"), ll("./build.sh: line 4: 17571 Killed                  python3 bundle.py")]
    got = generic_only().classify(lines, lines, command="bash ./build.sh")
    assert got.category is Category.INFRASTRUCTURE


@pytest.mark.parametrize("line", ["> Task :app:compileJava FAILED", "BUILD FAILED in 4s"])
def test_a_build_tools_capitalised_verdict_is_not_a_test_word(line: str) -> None:
    # Gradle and Ant name the failing step or nothing: the verdict itself says nothing about tests.
    assert generic_only().classify([ll(line)], []).category is not Category.TEST


def test_exit_status_rule_names_but_does_not_classify() -> None:
    catalog = default_catalog()
    hit = catalog.match_line("Error: Process completed with exit code 2.")
    assert (
        hit is not None
        and hit.rule.category is Category.UNKNOWN
        and hit.title == "Command failed with exit code 2"
    )
    result = catalog.classify([ll("Error: Process completed with exit code 2.")], [])
    assert result.category is Category.UNKNOWN
    assert result.hit is not None and result.hit.rule.id == "generic.exit-status"
    assert result.confidence < 0.2


def test_empty_input_is_unknown() -> None:
    assert default_catalog().classify([], []) == Classification(Category.UNKNOWN, 0.0, None)


# ------------------------------------------------------------------------------------------------ CLI

runner = CliRunner()


def test_cli_rules_list_text_and_json() -> None:
    text = runner.invoke(app, ["rules", "list"])
    assert text.exit_code == 0, text.output
    assert "python.module-not-found" in text.output
    listed = runner.invoke(app, ["rules", "list", "--format", "json"])
    assert listed.exit_code == 0
    data = json.loads(listed.output)
    assert [d["id"] for d in data] == [r.id for r in default_catalog().rules]


def test_cli_rules_show() -> None:
    shown = runner.invoke(app, ["rules", "show", "network.dns"])
    assert shown.exit_code == 0
    assert "DNS" in shown.output and "patterns:" in shown.output
    as_json = runner.invoke(app, ["rules", "show", "network.dns", "--format", "json"])
    assert json.loads(as_json.output)["category"] == "network"
    missing = runner.invoke(app, ["rules", "show", "no.such-rule"])
    assert missing.exit_code == 2


def test_cli_rules_docs_prints_the_catalog_page() -> None:
    from agent.catalog_docs import render_markdown

    docs = runner.invoke(app, ["rules", "docs"])
    assert docs.exit_code == 0
    assert docs.output == render_markdown()


def test_a_hosted_runners_paths_are_not_an_infrastructure_word() -> None:
    # Every GitHub-hosted job runs under /home/runner/work/...: the word in a path says nothing about the
    # failure, and an "infrastructure" answer can trigger a re-run by policy.
    lines = [
        ll("Traceback (most recent call last):", 1),
        ll('  File "/home/runner/work/shop/shop/app/main.py", line 3, in <module>', 2),
        ll("    charge(order)", 3),
        ll('  File "/home/runner/work/shop/shop/app/pay.py", line 9, in charge', 4),
        ll("app.pay.PaymentDeclined: card 4242 declined", 5),
    ]
    assert default_catalog().classify(lines, []).category is not Category.INFRASTRUCTURE
    # ...while the word itself still counts
    alone = [ll("The runner has received a shutdown signal.", 1)]
    assert default_catalog().classify(alone, []).category is Category.INFRASTRUCTURE


def test_a_name_the_code_never_defines_is_a_build_error_without_a_rule() -> None:
    for text in (
        'Error: Undefined variable: "$primary".',
        "Error: Symbol 'residual' at (1) has no IMPLICIT type",
        'src/kernel.cu(42): error: identifier "blockDimx" is undefined',
    ):
        assert generic_only().classify([ll(text, 9)], []).category is Category.BUILD, text


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("curl: (6) Could not resolve host: fixtures.acme.example", Category.NETWORK),
        ("<socket: 10>: hGetBufSome: resource vanished (Connection reset by peer)", Category.NETWORK),
        ('Exception in thread "main" java.lang.OutOfMemoryError: Java heap space', Category.INFRASTRUCTURE),
        (
            "No output has been received in the last 10m0s, this potentially indicates a stalled build",
            Category.INFRASTRUCTURE,
        ),
        ("./ci/setup.sh: line 9: API_TOKEN: unbound variable", Category.CONFIGURATION),
        ("Module not found: Error: Can't resolve './components/Header' in '/app/src'", Category.BUILD),
    ],
)
def test_words_that_say_the_kind_on_their_own(text: str, category: Category) -> None:
    assert generic_only().classify([ll(text, 9)], []).category is category


def test_a_directory_called_deps_is_not_a_dependency_word() -> None:
    frame = [ll("\t[string \"bundle:deps/git/db.lua\"]:395: in function 'loadAny'", 9)]
    assert generic_only().classify(frame, []).category is not Category.DEPENDENCY


def test_a_refused_connection_to_the_jobs_own_database_under_pytest_is_infrastructure() -> None:
    # A help URL elsewhere in the excerpt (SQLAlchemy's `Background on this error at: https://sqlalche.me/...`)
    # does not make the connection an external one
    catalog = default_catalog()
    lines = [
        "E   sqlalchemy.exc.OperationalError: (psycopg.OperationalError) connection failed: connection to"
        ' server at "postgres" (172.17.0.4), port 5432 failed: Connection refused',
        "E   (Background on this error at: https://sqlalche.me/e/20/e3q8)",
    ]
    excerpt = [LogLine(line=i + 1, text=t) for i, t in enumerate(lines)]
    decided = catalog.classify(excerpt[:1], excerpt, command="pytest -p no:cacheprovider --tb=short")
    assert decided.category is Category.INFRASTRUCTURE


@pytest.mark.parametrize(
    ("text", "command", "category"),
    [
        ("Username and password required", "docker login", Category.CONFIGURATION),
        (
            "npm ERR! You cannot publish over the previously published versions: 3.2.0. : tiny-semaphore",
            "npm test",
            Category.DEPLOYMENT,
        ),
        ("standard: Run `standard --fix` to automatically fix some problems.", "npm test", Category.LINT),
        (
            "[ERROR] /src/main/java/io/acme/Plan.java:[42,31] incompatible types: int cannot be converted to"
            " java.lang.String",
            "mvn install -DskipTests=true -Dmaven.javadoc.skip=true -B -V",
            Category.BUILD,
        ),
    ],
)
def test_category_words_without_a_rule(text: str, command: str, category: Category) -> None:
    line = LogLine(line=1, text=text)
    assert generic_only().classify([line], [line], command=command).category is category


def test_a_builds_release_flag_is_no_deploy_step() -> None:
    assert Category.DEPLOYMENT not in generic_only().keywords.score_command("cargo build --release --locked")
    assert Category.DEPLOYMENT in generic_only().keywords.score_command("npm run release")


def test_a_gradle_compile_task_whose_classpath_does_not_resolve_is_a_dependency_failure() -> None:
    lines = [
        "Execution failed for task ':compileTestJava'.",
        "> Could not resolve all files for configuration ':testCompileClasspath'.",
        "   > Could not find org.testcontainers:postgresql:1.61.1.",
    ]
    excerpt = [ll(t, i + 1) for i, t in enumerate(lines)]
    assert default_catalog().classify(excerpt, excerpt).category is Category.DEPENDENCY
    alone = [ll(lines[0])]
    assert default_catalog().classify(alone, alone).category is Category.BUILD


def test_clang_tidys_findings_in_the_compilers_format_are_lint() -> None:
    line = ll(
        "/src/ring_buffer.cpp:93:5: error: do not manage memory manually; consider a container or a smart"
        " pointer [cppcoreguidelines-no-malloc,-warnings-as-errors]"
    )
    decided = default_catalog().classify([line], [line])
    assert decided.category is Category.LINT and decided.hit is not None
    assert decided.hit.rule.id == "c.static-analysis"
