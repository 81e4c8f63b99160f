"""The engine on real failing builds made on the development machine (issue 14's gaps from new users).

Each log in tests/fixtures/engine/ is the captured output of a real tool run on a tiny project with one
injected fault, made by bench/corpus/generate.py (the file name is the scenario, its variant and its form);
`npm-no-matching-version-plain.log` is `npm install` of a `left-pad@^99.0.0` dependency. Machine paths in
the logs read /tmp/cimedic-corpus (the generator's default output directory). The fault is known
by construction, so these tests say what a developer needs: the category, the line that states the error,
the detail that explains it inside the excerpt, and commands filled with the values the log names.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.engine import analyze_file
from agent.models import Category, Diagnosis

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "engine"


def _analyze(name: str) -> Diagnosis:
    return analyze_file(FIXTURES / f"{name}.log")


def _excerpt(d: Diagnosis) -> list[str]:
    return [x.text for x in d.excerpt]


@pytest.mark.parametrize(
    ("name", "category", "rule", "first_focus"),
    [
        # a segfault in a C test binary: not the passing test printed just before it
        ("c-test-segfault-0-plain", Category.TEST, "crash.segmentation-fault", "Segmentation fault"),
        ("python-segfault-0-plain", Category.TEST, "crash.segmentation-fault", "Fatal Python error"),
        ("killed-sigkill-0-plain", Category.INFRASTRUCTURE, "infra.out-of-memory-killed", " Killed "),
        ("python-memoryerror-0-plain", Category.INFRASTRUCTURE, "infra.python-memory-error", "MemoryError"),
        ("timeout-service-wait-0-github", Category.INFRASTRUCTURE, "infra.command-timeout", "exit code 124"),
        ("cargo-test-panic-0-plain", Category.TEST, "rust.test-panicked", "panicked at src/lib.rs:8:9"),
        ("npm-ci-no-lockfile-0-plain", Category.DEPENDENCY, "js.lockfile-out-of-sync", "package-lock.json"),
        # make relays how the recipe ended: a signal by its description, an exit status as `Error N`
        (
            "make-relayed-kill-or-timeout-0-plain",
            Category.INFRASTRUCTURE,
            "infra.out-of-memory-killed",
            "make: *** [Makefile:3: build] Killed",
        ),
        (
            "make-relayed-kill-or-timeout-1-plain",
            Category.INFRASTRUCTURE,
            "infra.out-of-memory-killed",
            "Killed",
        ),
        (
            "make-relayed-kill-or-timeout-2-github",
            Category.INFRASTRUCTURE,
            "infra.command-timeout",
            "make: *** [Makefile:3: build] Error 124",
        ),
        (
            "c-test-sigfpe-0-plain",
            Category.TEST,
            "crash.floating-point-exception",
            "make: *** [Makefile:2: test] Floating point exception",
        ),
        (
            "c-test-sigfpe-1-plain",
            Category.TEST,
            "crash.floating-point-exception",
            "Floating point exception",
        ),
        (
            "cxx-uncaught-exception-0-plain",
            Category.TEST,
            "crash.uncaught-cpp-exception",
            "terminate called after throwing an instance of 'std::out_of_range'",
        ),
        ("cargo-stack-overflow-0-plain", Category.TEST, "crash.stack-overflow", "stack overflow"),
        (
            "maven-offline-plugin-missing-0-plain",
            Category.DEPENDENCY,
            "jvm.offline-artifact-not-cached",
            "maven-surefire-plugin:3.1.9",
        ),
        ("c-shared-library-missing-1-plain", Category.DEPENDENCY, "c.shared-library-missing", "libtiff5.so"),
    ],
)
def test_crashes_kills_timeouts_and_panics_are_named(
    name: str, category: Category, rule: str, first_focus: str
) -> None:
    d = _analyze(name)
    assert (d.category, d.rule) == (category, rule)
    assert first_focus in d.focus[0].text


def test_an_import_from_the_projects_own_module_is_not_a_dependency_problem() -> None:
    d = _analyze("pytest-own-module-import-0-plain")
    assert d.category is Category.TEST
    assert d.rule == "python.own-module-import-error"
    assert "app.orders" in d.title and "cancel" in d.title
    assert not any("pin" in step.lower() for step in d.remediation.steps)


def test_an_import_from_the_projects_own_module_outside_pytest_is_not_a_dependency_problem() -> None:
    d = _analyze("python-own-module-import-0-plain")
    assert (d.category, d.rule) == (Category.TEST, "python.own-module-import-error")
    assert not any("pin" in step.lower() for step in d.remediation.steps)


def test_an_uncaught_cpp_exception_is_titled_with_its_type_and_message() -> None:
    d = _analyze("cxx-uncaught-exception-0-plain")
    assert d.title == "Uncaught C++ exception std::out_of_range: map::at"
    assert "  what():  map::at" in _excerpt(d)


def test_a_stack_overflow_outranks_the_abort_it_ends_in() -> None:
    d = _analyze("cargo-stack-overflow-0-plain")
    assert d.title == "Crashed with a stack overflow (unbounded recursion?)"
    assert "thread 'main' (23788) has overflowed its stack" in _excerpt(d)


def test_a_gitlab_section_the_script_opens_is_not_the_failing_command() -> None:
    # ci.sh echoes `section_start:<time>:compile[collapsed=true]` before running make
    d = _analyze("gcc-in-script-sections-0-gitlab")
    assert d.rule == "c.compile-error"
    assert d.facts.command == "bash ci.sh"


def test_ldd_gets_the_program_the_loader_names() -> None:
    d = _analyze("c-shared-library-missing-1-plain")
    assert d.remediation.commands == ["ldd $(command -v ./thumbnailer)"]


def test_cmakes_missing_package_leads_with_cmakes_error_line() -> None:
    d = _analyze("cmake-missing-package-0-plain")
    assert d.category is Category.DEPENDENCY and d.rule == "c.cmake-package-missing"
    # the report's own first line leads (not its second sentence), and the title names the package
    assert d.focus[0].text.startswith("CMake Error at CMakeLists.txt:3 (find_package):")
    assert d.title == "Build dependency not found: Frobnicate"


def test_ctest_rerun_gets_the_failed_test_ctest_lists() -> None:
    d = _analyze("ctest-failure-0-plain")
    assert d.rule == "c.ctest-gtest-failed"
    assert d.remediation.commands == ["ctest --output-on-failure -R '^parser_empty$'"]
    # the line that names the failed test leads, not the bare `The following tests FAILED:` header
    assert "parser_empty" in d.focus[0].text


def test_surefire_rerun_gets_the_failed_class_and_method() -> None:
    d = _analyze("maven-test-failure-0-plain")
    assert d.rule == "jvm.surefire-test-failed"
    assert d.remediation.commands == ["mvn -Dtest='com.acme.CartTest#addsTwoPrices' test"]


def test_a_syntax_error_met_at_pytest_collection_is_a_build_failure() -> None:
    d = _analyze("pytest-syntax-error-1-plain")
    assert (d.category, d.rule) == (Category.BUILD, "python.syntax-error")
    assert d.title.startswith("SyntaxError in ") and d.title.endswith("slugs.py line 2: '(' was never closed")
    assert d.remediation.commands[0].startswith("python -m py_compile /") and d.remediation.commands[
        0
    ].endswith("/slugs.py")


def test_pip_conflict_keeps_the_conflict_block_and_names_the_package() -> None:
    d = _analyze("pip-resolution-conflict-0-plain")
    excerpt = _excerpt(d)
    assert "The conflict is caused by:" in excerpt
    assert "    orderlib 1.0 depends on moneyfmt==1.0" in excerpt
    assert "pip install pipdeptree && pipdeptree -r -p moneyfmt" in d.remediation.commands


def test_pip_index_versions_gets_the_bare_name() -> None:
    d = _analyze("pip-no-matching-version-0-plain")
    assert d.title == "pip found no matching version of taxcalc==3.1"
    assert d.remediation.commands == ["pip index versions taxcalc"]


def test_npm_view_gets_the_package_the_log_names() -> None:
    d = _analyze("npm-no-matching-version-plain")
    assert d.rule == "js.package-not-found"
    assert d.remediation.commands == ["npm view left-pad versions"]


def test_python_crash_keeps_the_stack_under_fatal_python_error() -> None:
    excerpt = _excerpt(_analyze("python-segfault-0-plain"))
    assert any(line.startswith("Current thread 0x") for line in excerpt)
    assert any('crash_test.py", line 6 in test_native' in line for line in excerpt)


def test_cargo_panic_keeps_left_and_right() -> None:
    excerpt = _excerpt(_analyze("cargo-test-panic-0-plain"))
    assert "assertion `left == right` failed" in excerpt
    assert "  left: 5" in excerpt and " right: 4" in excerpt


def test_node_test_keeps_actual_and_expected() -> None:
    excerpt = _excerpt(_analyze("node-test-failure-0-plain"))
    assert "  expected: 5" in excerpt and "  actual: 4" in excerpt


def test_node_test_leads_with_the_failed_test_not_the_yaml_key_of_its_message() -> None:
    # TAP 13's YAML block: `  error: |-` opens the message, which is the block under it
    d = _analyze("node-test-failure-0-plain")
    assert d.focus[0].text == "not ok 1 - adds"
    assert "  error: |-" not in [x.text for x in d.focus]


def test_pytest_missing_fixture_stays_in_the_excerpt_beside_a_failed_assertion() -> None:
    excerpt = _excerpt(_analyze("pytest-fixture-missing-0-plain"))
    assert "E       fixture 'db_session' not found" in excerpt
    assert "E       assert (2 + 2) == 5" in excerpt


def test_npm_usage_dump_is_not_part_of_the_error() -> None:
    d = _analyze("npm-ci-no-lockfile-0-plain")
    assert len(d.excerpt) <= 5
    assert not any("--install-strategy" in line for line in _excerpt(d))
