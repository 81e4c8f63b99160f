"""Make a labeled corpus of REAL failing builds on this machine: tiny projects with one injected fault each,
built or tested by the real tool, the output captured, then dressed as a plain capture, a GitHub Actions log
and a GitLab CI log.

    python bench/corpus/generate.py [--out /tmp/cimedic-corpus] [--only TOOL,...] [--labels FILE]

The label comes from the construction, not from reading the output: each scenario injects one fault and
says which category it is (definitions: ../shared/datasets/categories.md) and which output lines state
it (`key`: regular expressions over the normalized lines, written from the tool's documented message
format). A scenario whose tool is missing here, or whose run did not fail, or whose key lines did not
appear, is skipped and reported: a case is only kept when the injected fault is what the log shows.

Writes `<out>/logs/<id>.log` and `<out>/labels.jsonl` (id, tool, scenario, form, category, key_lines, log,
exit_code); `--labels` copies the labels to a committed file (bench/corpus/labels.jsonl). The logs are not
committed: they hold paths of this machine and are rebuilt by running this script (a few minutes).
Scored by `bench/crossval.py --corpus <out>`. Network: only the package registries, once, for the tools
this machine lacks (`TOOL_PACKAGES`: TypeScript, ESLint and Mocha from npm, flake8 from PyPI, pinned),
installed under `<out>/tools`; the builds themselves run offline (pip and npm read local files only).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
EPOCH = datetime(2026, 12, 5, 9, 0, 0, tzinfo=UTC)
TIMEOUT = 300
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
# A real, harmless setup step run before each fault, so the fault is not the whole log (installed-package
# listings are what CI logs open with).
# The tools a scenario needs are looked up, and run, on PATH and beside this interpreter (mypy and ruff
# come with the project's dev install, in its venv, which `make` does not put on PATH).
SEARCH_PATH = f"{os.environ.get('PATH', '')}:{Path(sys.executable).parent}"
SETUP = "python3 -m pip list --disable-pip-version-check 2>/dev/null | head -n 60; ls -la"


# Tools installed for the corpus alone, pinned so that a rebuilt corpus shows the same messages. Their
# scenarios were added after the engine's rules and signals were written, and are held out
# (bench/crossval.py HELD_OUT_TOOLS): nobody tuned on their output.
NPM_TOOLS = (
    "typescript@7.0.2",
    "eslint@10.16.0",
    "mocha@12.0.3",
    "jest@30.5.2",
    "prettier@3.10.2",
    "bats@1.13.0",
    "yarn@1.22.22",
)
PIP_TOOLS = ("flake8==7.5.0", "black==26.10.1", "pylint==4.1.5")


def install_tools(tools: Path) -> tuple[str, dict[str, str]]:
    """Install the pinned tools under `tools` (again whenever the pins change); the PATH entries and
    environment that run them. A failed install only leaves its scenarios skipped as "not installed"."""
    node, py, pins = tools / "node", tools / "py", tools / "pins.txt"
    wanted = "\n".join(NPM_TOOLS + PIP_TOOLS) + "\n"
    if not pins.exists() or pins.read_text() != wanted:
        shutil.rmtree(tools, ignore_errors=True)
        node.mkdir(parents=True)
        npm = ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(node), *NPM_TOOLS]
        pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        done = [
            subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False).returncode
            for command in (npm, [*pip, "--target", str(py), *PIP_TOOLS])
        ]
        if done == [0, 0]:
            pins.write_text(wanted)
    # npm links no `.bin/bats` beside Jest's dependencies here; the package's own bin directory has it.
    bins = (node / "node_modules" / ".bin", node / "node_modules" / "bats" / "bin", py / "bin")
    return ":".join(map(str, bins)), {"PYTHONPATH": str(py)}


@dataclass(frozen=True)
class Scenario:
    name: str
    tool: str
    category: str
    files: dict[str, str]
    command: str
    key: tuple[str, ...]
    needs: tuple[str, ...] = ()
    variants: tuple[dict[str, str], ...] = ({},)
    prepare: Callable[[Path], None] | None = None
    env: dict[str, str] = field(default_factory=dict)


def _fill(text: str, values: dict[str, str]) -> str:
    """`@NAME@` tokens: code in C, Rust and JavaScript is full of braces and shells of dollars."""
    for k, v in values.items():
        text = text.replace(f"@{k}@", v)
    return text


# ------------------------------------------------------------------------------------- local wheels


def _wheel(dest: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> None:
    """A minimal pure-Python wheel (PEP 427 layout) so pip's real resolver runs without a network."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"__version__ = '{version}'\n",
        f"{dist}/METADATA": "Metadata-Version: 2.1\n"
        f"Name: {name}\nVersion: {version}\n" + "".join(f"Requires-Dist: {r}\n" for r in requires),
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: cimedic-corpus\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(dest / f"{name}-{version}-py3-none-any.whl", "w") as z:
        for path, text in files.items():
            z.writestr(path, text)


def _wheels(project: Path) -> None:
    wheels = project / "wheels"
    wheels.mkdir()
    _wheel(wheels, "orderlib", "1.0", ("moneyfmt==1.0",))
    _wheel(wheels, "reportkit", "2.0", ("moneyfmt>=2.0",))
    _wheel(wheels, "moneyfmt", "1.0")
    _wheel(wheels, "moneyfmt", "2.0")
    _wheel(wheels, "taxcalc", "1.0")


PY = "python3"
CARGO = '[package]\nname = "cart"\nversion = "0.1.0"\nedition = "2021"\n'
PIP = f"{PY} -m pip install --disable-pip-version-check --no-index --find-links wheels --target site"

SCENARIOS: tuple[Scenario, ...] = (
    # ---------------------------------------------------------------------------------------- Python
    Scenario(
        "pytest-assertion",
        "pytest",
        "test",
        {
            "cart.py": "def total(prices, discount):\n    return sum(prices) * (1 - discount) + @BUG@\n",
            "test_cart.py": "from cart import total\n\n\ndef test_plain():\n"
            "    assert total([1, 2], 0) == @PLAIN@\n\n\n"
            "def test_discount():\n    assert total([10, 10], 0.5) == 10\n",
        },
        f"{PY} -m pytest -p no:cacheprovider test_cart.py",
        (r"^E\s+(assert|\+)", r"test_cart\.py:\d+: AssertionError"),
        variants=({"BUG": "1", "PLAIN": "4"}, {"BUG": "0.5", "PLAIN": "3.5"}),
    ),
    Scenario(
        "pytest-fixture-missing",
        "pytest",
        "test",
        {
            "test_db.py": "def test_rows(@FIXTURE@):\n    assert @FIXTURE@.count() == 0\n\n\n"
            "def test_math():\n    assert 2 + 2 == @SUM@\n",
        },
        f"{PY} -m pytest -p no:cacheprovider test_db.py",
        (r"fixture '\w+' not found", r"^E\s+assert", r"test_db\.py:\d+: AssertionError"),
        variants=({"FIXTURE": "db_session", "SUM": "5"}, {"FIXTURE": "tmp_repo", "SUM": "3"}),
    ),
    Scenario(
        "pytest-own-module-import",
        "pytest",
        "test",
        {
            "app/__init__.py": "",
            "app/@MOD@.py": "def create(x):\n    return x\n",
            "tests/test_@MOD@.py": "from app.@MOD@ import create, @NAME@\n\n\ndef test_create():\n"
            "    assert create(1) == 1\n",
        },
        f"{PY} -m pytest -p no:cacheprovider tests",
        (r"ImportError: cannot import name '\w+' from 'app\.",),
        variants=({"MOD": "orders", "NAME": "cancel"}, {"MOD": "billing", "NAME": "refund"}),
    ),
    Scenario(
        "python-own-module-import",
        "python",
        "test",
        {
            "app/__init__.py": "",
            "app/@MOD@.py": "def create(x):\n    return x\n",
            "main.py": "from app.@MOD@ import create, @NAME@\n\nprint(create(1))\n",
        },
        f"{PY} main.py",
        (r"ImportError: cannot import name '\w+' from 'app\.",),
        variants=({"MOD": "orders", "NAME": "cancel"}, {"MOD": "ledger", "NAME": "post_entry"}),
    ),
    Scenario(
        # a syntax error in the code under test, met when pytest imports it at collection: a build failure
        # (categories.md), though pytest reports it
        "pytest-syntax-error",
        "pytest",
        "build",
        {
            "@MOD@.py": "def parse(text)@SIG@\n    return text.split(@CLOSE@\n",
            "test_@MOD@.py": "from @MOD@ import parse\n\n\ndef test_parse():\n"
            "    assert parse('a b') == ['a', 'b']\n",
        },
        f"{PY} -m pytest -p no:cacheprovider",
        (r"^E\s+SyntaxError: ", r'^E\s+File ".*\.py", line \d+'),
        variants=({"MOD": "tokens", "SIG": "", "CLOSE": ")"}, {"MOD": "slugs", "SIG": ":", "CLOSE": ""}),
    ),
    Scenario(
        "unittest-failure",
        "unittest",
        "test",
        {
            "test_slug.py": "import unittest\n\n\ndef slug(s):\n    return s.lower().replace(' ', '_')\n\n\n"
            "class SlugTest(unittest.TestCase):\n    def test_dash(self):\n"
            "        self.assertEqual(slug('@IN@'), '@OUT@')\n\n\nif __name__ == '__main__':\n"
            "    unittest.main()\n",
        },
        f"{PY} -m unittest -v test_slug",
        (r"^AssertionError: '", r"^FAIL: test_dash"),
        variants=({"IN": "Hello World", "OUT": "hello-world"}, {"IN": "A B C", "OUT": "a-b-c"}),
    ),
    Scenario(
        "python-segfault",
        "python",
        "test",
        {
            "crash_test.py": "import ctypes\n\n\ndef test_native():\n    print('test_setup ok')\n"
            "    ctypes.string_at(@ADDR@)\n\n\ntest_native()\n"
        },
        f"{PY} -X faulthandler crash_test.py",
        (r"^Fatal Python error: Segmentation fault", r'^\s*File ".*crash_test\.py", line \d+'),
        variants=({"ADDR": "0"}, {"ADDR": "8"}),
    ),
    Scenario(
        "python-memoryerror",
        "python",
        "infrastructure",
        {"load.py": "print('loading dataset')\nrows = bytearray(@SIZE@)\nprint(len(rows))\n"},
        f"ulimit -v 400000; {PY} load.py",
        (r"^MemoryError",),
        variants=({"SIZE": "10**10"}, {"SIZE": "2**33"}),
    ),
    Scenario(
        "pip-resolution-conflict",
        "pip",
        "dependency",
        {"requirements.txt": "orderlib==1.0\n@OTHER@\n"},
        f"{PIP} -r requirements.txt",
        (
            r"because these package versions have conflicting dependencies",
            r"^The conflict is caused by:",
            r"depends on moneyfmt",
            r"^The user requested moneyfmt",
            r"^ERROR: ResolutionImpossible",
        ),
        variants=({"OTHER": "reportkit==2.0"}, {"OTHER": "moneyfmt==2.0"}),
        prepare=_wheels,
    ),
    Scenario(
        "pip-no-matching-version",
        "pip",
        "dependency",
        {"requirements.txt": "@REQ@\n"},
        f"{PIP} -r requirements.txt",
        (r"Could not find a version that satisfies the requirement", r"No matching distribution found for"),
        variants=({"REQ": "taxcalc==3.1"}, {"REQ": "moneyfmt>=5"}),
        prepare=_wheels,
    ),
    Scenario(
        "mypy-type-error",
        "mypy",
        "build",
        {"prices.py": "def cents(amount: float) -> int:\n    return @RET@\n"},
        "mypy --no-error-summary --strict prices.py || mypy --strict prices.py",
        (r"^prices\.py:\d+: error:",),
        needs=("mypy",),
        variants=({"RET": "str(amount * 100)"}, {"RET": "amount * 100"}),
    ),
    Scenario(
        "ruff-lint",
        "ruff",
        "lint",
        {"util.py": "import @MOD@\n\n\ndef f(x):\n    return x == None\n"},
        "ruff check --no-cache --output-format concise --select F,E711 util.py",
        (r"^util\.py:\d+:\d+: (F401|E711)",),
        needs=("ruff",),
        variants=({"MOD": "os"}, {"MOD": "json"}),
    ),
    # ------------------------------------------------------------------------------------------ Rust
    Scenario(
        "cargo-build-error",
        "cargo",
        "build",
        {
            "Cargo.toml": '[package]\nname = "calc"\nversion = "0.1.0"\nedition = "2021"\n',
            "src/main.rs": 'fn main() {\n    let n: u32 = @VAL@;\n    println!("{}", n);\n}\n',
        },
        "cargo build --offline --color never",
        (r"^error(\[E\d+\])?: ", r"^\s*--> src/main\.rs:\d+:\d+"),
        needs=("cargo",),
        variants=({"VAL": '"seven"'}, {"VAL": "undefined_value"}),
    ),
    Scenario(
        "cargo-test-panic",
        "cargo",
        "test",
        {
            "Cargo.toml": '[package]\nname = "calc"\nversion = "0.1.0"\nedition = "2021"\n',
            "src/lib.rs": "pub fn add(a: i32, b: i32) -> i32 { a + b + @BUG@ }\n\n#[cfg(test)]\nmod tests {\n"
            "    use super::*;\n    #[test]\n    fn it_adds() {\n        assert_eq!(add(2, 2), 4);\n    }\n"
            "    #[test]\n    fn it_is_fine() {\n        assert!(true);\n    }\n}\n",
        },
        "cargo test --offline --color never",
        (
            r"panicked at src/lib\.rs:\d+:\d+",
            r"assertion `left == right` failed",
            r"^\s*left: ",
            r"^\s*right: ",
        ),
        needs=("cargo",),
        variants=({"BUG": "1"}, {"BUG": "2"}),
    ),
    # -------------------------------------------------------------------------------------------- Go
    Scenario(
        "cargo-stack-overflow",
        "cargo",
        "test",
        {
            "Cargo.toml": '[package]\nname = "tree"\nversion = "0.1.0"\nedition = "2021"\n',
            "src/main.rs": "fn depth(n: u64) -> u64 {\n    let pad = [n; @PAD@];\n"
            "    if n == u64::MAX {\n        return pad[0];\n    }\n    depth(n + 1) + pad[3]\n}\n\n"
            'fn main() {\n    println!("walking the tree");\n    println!("{}", depth(0));\n}\n',
            # a script, as CI runs a step: bash reports the abort (`bash -c` would exec cargo and stay silent)
            "ci.sh": "#!/bin/bash\nset -e\ncargo run --offline --color never\n",
        },
        "bash ci.sh",
        (r"has overflowed its stack", r"fatal runtime error: stack overflow"),
        needs=("cargo",),
        variants=({"PAD": "64"}, {"PAD": "512"}),
    ),
    Scenario(
        "go-build-error",
        "go",
        "build",
        {
            "go.mod": "module example.com/calc\n\ngo 1.19\n",
            "main.go": 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println(@EXPR@)\n}\n',
        },
        "go build ./...",
        (r"^\./main\.go:\d+:\d+: ",),
        needs=("go",),
        variants=({"EXPR": "total(3)"}, {"EXPR": '1 + "a"'}),
        env={"GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOCACHE": "/tmp/cimedic-corpus-gocache"},
    ),
    Scenario(
        "go-test-failure",
        "go",
        "test",
        {
            "go.mod": "module example.com/calc\n\ngo 1.19\n",
            "calc.go": "package calc\n\nfunc Add(a, b int) int { return a + b + @BUG@ }\n",
            "calc_test.go": 'package calc\n\nimport "testing"\n\n'
            "func TestAdd(t *testing.T) {\n\tif got := Add(2, 2); got != 4 {\n"
            '\t\tt.Errorf("Add(2, 2) = %d, want 4", got)\n\t}\n}\n',
        },
        "go test ./...",
        (r"^--- FAIL: TestAdd", r"calc_test\.go:\d+: Add\(2, 2\) = \d+, want 4"),
        needs=("go",),
        variants=({"BUG": "1"}, {"BUG": "3"}),
        env={"GOPROXY": "off", "GOCACHE": "/tmp/cimedic-corpus-gocache"},
    ),
    Scenario(
        "go-vet",
        "go",
        "lint",
        {
            "go.mod": "module example.com/calc\n\ngo 1.19\n",
            "main.go": 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Printf("%d\\n", @ARG@)\n}\n',
        },
        "go vet ./...",
        (r"^\./main\.go:\d+:\d+: .*Printf format",),
        needs=("go",),
        variants=({"ARG": '"seven"'}, {"ARG": "3.5"}),
        env={"GOPROXY": "off", "GOCACHE": "/tmp/cimedic-corpus-gocache"},
    ),
    Scenario(
        # a runtime panic inside a test (writing to a nil map, indexing past a slice): the test binary dies
        "go-test-panic",
        "go",
        "test",
        {
            "go.mod": "module example.com/store\n\ngo 1.19\n",
            "store.go": "package store\n\nfunc Put(k string, v int) int {\n\tvar m map[string]int\n"
            "\tvals := []int{1, 2}\n\t@STMT@\n\treturn len(m)\n}\n",
            "store_test.go": 'package store\n\nimport "testing"\n\n'
            'func TestPut(t *testing.T) {\n\tif Put("a", 1) != 1 {\n\t\tt.Fatal("want 1")\n\t}\n}\n',
        },
        "go test ./...",
        (r"^panic: (assignment to entry in nil map|runtime error: index out of range)",),
        needs=("go",),
        variants=({"STMT": "m[k] = v + vals[0]"}, {"STMT": "m = map[string]int{k: vals[v+4]}"}),
        env={"GOPROXY": "off", "GOCACHE": "/tmp/cimedic-corpus-gocache"},
    ),
    Scenario(
        # an import of a module go.mod does not require, with the module proxy off (an offline runner)
        "go-missing-module",
        "go",
        "dependency",
        {
            "go.mod": "module example.com/api\n\ngo 1.19\n",
            "main.go": 'package main\n\nimport (\n\t"fmt"\n\n\t"@MODULE@"\n)\n\n'
            "func main() {\n\tfmt.Println(@CALL@)\n}\n",
        },
        "go build ./...",
        (r"no required module provides package", r"module lookup disabled by GOPROXY=off"),
        needs=("go",),
        variants=(
            {"MODULE": "github.com/google/uuid", "CALL": "uuid.NewString()"},
            {"MODULE": "golang.org/x/text/language", "CALL": "language.English"},
        ),
        env={"GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOCACHE": "/tmp/cimedic-corpus-gocache"},
    ),
    # ----------------------------------------------------------------------------------------- C/C++
    Scenario(
        "gcc-compile-error",
        "gcc",
        "build",
        {
            "Makefile": "all: app\napp: main.c\n\tgcc -Wall -o app main.c\n",
            "main.c": "#include <stdio.h>\nint main(void) {\n    int n = @EXPR@;\n"
            '    printf("%d\\n", n);\n    return 0;\n}\n',
        },
        "make",
        (r"^main\.c:\d+:\d+: error: ",),
        needs=("gcc", "make"),
        variants=({"EXPR": "items_len + 1"}, {"EXPR": "undeclared_total"}),
    ),
    Scenario(
        # AddressSanitizer's report from a test binary built with -fsanitize=address (gcc's libasan).
        "asan-memory-error",
        "asan",
        "test",
        {
            "Makefile": "check: cart_test\n\t./cart_test\ncart_test: cart.c\n"
            "\tgcc -g -fsanitize=address -o cart_test cart.c\n",
            "cart.c": "#include <stdio.h>\n#include <stdlib.h>\n\n"
            "static int total(const int *prices, int n) {\n  int sum = 0;\n"
            "  for (int i = 0; i < n; i++) sum += prices[i];\n  return sum;\n}\n\n"
            "int main(void) {\n  int *prices = malloc(3 * sizeof(int));\n"
            "  prices[0] = 2;\n  prices[1] = 3;\n  prices[2] = 4;\n  @BEFORE@\n"
            '  printf("total %d\\n", total(prices, @N@));\n  free(prices);\n  return 0;\n}\n',
        },
        "make check",
        (r"ERROR: AddressSanitizer: ", r"^(READ|WRITE) of size \d+", r"^SUMMARY: AddressSanitizer: "),
        needs=("gcc", "make"),
        variants=({"BEFORE": "free(prices);", "N": "3"}, {"BEFORE": "", "N": "4"}),
    ),
    Scenario(
        "clang-compile-error",
        "clang",
        "build",
        {
            "Makefile": "all: app\napp: main.c\n\tclang -Wall -o app main.c\n",
            "main.c": "#include <stdio.h>\n\nstruct cart { int items; };\n\nint main(void) {\n"
            '    struct cart c = {3};\n    printf("%d\\n", @EXPR@);\n    return 0;\n}\n',
        },
        "make",
        (r"^main\.c:\d+:\d+: error: ",),
        needs=("clang", "make"),
        variants=({"EXPR": "c.count"}, {"EXPR": "c * 2"}),
    ),
    Scenario(
        "gcc-link-error",
        "gcc",
        "build",
        {
            "Makefile": "app: main.o\n\tgcc -o app main.o\nmain.o: main.c\n\tgcc -c main.c\n",
            "main.c": "int @SYM@(int);\nint main(void) { return @SYM@(1); }\n",
        },
        "make",
        (r"undefined reference to `\w+'", r"ld returned 1 exit status"),
        needs=("gcc", "make"),
        variants=({"SYM": "parse_config"}, {"SYM": "checksum"}),
    ),
    Scenario(
        "c-test-segfault",
        "gcc",
        "test",
        {
            "Makefile": "test: tests\n\t./tests\ntests: tests.c\n\tgcc -O0 -o tests tests.c\n",
            "tests.c": "#include <stdio.h>\n#include <string.h>\n"
            'static void test_ok(void) { printf("PASS: test_parse_empty\\n"); }\n'
            "static void test_crash(void) { char *p = @PTR@; "
            'printf("running test_parse_header\\n"); fflush(stdout); '
            'p[0] = 1; printf("%zu\\n", strlen(p)); }\n'
            "int main(void) { test_ok(); test_crash(); return 0; }\n",
        },
        "make test",
        (r"Segmentation fault",),
        needs=("gcc", "make"),
        variants=({"PTR": "NULL"}, {"PTR": "(char *)16"}),
    ),
    Scenario(
        "c-test-abort",
        "gcc",
        "test",
        {
            "run.sh": "#!/bin/bash\ngcc -o tests tests.c\necho 'running tests'\n./tests\n",
            "tests.c": "#include <assert.h>\n#include <stdio.h>\n"
            'int main(void) { printf("checking sizes\\n"); fflush(stdout); '
            "assert(sizeof(int) == @N@); return 0; }\n",
        },
        "bash run.sh",
        (r"Assertion `sizeof\(int\) == \d+' failed", r"Aborted"),
        needs=("gcc",),
        variants=({"N": "8"}, {"N": "2"}),
    ),
    Scenario(
        "c-test-sigfpe",
        "gcc",
        "test",
        {
            "Makefile": "test: tests\n\t./tests\ntests: tests.c\n\tgcc -O0 -o tests tests.c\n",
            "tests.c": "#include <stdio.h>\nstatic int avg(int sum, int n) { return sum / n; }\n"
            'int main(int argc, char **argv) { printf("PASS: test_avg_one\\n"); fflush(stdout); '
            'printf("%d\\n", avg(@SUM@, argc - 1)); return 0; }\n',
            "run.sh": "#!/bin/bash\nset -e\ngcc -O0 -o tests tests.c\n./tests\n",
        },
        "@RUN@",
        (r"Floating point exception",),
        needs=("gcc", "make"),
        variants=({"SUM": "10", "RUN": "make test"}, {"SUM": "7", "RUN": "bash run.sh"}),
    ),
    Scenario(
        "cxx-uncaught-exception",
        "g++",
        "test",
        {
            "Makefile": "test: tests\n\t./tests\ntests: tests.cpp\n\tg++ -O0 -o tests tests.cpp\n",
            "tests.cpp": "#include <iostream>\n#include <map>\n#include <string>\n#include <vector>\n"
            'int main() {\n    std::cout << "PASS: config_defaults" << std::endl;\n'
            "    std::map<std::string, int> conf;\n    std::vector<int> v(2);\n    return @EXPR@;\n}\n",
        },
        "make test",
        (r"terminate called after throwing an instance of", r"^\s*what\(\):"),
        needs=("g++", "make"),
        variants=({"EXPR": 'conf.at("timeout")'}, {"EXPR": "v.at(7)"}),
    ),
    Scenario(
        # make relays how a recipe ended (GNU make manual, "Errors Generated by Make"): a signal by its
        # description (`make: *** [Makefile:3: build] Killed`), an exit status as `Error N` (timeout(1)'s 124,
        # a shell's 128 + 9 for SIGKILL); the program's own lines say nothing of why.
        "make-relayed-kill-or-timeout",
        "make",
        "infrastructure",
        {
            "stop.py": "import os, signal, time\nprint('@WHAT@', flush=True)\n"
            "if '@HOW@' == 'kill':\n    os.kill(os.getpid(), signal.SIGKILL)\ntime.sleep(30)\n",
            "Makefile": "build:\n\t@echo compiling assets\n\t@RECIPE@\n",
        },
        "make build",
        # the shell's own report (`Killed`, when make ran the recipe through sh) states it too
        (r"^make: \*\*\* \[Makefile:\d+: build\] (Killed|Error 1[23][47])", r"^Killed$"),
        needs=("make",),
        variants=(
            {"HOW": "kill", "WHAT": "bundling 4200 modules", "RECIPE": f"{PY} stop.py"},
            {"HOW": "kill", "WHAT": "linking", "RECIPE": f"sh -c '{PY} stop.py; exit $$?'"},
            {"HOW": "wait", "WHAT": "waiting for postgres", "RECIPE": f"timeout 2 {PY} stop.py"},
        ),
    ),
    Scenario(
        # The job's script opens its own collapsible GitLab sections
        # (https://docs.gitlab.com/ee/ci/jobs/#custom-collapsible-sections) around the failing command.
        "gcc-in-script-sections",
        "gcc",
        "build",
        {
            "ci.sh": "#!/bin/bash\nset -e\n"
            'echo -e "section_start:$(date +%s):@SECTION@[collapsed=true]\\r\\e[0KBuilding"\n'
            'make\necho -e "section_end:$(date +%s):@SECTION@\\r\\e[0K"\n',
            "Makefile": "app: main.c\n\tgcc -Wall -o app main.c\n",
            "main.c": "#include <stdio.h>\nint main(void) {\n    int n = @EXPR@;\n"
            '    printf("%d\\n", n);\n    return 0;\n}\n',
        },
        "bash ci.sh",
        (r"^main\.c:\d+:\d+: error: ",),
        needs=("gcc", "make"),
        variants=(
            {"SECTION": "compile", "EXPR": "rows_len"},
            {"SECTION": "build_app", "EXPR": "total_count * 2"},
        ),
    ),
    Scenario(
        "c-shared-library-missing",
        "gcc",
        "dependency",
        {
            "greet.c": 'const char *greet(void) { return "hi"; }\n',
            "main.c": "#include <stdio.h>\nconst char *greet(void);\n"
            "int main(void) { puts(greet()); return 0; }\n",
            # built against the library, which the runner then lacks (a package not installed there)
            "ci.sh": "#!/bin/bash\nset -e\ngcc -shared -fPIC -o lib@LIB@.so greet.c\n"
            "gcc -o @APP@ main.c -L. -l@LIB@\nrm lib@LIB@.so\necho 'running smoke test'\n./@APP@\n",
        },
        "bash ci.sh",
        (r"error while loading shared libraries: lib\w+\.so",),
        needs=("gcc",),
        variants=({"LIB": "greet", "APP": "app"}, {"LIB": "tiff5", "APP": "thumbnailer"}),
    ),
    Scenario(
        "ctest-failure",
        "cmake",
        "test",
        {
            "CMakeLists.txt": "cmake_minimum_required(VERSION 3.10)\nproject(calc C)\nenable_testing()\n"
            "add_executable(t_ok ok.c)\nadd_executable(t_bad bad.c)\n"
            "add_test(NAME calc_ok COMMAND t_ok)\nadd_test(NAME @TEST@ COMMAND t_bad)\n",
            "ok.c": "int main(void) { return 0; }\n",
            "bad.c": "#include <stdio.h>\n"
            'int main(void) { printf("expected 0 tokens, got @GOT@\\n"); return 1; }\n',
        },
        "cmake -S . -B build && cmake --build build && cd build && ctest",
        (
            r"Test +#\d+: \w+ \.+\*+Failed",
            r"^\s*\d+ - \w+ \(Failed\)",
            r"tests passed, 1 tests failed out of 2",
        ),
        needs=("cmake", "ctest"),
        variants=({"TEST": "parser_empty", "GOT": "1"}, {"TEST": "lexer_unicode", "GOT": "3"}),
    ),
    Scenario(
        # dependency, as the LogChunks labellers call CMake's `Could NOT find Halide` (BVLC/caffe) and
        # categories.md "package ... not found": the runner lacks a package the build needs
        "cmake-missing-package",
        "cmake",
        "dependency",
        {
            "CMakeLists.txt": "cmake_minimum_required(VERSION 3.10)\nproject(app C)\n"
            "find_package(@PKG@ REQUIRED)\n"
        },
        "cmake -S . -B build",
        (
            r"^CMake Error at CMakeLists\.txt:\d+ \(find_package\):",
            r"Could not find a package configuration file provided by",
        ),
        needs=("cmake",),
        variants=({"PKG": "Frobnicate"}, {"PKG": "LibWidget"}),
    ),
    # ------------------------------------------------------------------------------------------- JVM
    Scenario(
        "javac-error",
        "javac",
        "build",
        {
            "src/Main.java": "public class Main {\n    public static void main(String[] args) {\n"
            "        int n = @EXPR@;\n        System.out.println(n);\n    }\n}\n"
        },
        "mkdir -p out && javac -d out src/Main.java",
        (r"^src/Main\.java:\d+: error: ",),
        needs=("javac",),
        variants=({"EXPR": "countItems()"}, {"EXPR": '"seven"'}),
    ),
    Scenario(
        # `mvn -o` with a plugin version never downloaded into ~/.m2: a dependency left unresolved.
        "maven-offline-plugin-missing",
        "maven",
        "dependency",
        {
            "pom.xml": '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
            "  <modelVersion>4.0.0</modelVersion>\n"
            "  <groupId>com.acme</groupId>\n  <artifactId>orders</artifactId>\n  <version>1.0</version>\n"
            "  <build>\n    <plugins>\n      <plugin>\n        <groupId>org.apache.maven.plugins</groupId>\n"
            "        <artifactId>@PLUGIN@</artifactId>\n        <version>@VERSION@</version>\n"
            "      </plugin>\n    </plugins>\n  </build>\n</project>\n",
        },
        "mvn -o -B test",
        (
            r"^\[ERROR\] Plugin org\.apache\.maven\.plugins:[\w-]+:[\w.-]+ "
            r"or one of its dependencies could not",
        ),
        needs=("mvn",),
        variants=(
            {"PLUGIN": "maven-surefire-plugin", "VERSION": "3.1.9"},
            {"PLUGIN": "maven-resources-plugin", "VERSION": "3.0.9"},
        ),
    ),
    Scenario(
        # JUnit 5 under Surefire, offline: the plugin and library versions this machine's ~/.m2 holds
        "maven-test-failure",
        "maven",
        "test",
        {
            "pom.xml": '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
            "  <modelVersion>4.0.0</modelVersion>\n"
            "  <groupId>com.acme</groupId>\n  <artifactId>orders</artifactId>\n  <version>1.0</version>\n"
            "  <properties>\n    <maven.compiler.release>17</maven.compiler.release>\n"
            "    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>\n  </properties>\n"
            "  <dependencies>\n"
            + "".join(
                "    <dependency>\n      <groupId>org.junit.jupiter</groupId>\n"
                f"      <artifactId>{a}</artifactId>\n      <version>5.10.2</version>\n"
                "      <scope>test</scope>\n    </dependency>\n"
                for a in ("junit-jupiter-api", "junit-jupiter-engine")
            )
            + "  </dependencies>\n  <build>\n    <plugins>\n"
            + "".join(
                "      <plugin>\n        <groupId>org.apache.maven.plugins</groupId>\n"
                f"        <artifactId>maven-{a}-plugin</artifactId>\n        <version>{v}</version>\n"
                "      </plugin>\n"
                for a, v in (("resources", "3.3.1"), ("compiler", "3.13.0"), ("surefire", "3.2.5"))
            )
            + "    </plugins>\n  </build>\n</project>\n",
            "src/main/java/com/acme/Cart.java": "package com.acme;\n\npublic class Cart {\n"
            "    public static int total(int a, int b) {\n        return a + b@BUG@;\n    }\n}\n",
            "src/test/java/com/acme/CartTest.java": "package com.acme;\n\n"
            "import static org.junit.jupiter.api.Assertions.assertEquals;\n\n"
            "import org.junit.jupiter.api.Test;\n\nclass CartTest {\n    @Test\n"
            "    void @TEST@() {\n        assertEquals(5, Cart.total(2, 3));\n    }\n\n    @Test\n"
            "    void empty() {\n        assertEquals(0, Cart.total(0, 0) - Cart.total(0, 0));\n    }\n}\n",
        },
        "mvn -o -B test",
        (r"<<< FAILURE!", r"AssertionFailedError: expected: <5>", r"^\[ERROR\]\s+CartTest\.\w+:\d+ expected"),
        needs=("mvn",),
        variants=({"BUG": " + 1", "TEST": "addsTwoPrices"}, {"BUG": " * 2", "TEST": "totalOfTwo"}),
    ),
    # ------------------------------------------------------------------------------------------ Node
    Scenario(
        "node-test-failure",
        "node",
        "test",
        {
            "package.json": '{"name": "calc", "version": "1.0.0", "scripts": {"test": "node --test"}}\n',
            "test/calc.test.js": "const test = require('node:test');\n"
            "const assert = require('node:assert');\n\n"
            "test('adds', () => {\n  assert.strictEqual(2 + 2, @WANT@);\n});\n\ntest('ok', () => {\n"
            "  assert.ok(true);\n});\n",
        },
        "npm test",
        (
            r"^\s*not ok \d+ - adds",
            r"Expected values to be strictly equal",
            r"^\s*actual: ",
            r"^\s*expected: ",
        ),
        needs=("node", "npm"),
        variants=({"WANT": "5"}, {"WANT": "22"}),
    ),
    Scenario(
        "node-heap-oom",
        "node",
        "infrastructure",
        {
            "build.js": "const chunks = [];\nconsole.log('bundling');\n"
            "for (;;) chunks.push(new Array(@N@).fill('x'));\n"
        },
        "node --max-old-space-size=48 build.js",
        (r"JavaScript heap out of memory",),
        needs=("node",),
        variants=({"N": "100000"}, {"N": "250000"}),
    ),
    Scenario(
        "npm-missing-script",
        "npm",
        "configuration",
        {"package.json": '{"name": "site", "version": "1.0.0", "scripts": {"build": "echo build"}}\n'},
        "npm run @SCRIPT@",
        (r"^npm (ERR!|error) Missing script: ",),
        needs=("npm",),
        variants=({"SCRIPT": "lint"}, {"SCRIPT": "test:e2e"}),
    ),
    Scenario(
        "npm-ci-no-lockfile",
        "npm",
        "dependency",
        {"package.json": '{"name": "@NAME@", "version": "1.0.0"}\n'},
        "npm ci --offline",
        (r"^npm (ERR!|error) .*can only install with an existing package-lock\.json",),
        needs=("npm",),
        variants=({"NAME": "site"}, {"NAME": "api"}),
    ),
    # ----------------------------------------------------------------------------------------- Shell
    Scenario(
        "shellcheck",
        "shellcheck",
        "lint",
        {"deploy.sh": "#!/bin/bash\nfor f in $(ls @DIR@); do\n  cp $f /tmp\ndone\n"},
        "shellcheck deploy.sh",
        (r"^In deploy\.sh line \d+:", r"SC\d{4}"),
        needs=("shellcheck",),
        variants=({"DIR": "dist"}, {"DIR": "build/out"}),
    ),
    Scenario(
        "bash-command-not-found",
        "bash",
        "configuration",
        {"ci.sh": "#!/bin/bash\nset -e\necho 'preparing'\n@TOOL@ --version\necho done\n"},
        "bash ci.sh",
        (r"ci\.sh: line \d+: [\w-]+: command not found",),
        variants=({"TOOL": "protoc-gen-go"}, {"TOOL": "helmfile"}),
    ),
    Scenario(
        "killed-sigkill",
        "bash",
        "infrastructure",
        {
            "build.sh": "#!/bin/bash\necho 'compiling assets'\necho 'step 1/3'\n"
            f'{PY} -c \'import os, signal; print("@WHAT@", flush=True); '
            "os.kill(os.getpid(), signal.SIGKILL)'\n",
        },
        "bash ./build.sh",
        (r"line \d+: +\d+ Killed",),
        variants=({"WHAT": "linking bundle"}, {"WHAT": "indexing 120000 records"}),
    ),
    Scenario(
        "timeout-service-wait",
        "bash",
        "infrastructure",
        {
            "wait.sh": "#!/bin/bash\necho 'waiting for @SERVICE@ on port @PORT@'\n"
            "set -e\ntimeout 3 bash -c 'until (echo > /dev/tcp/127.0.0.1/@PORT@) 2>/dev/null; "
            'do echo "@SERVICE@ not ready"; sleep 1; done\'\n'
            "echo '@SERVICE@ is up'\n",
        },
        "bash wait.sh",
        (r"exit code 124",),
        variants=({"SERVICE": "postgres", "PORT": "59432"}, {"SERVICE": "redis", "PORT": "59379"}),
    ),
    # ---------------------------------------------------- tools installed for the corpus (held out)
    Scenario(
        "tsc-type-error",
        "tsc",
        "build",
        {
            "tsconfig.json": '{"compilerOptions": {"strict": true, "noEmit": true, "target": "es2022"},'
            ' "include": ["src"]}\n',
            "src/cart.ts": "export interface Item {\n  price: number;\n  qty: number;\n}\n\n"
            "export function total(items: Item[]): number {\n  let sum = 0;\n"
            "  for (const item of items) {\n    sum += item.price * item.qty;\n  }\n  return @RETURN@;\n}\n",
        },
        "tsc -p .",
        (r"^src/cart\.ts\(\d+,\d+\): error TS\d+: ",),
        needs=("tsc",),
        variants=({"RETURN": "sum.toFixed(2)"}, {"RETURN": "items.length ? sum : items.total"}),
    ),
    Scenario(
        "eslint-errors",
        "eslint",
        "lint",
        {
            "eslint.config.mjs": "export default [{files: ['**/*.js'], rules: {'no-unused-vars': 'error',"
            " 'eqeqeq': 'error'}, languageOptions: {sourceType: 'commonjs',"
            " globals: {module: 'readonly', require: 'readonly'}}}];\n",
            "cart.js": "@IMPORT@\nfunction total(prices) {\n  let sum = 0;\n"
            "  for (const p of prices) sum += p;\n  if (sum @CMP@ null) return 0;\n  return sum;\n}\n\n"
            "module.exports = { total };\n",
        },
        "eslint .",
        (r"^\s*\d+:\d+\s+error\s+\S",),
        needs=("eslint",),
        variants=(
            {"IMPORT": "const path = require('path');\n", "CMP": "=="},
            {"IMPORT": "const fs = require('fs');\nconst os = require('os');\n", "CMP": "==="},
        ),
    ),
    Scenario(
        "mocha-assertion",
        "mocha",
        "test",
        {
            "cart.js": "function total(prices) {\n  return prices.reduce((a, b) => a + b, @START@);\n}\n"
            "module.exports = { total };\n",
            "test/cart.test.js": "const assert = require('node:assert');\n"
            "const { total } = require('../cart');\n\ndescribe('cart', () => {\n"
            "  it('adds two prices', () => {\n    assert.strictEqual(total([2, 3]), 5);\n  });\n"
            "  it('keeps one price', () => {\n    assert.ok(total([4]) > 0);\n  });\n});\n",
        },
        "mocha 'test/**/*.test.js'",
        (r"AssertionError \[ERR_ASSERTION\]", r"^\s*\d+ !== 5$"),
        needs=("mocha",),
        variants=({"START": "1"}, {"START": "-2"}),
    ),
    Scenario(
        "flake8-findings",
        "flake8",
        "lint",
        {
            "app/report.py": "@IMPORT@\n\ndef summary(rows):\n    if rows @CMP@ None:\n        return ''\n"
            "    return ', '.join(str(r) for r in rows)\n",
        },
        f"{PY} -m flake8 app",
        (r"^app/report\.py:\d+:\d+: [EFW]\d{3} ",),
        needs=("flake8",),
        variants=({"IMPORT": "import os", "CMP": "is"}, {"IMPORT": "import json", "CMP": "=="}),
    ),
    Scenario(
        "jest-assertion",
        "jest",
        "test",
        {
            "package.json": '{"name": "cart", "version": "1.0.0"}\n',
            "cart.js": "function total(prices) {\n  return prices.reduce((a, b) => a + b, @START@);\n}\n"
            "module.exports = { total };\n",
            "cart.test.js": "const { total } = require('./cart');\n\ntest('adds two prices', () => {\n"
            "  expect(total([2, 3])).toBe(5);\n});\n\ntest('keeps one price', () => {\n"
            "  expect(total([4])).toBeGreaterThan(0);\n});\n",
        },
        "jest --ci",
        (r"^\s*● adds two prices$", r"^\s*Expected: 5$", r"^\s*Received: -?\d+$"),
        needs=("jest",),
        variants=({"START": "1"}, {"START": "-2"}),
    ),
    Scenario(
        "prettier-check",
        "prettier",
        "lint",
        {"src/@NAME@.js": "const  total = (prices)=>prices.reduce((a,b)=>a+b,0)\nmodule.exports = {total}\n"},
        "prettier --check src",
        (r"^\[warn\] src/\S+\.js$", r"^\[warn\] Code style issues found"),
        needs=("prettier",),
        variants=({"NAME": "cart"}, {"NAME": "ledger"}),
    ),
    Scenario(
        "bats-failure",
        "bats",
        "test",
        {
            "test/greet.bats": '#!/usr/bin/env bats\n\n@test "greets by name" {\n'
            '  run bash -c "echo hello @WHO@"\n  [ "$output" = "hello alice" ]\n}\n\n'
            '@test "exits zero" {\n  run true\n  [ "$status" -eq 0 ]\n}\n',
        },
        "bats test",
        (r"^not ok \d+ greets by name", r"^#\s+`.*' failed$"),
        needs=("bats",),
        variants=({"WHO": "bob"}, {"WHO": "carol"}),
    ),
    Scenario(
        "black-check",
        "black",
        "lint",
        {"app/@NAME@.py": "def total( prices ):\n    return sum( prices )\n"},
        f"{PY} -m black --check app",
        (r"^would reformat ",),
        needs=("black",),
        variants=({"NAME": "cart"}, {"NAME": "ledger"}),
    ),
    Scenario(
        "pylint-findings",
        "pylint",
        "lint",
        {
            "app/@NAME@.py": '"""Totals."""\n\nimport os\n\n\ndef total(prices):\n    """Sum."""\n'
            "    return sum(prices) + @NAME@_fee\n"
        },
        f"{PY} -m pylint --persistent=n app",
        (r"^app/\w+\.py:\d+:\d+: [CRWEF]\d{4}: ",),
        needs=("pylint",),
        variants=({"NAME": "cart"}, {"NAME": "ledger"}),
    ),
    Scenario(
        # Yarn 1 offline with an empty cache: the package cannot be resolved.
        "yarn-offline-missing",
        "yarn",
        "dependency",
        {"package.json": '{"name": "site", "version": "1.0.0", "dependencies": {"@PKG@": "^@VERSION@"}}\n'},
        "yarn install --offline --non-interactive --no-progress",
        (r"^error Couldn't find any versions for ",),
        needs=("yarn",),
        variants=({"PKG": "left-pad", "VERSION": "1.3.0"}, {"PKG": "dayjs", "VERSION": "1.11.0"}),
        env={"YARN_CACHE_FOLDER": ".yarn-cache"},
    ),
    Scenario(
        "clippy-lints",
        "clippy",
        "lint",
        {
            "Cargo.toml": CARGO,
            "src/main.rs": "fn main() {\n    let prices = vec![2, 3];\n    let n = prices.len();\n"
            '    if n == n {\n        println!("{}", n);\n    }\n    let @UNUSED@ = 5;\n}\n',
        },
        "cargo clippy --offline --color never -- -D warnings",
        (r"^error: (unused variable|equal expressions|useless use of `vec!`)",),
        needs=("cargo-clippy",),
        variants=({"UNUSED": "fee"}, {"UNUSED": "tax"}),
    ),
    Scenario(
        "rustfmt-check",
        "rustfmt",
        "lint",
        {
            "Cargo.toml": CARGO,
            "src/main.rs": "fn main() {\n    let @NAME@ = 2;\n"
            '    if @NAME@ > 1 { println!("{}", @NAME@); }\n}\n',
        },
        "cargo fmt --check",
        (r"^Diff in ",),
        needs=("rustfmt",),
        variants=({"NAME": "total"}, {"NAME": "count"}),
    ),
)


# ---------------------------------------------------------------------------------------- dressing


def _lines(text: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", text.rstrip("\n"))


def dress_github(command: str, setup: str, output: str, code: int, index: int) -> str:
    """GitHub Actions' raw log: every line timestamped (unique, 100 ns resolution as the runner writes),
    steps in ##[group] blocks, the step's exit as an ##[error] line."""
    t = EPOCH + timedelta(minutes=index)
    out = []

    def emit(line: str) -> None:
        nonlocal t
        t += timedelta(microseconds=137_411 + len(out) * 13)
        out.append(t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z " + line)

    emit("##[group]Runner Image")
    emit("Image: ubuntu-24.04")
    emit("##[endgroup]")
    emit("##[group]Run actions/checkout@v4")
    emit("Syncing repository: example/project")
    emit("##[endgroup]")
    emit("##[group]Run pip list")
    emit("pip list")
    emit("##[endgroup]")
    for line in _lines(setup):
        emit(line)
    emit(f"##[group]Run {command}")
    emit(f"{command}")
    emit("shell: /usr/bin/bash -e {0}")
    emit("##[endgroup]")
    for line in _lines(output):
        emit(line)
    emit(f"##[error]Process completed with exit code {code}.")
    emit("Post job cleanup.")
    return "\n".join(out) + "\n"


def dress_gitlab(command: str, setup: str, output: str, code: int, index: int) -> str:
    """GitLab CI's job log: collapsible sections (`section_start:<unix>:<name>\\r\\x1b[0K`), the command
    echoed with `$ `, and the runner's closing `ERROR: Job failed: exit code N`."""
    ts = int((EPOCH + timedelta(minutes=index)).timestamp())
    head = [
        "\x1b[0KRunning with gitlab-runner 17.5.0 (abc123de)\x1b[0;m",
        f"section_start:{ts}:prepare_executor\r\x1b[0K"
        '\x1b[0K\x1b[36;1mPreparing the "docker" executor\x1b[0;m',
        "\x1b[0KUsing Docker executor with image python:3.11 ...\x1b[0;m",
        f"section_end:{ts + 4}:prepare_executor\r\x1b[0K",
        f"section_start:{ts + 5}:step_script\r\x1b[0K"
        '\x1b[0K\x1b[36;1mExecuting "step_script" stage of the job script\x1b[0;m',
        f"\x1b[32;1m$ {SETUP}\x1b[0;m",
        *_lines(setup),
        f"\x1b[32;1m$ {command}\x1b[0;m",
    ]
    tail = [
        f"section_end:{ts + 40}:step_script\r\x1b[0K",
        f"section_start:{ts + 41}:cleanup_file_variables\r\x1b[0K"
        "\x1b[0K\x1b[36;1mCleaning up project directory and file based variables\x1b[0;m",
        f"section_end:{ts + 42}:cleanup_file_variables\r\x1b[0K",
        f"\x1b[31;1mERROR: Job failed: exit code {code}\n\x1b[0;m",
    ]
    return "\n".join([*head, *_lines(output), *tail]) + "\n"


def key_lines(log: str, patterns: tuple[str, ...]) -> list[str]:
    """The log's lines that state the injected fault, as scored (timestamp, ANSI, CR markup removed)."""
    found = []
    for raw in re.split(r"\r\n|\n", log):
        line = ANSI.sub("", raw.rsplit("\r", 1)[-1])
        line = re.sub(r"^\d{4}-\d\d-\d\dT[\d:.]+Z ", "", line)
        if any(re.search(p, line) for p in patterns):
            found.append(line)
    return found


def run_scenario(
    s: Scenario, values: dict[str, str], work: Path, search_path: str, tool_env: dict[str, str]
) -> tuple[int, str, str] | None:
    project = work / (s.name + "-" + "-".join(re.sub(r"\W", "", v)[:12] for v in values.values()))
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    for rel, text in s.files.items():
        path = project / _fill(rel, values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_fill(text, values))
    if s.prepare is not None:
        s.prepare(project)
    # A fresh, small environment: no colours the engine would not see in CI, no secrets of this shell.
    env = {
        "PATH": search_path,
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        **tool_env,
        **s.env,
    }
    try:
        setup = subprocess.run(
            ["bash", "-c", SETUP], cwd=project, env=env, capture_output=True, timeout=TIMEOUT, check=False
        )
        done = subprocess.run(
            ["bash", "-c", _fill(s.command, values)],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    return done.returncode, setup.stdout.decode("utf-8", "replace"), done.stdout.decode("utf-8", "replace")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("/tmp/cimedic-corpus"))
    ap.add_argument("--only", help="comma-separated tools")
    ap.add_argument("--labels", type=Path, help="also write the labels here (the committed copy)")
    ap.add_argument("--tools", type=Path, help="where the pinned tools go (default <out>/tools)")
    args = ap.parse_args(argv)
    tool_path, tool_env = install_tools(args.tools or args.out / "tools")
    path = f"{tool_path}:{SEARCH_PATH}"
    only = set(args.only.split(",")) if args.only else None
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    labels = []
    index = 0
    for s in SCENARIOS:
        if only and s.tool not in only:
            continue
        missing = [n for n in s.needs if shutil.which(n, path=path) is None]
        if missing:
            print(f"skip {s.name}: {', '.join(missing)} not installed", file=sys.stderr)
            continue
        for n, values in enumerate(s.variants):
            ran = run_scenario(s, values, args.out / "work", path, tool_env)
            if ran is None:
                print(f"skip {s.name}#{n}: timed out", file=sys.stderr)
                continue
            code, setup, output = ran
            if code == 0:
                print(f"skip {s.name}#{n}: the run did not fail", file=sys.stderr)
                continue
            command = _fill(s.command, values)
            forms = {
                "plain": setup + output,
                "github": dress_github(command, setup, output, code, index),
                "gitlab": dress_gitlab(command, setup, output, code, index),
            }
            index += 1
            for form, log in forms.items():
                keys = key_lines(log, s.key)
                if not keys:
                    print(f"skip {s.name}#{n} {form}: no key line in the output", file=sys.stderr)
                    continue
                case_id = f"{s.name}-{n}-{form}"
                (logs / f"{case_id}.log").write_text(log)
                labels.append(
                    {
                        "id": case_id,
                        "tool": s.tool,
                        "scenario": s.name,
                        "form": form,
                        "category": s.category,
                        "exit_code": code,
                        "key_lines": keys,
                        "log": f"logs/{case_id}.log",
                    }
                )
            print(f"{s.name}#{n}: exit {code}, {len(_lines(output))} lines", file=sys.stderr)
    text = "".join(json.dumps(x) + "\n" for x in labels)
    (args.out / "labels.jsonl").write_text(text)
    if args.labels:
        args.labels.write_text(text)
    print(f"{len(labels)} cases in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
