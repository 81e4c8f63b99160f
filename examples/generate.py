#!/usr/bin/env python3
# ruff: noqa: E101  (the Go sources below are indented with tabs, as gofmt writes them)
"""Produce the example logs in examples/ by really running failing builds on this machine.

    python examples/generate.py                 # run every example whose tool is available
    python examples/generate.py --only cargo-build-error --only go-test-failure
    python examples/generate.py --redress       # no runs: re-dress the committed captures only

For each example a small project is written to a fixed work directory (default /tmp/cimedic-examples/<name>,
fixed so that paths in the logs stay the same from one regeneration to the next), its set-up commands and
then its failing command are run with bash, and the combined stdout+stderr of the failing command is saved
byte for byte as examples/<name>.log: the plain form, as a user would pipe it to `cimedic analyze`.
Colours are forced where the tool supports it (FORCE_COLOR, --color=yes, CARGO_TERM_COLOR, --pretty), as CI
configurations commonly do, so the captures hold real ANSI escapes.

Each capture is then dressed, deterministically, as a GitHub Actions job log (examples/github/<name>.log)
and a GitLab CI job trace (examples/gitlab/<name>.log). The dressing (runner set-up noise, step groups,
sections, timestamps, the final error line) is synthetic; the command output inside it is the real capture,
and the output of the set-up commands shown before it was really captured too. examples/manifest.json
records, per example, the command, its exit code, the tool versions, the set-up captures and, for every
form, the line number (1-based, counting \\r\\n, \\r and \\n as breaks) of the first line of the captured
output, so tests can map a line of a dressed log back to the plain capture.

Stdlib only. Needs: the project's .venv (python, pytest, ruff), npm (TypeScript is installed into the example
directory from the npm registry), go (Debian: `apt-get install -y golang-go`), cargo. A missing tool skips
its example with a message; its previous files are kept.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MANIFEST = HERE / "manifest.json"
TYPESCRIPT_VERSION = "5.9.3"
SYSTEM_CA = "/etc/ssl/certs/ca-certificates.crt"  # Debian's CA bundle; the pip examples verify TLS against it
# The moment the dressed jobs "ran"; example i starts i * 7 minutes later.
EPOCH = datetime(2026, 11, 24, 8, 15, 0, tzinfo=UTC)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


@dataclass(frozen=True)
class Example:
    name: str
    summary: str
    needs: str  # executable that must be on PATH
    command: str  # the failing step, run with `bash -e -c`
    files: dict[str, str]
    setup: tuple[str, ...] = ()  # real commands run (and captured) before the failing step
    env: dict[str, str] = field(default_factory=dict)  # step environment, also shown in the dressed logs
    expected_category: str = "unknown"  # what a developer would call it (docs/categories.md)
    versions: tuple[str, ...] = ()  # commands that print the tool versions, for the manifest/README
    # dressing
    job: str = "build"
    gh_setup: tuple[str, dict[str, str], tuple[str, ...]] | None = None  # action, with:, output lines
    gl_image: str = "debian:bookworm-slim"


EXAMPLES: tuple[Example, ...] = (
    Example(
        name="pytest-assertion",
        summary="pytest: one test of four fails on an assertion (a wrong discount in a shopping cart).",
        needs="python",
        command="python -m pytest",
        setup=("python --version",),
        env={"FORCE_COLOR": "1"},
        expected_category="test",
        versions=("python --version", "python -m pytest --version"),
        job="test",
        gh_setup=(
            "actions/setup-python@v6",
            {"python-version": "3.11", "check-latest": "false", "update-environment": "true"},
            ("##[group]Installed versions", "Successfully set up CPython (3.11.7)", "##[endgroup]"),
        ),
        gl_image="python:3.11",
        files={
            "pyproject.toml": _dedent(
                """
                [project]
                name = "shop"
                version = "1.4.2"

                [tool.pytest.ini_options]
                testpaths = ["tests"]
                pythonpath = ["src"]
                addopts = "-p no:cacheprovider"
                """
            ),
            "src/shop/__init__.py": "",
            "src/shop/cart.py": _dedent(
                '''
                """A shopping cart with discount codes."""

                from __future__ import annotations

                from decimal import Decimal

                DISCOUNTS = {"WELCOME10": 10, "SPRING5": 5}


                class Cart:
                    def __init__(self) -> None:
                        self.items: dict[str, tuple[Decimal, int]] = {}
                        self.percent_off = 0

                    def add(self, sku: str, price: Decimal, qty: int = 1) -> None:
                        old_price, old_qty = self.items.get(sku, (price, 0))
                        self.items[sku] = (price, old_qty + qty)

                    def apply_discount(self, code: str) -> None:
                        self.percent_off = DISCOUNTS.get(code.lower(), 0) or DISCOUNTS["SPRING5"]

                    def subtotal(self) -> Decimal:
                        return sum((price * qty for price, qty in self.items.values()), Decimal("0"))

                    def total(self) -> Decimal:
                        off = self.subtotal() * self.percent_off / 100
                        return (self.subtotal() - off).quantize(Decimal("0.01"))
                '''
            ),
            "tests/test_cart.py": _dedent(
                """
                from decimal import Decimal

                from shop.cart import Cart


                def test_empty_cart_is_free():
                    assert Cart().total() == Decimal("0.00")


                def test_adding_twice_sums_quantities():
                    cart = Cart()
                    cart.add("book", Decimal("12.50"))
                    cart.add("book", Decimal("12.50"))
                    assert cart.items["book"] == (Decimal("12.50"), 2)


                def test_subtotal():
                    cart = Cart()
                    cart.add("book", Decimal("12.50"), qty=2)
                    cart.add("pen", Decimal("1.25"), qty=4)
                    assert cart.subtotal() == Decimal("30.00")


                def test_total_applies_discount_code():
                    cart = Cart()
                    cart.add("book", Decimal("12.50"), qty=2)
                    cart.apply_discount("WELCOME10")
                    assert cart.total() == Decimal("22.50")
                """
            ),
        },
    ),
    Example(
        name="pip-missing-package",
        summary="pip: `pip install -r requirements.txt` names a package that does not exist on PyPI.",
        needs="python",
        command="pip install -r requirements.txt",
        setup=("python -m venv .venv", ". .venv/bin/activate && pip --version"),
        env={"FORCE_COLOR": "1"},
        expected_category="dependency",
        versions=(".venv/bin/pip --version",),
        job="install",
        gh_setup=(
            "actions/setup-python@v6",
            {"python-version": "3.11", "check-latest": "false", "update-environment": "true"},
            ("##[group]Installed versions", "Successfully set up CPython (3.11.7)", "##[endgroup]"),
        ),
        gl_image="python:3.11",
        files={
            # The failing step activates the venv first (as CI scripts do); see _shell_command below.
            "requirements.txt": _dedent(
                """
                # runtime dependencies of the shop service
                six==1.16.0
                cimedic-no-such-package-0000==1.0.0
                idna==3.7
                """
            ),
        },
    ),
    Example(
        name="pip-tls-error",
        summary="pip: TLS verification fails against a CA bundle that does not hold the issuer; pip retries, "
        "then reports the misleading `No matching distribution found` for a package that exists.",
        needs="python",
        command="pip install -r requirements.txt",
        setup=("python -m venv .venv", ". .venv/bin/activate && pip --version"),
        # a job that pins pip to one CA file (here Let's Encrypt's root alone): pypi.org does not chain to it,
        # and behind an intercepting proxy the chain is self-signed; either way verification fails
        env={"FORCE_COLOR": "1", "PIP_CERT": "/etc/ssl/certs/ISRG_Root_X1.pem"},
        expected_category="network",
        versions=(".venv/bin/pip --version",),
        job="install",
        gh_setup=(
            "actions/setup-python@v6",
            {"python-version": "3.11", "check-latest": "false", "update-environment": "true"},
            ("##[group]Installed versions", "Successfully set up CPython (3.11.7)", "##[endgroup]"),
        ),
        gl_image="python:3.11",
        files={"requirements.txt": "requests==2.32.3\n"},
    ),
    Example(
        name="tsc-type-error",
        summary="TypeScript: `tsc --noEmit` reports two type errors in a small Node project.",
        needs="npm",
        command="npx tsc --noEmit --pretty",
        setup=("node --version", "npm install --no-audit --no-fund"),
        expected_category="build",
        versions=("node --version", "npx tsc --version"),
        job="typecheck",
        gh_setup=(
            "actions/setup-node@v5",
            {"node-version": "20", "always-auth": "false", "check-latest": "false"},
            (
                "Found in cache @ /opt/hostedtoolcache/node/20.20.2/x64",
                "##[group]Environment details",
                "node: v20.20.2",
                "npm: 11.19.1",
                "yarn: 1.22.22",
                "##[endgroup]",
            ),
        ),
        gl_image="node:20",
        files={
            "package.json": json.dumps(
                {
                    "name": "shop-web",
                    "version": "1.4.2",
                    "private": True,
                    "scripts": {"typecheck": "tsc --noEmit"},
                    "devDependencies": {"typescript": TYPESCRIPT_VERSION},
                },
                indent=2,
            )
            + "\n",
            "tsconfig.json": _dedent(
                """
                {
                  "compilerOptions": {
                    "target": "ES2022",
                    "module": "NodeNext",
                    "moduleResolution": "NodeNext",
                    "strict": true,
                    "skipLibCheck": true,
                    "types": []
                  },
                  "include": ["src"]
                }
                """
            ),
            "src/cart.ts": _dedent(
                """
                export interface LineItem {
                  sku: string;
                  priceCents: number;
                  qty: number;
                }

                export function subtotal(items: LineItem[]): number {
                  return items.reduce((sum, item) => sum + item.priceCents * item.qty, 0);
                }
                """
            ),
            "src/checkout.ts": _dedent(
                """
                import { LineItem, subtotal } from "./cart.js";

                export interface Order {
                  id: string;
                  items: LineItem[];
                  totalCents: number;
                }

                export function createOrder(id: string, items: LineItem[]): Order {
                  const total = subtotal(items).toFixed(2);
                  return { id, items, totalCents: total };
                }

                export function describe(order: Order): string {
                  return `${order.id}: ${order.items.length} items, ${order.totlCents} cents`;
                }
                """
            ),
        },
    ),
    Example(
        name="go-test-failure",
        summary="Go: `go test ./...` with one failing table-driven test case in one of two packages.",
        needs="go",
        command="go test ./...",
        setup=("go version",),
        expected_category="test",
        versions=("go version",),
        job="test",
        gh_setup=(
            "actions/setup-go@v6",
            {"go-version": "1.19", "check-latest": "false", "cache": "true"},
            (
                "Setup go version spec 1.19",
                "Found in cache @ /opt/hostedtoolcache/go/1.19.8/x64",
                "Added go to the path",
                "Successfully set up Go version 1.19",
            ),
        ),
        gl_image="golang:1.19",
        files={
            "go.mod": "module example.com/shop\n\ngo 1.19\n",
            "price/price.go": _dedent(
                """
                // Package price parses and formats prices.
                package price

                import (
                	"fmt"
                	"strconv"
                	"strings"
                )

                // ParseCents turns "12.50" into 1250.
                func ParseCents(s string) (int, error) {
                	whole, frac, found := strings.Cut(strings.TrimSpace(s), ".")
                	w, err := strconv.Atoi(whole)
                	if err != nil {
                		return 0, fmt.Errorf("parse price %q: %w", s, err)
                	}
                	if !found {
                		return w * 100, nil
                	}
                	f, err := strconv.Atoi(frac)
                	if err != nil {
                		return 0, fmt.Errorf("parse price %q: %w", s, err)
                	}
                	return w*100 + f, nil
                }
                """
            ),
            "price/price_test.go": _dedent(
                """
                package price

                import "testing"

                func TestParseCents(t *testing.T) {
                	cases := []struct {
                		in   string
                		want int
                	}{
                		{"12", 1200},
                		{"12.50", 1250},
                		{"0.99", 99},
                		{"3.5", 350},
                	}
                	for _, c := range cases {
                		got, err := ParseCents(c.in)
                		if err != nil {
                			t.Fatalf("ParseCents(%q): %v", c.in, err)
                		}
                		if got != c.want {
                			t.Errorf("ParseCents(%q) = %d, want %d", c.in, got, c.want)
                		}
                	}
                }
                """
            ),
            "cart/cart.go": _dedent(
                """
                // Package cart sums line items.
                package cart

                // Total returns the sum of price times quantity.
                func Total(prices, qtys []int) int {
                	total := 0
                	for i := range prices {
                		total += prices[i] * qtys[i]
                	}
                	return total
                }
                """
            ),
            "cart/cart_test.go": _dedent(
                """
                package cart

                import "testing"

                func TestTotal(t *testing.T) {
                	if got := Total([]int{1250, 99}, []int{2, 1}); got != 2599 {
                		t.Errorf("Total = %d, want 2599", got)
                	}
                }
                """
            ),
        },
    ),
    Example(
        name="missing-env-var",
        summary="Shell: a `set -euo pipefail` deploy script stops because the DEPLOY_TOKEN secret is unset.",
        needs="bash",
        command="./scripts/deploy.sh production",
        setup=("bash --version | head -n 1",),
        env={"APP_ENV": "production"},
        expected_category="configuration",
        versions=("bash --version | head -n 1",),
        job="deploy",
        files={
            "scripts/deploy.sh": _dedent(
                """
                #!/usr/bin/env bash
                # Upload the release bundle to the deploy service.
                set -euo pipefail

                target="${1:?usage: deploy.sh <environment>}"
                version="$(cat VERSION)"
                bundle="dist/shop-${version}.tar.gz"

                echo "Deploying shop ${version} to ${target}"
                mkdir -p dist
                tar -czf "${bundle}" VERSION scripts
                echo "Bundle ${bundle} ready ($(wc -c < "${bundle}") bytes)"
                auth_header="Authorization: Bearer ${DEPLOY_TOKEN}"
                curl --fail --silent --show-error -X POST -H "${auth_header}" \\
                  --data-binary "@${bundle}" "https://deploy.example.com/apps/shop/${target}/releases"
                echo "Deployed shop ${version} to ${target}"
                """
            ),
            "VERSION": "1.4.2\n",
        },
    ),
    Example(
        name="python-module-not-found",
        summary="Python: a CLI task fails at import with ModuleNotFoundError (`stripe` is not installed).",
        needs="python",
        command="python -m shop.cli sync-prices",
        setup=("python --version",),
        env={"PYTHONUNBUFFERED": "1"},
        expected_category="dependency",
        versions=("python --version",),
        job="sync-prices",
        gh_setup=(
            "actions/setup-python@v6",
            {"python-version": "3.11", "check-latest": "false", "update-environment": "true"},
            ("##[group]Installed versions", "Successfully set up CPython (3.11.7)", "##[endgroup]"),
        ),
        gl_image="python:3.11",
        files={
            "shop/__init__.py": "",
            "shop/cli.py": _dedent(
                '''
                """Command-line tasks for the shop service."""

                import sys

                print(f"shop tasks: {' '.join(sys.argv[1:])}")

                from shop.billing import sync_prices  # noqa: E402


                def main() -> int:
                    if sys.argv[1:] == ["sync-prices"]:
                        return sync_prices()
                    print("unknown task", file=sys.stderr)
                    return 2


                if __name__ == "__main__":
                    raise SystemExit(main())
                '''
            ),
            "shop/billing.py": _dedent(
                '''
                """Keep prices in the payment provider in step with the catalog."""

                import os

                import stripe


                def sync_prices() -> int:
                    stripe.api_key = os.environ["STRIPE_API_KEY"]
                    return 0
                '''
            ),
        },
    ),
    Example(
        name="ruff-lint",
        summary="ruff: `ruff check .` finds an unused import, a comparison to None and an undefined name.",
        needs="ruff",
        command="ruff check .",
        setup=("ruff --version",),
        env={"FORCE_COLOR": "1"},
        expected_category="lint",
        versions=("ruff --version",),
        job="lint",
        gh_setup=(
            "actions/setup-python@v6",
            {"python-version": "3.11", "check-latest": "false", "update-environment": "true"},
            ("##[group]Installed versions", "Successfully set up CPython (3.11.7)", "##[endgroup]"),
        ),
        gl_image="python:3.11",
        files={
            "pyproject.toml": _dedent(
                """
                [project]
                name = "shop"
                version = "1.4.2"

                [tool.ruff]
                line-length = 100
                cache-dir = ".ruff_cache"

                [tool.ruff.lint]
                select = ["E", "F"]
                """
            ),
            "shop/__init__.py": "",
            "shop/orders.py": _dedent(
                '''
                """Order look-ups."""

                import json
                from datetime import datetime


                def find_order(orders, order_id):
                    for order in orders:
                        if order.get("id") == order_id:
                            return order
                    return None


                def order_age_days(order, now=None):
                    if now == None:
                        now = datetime.now()
                    placed = datetime.fromisoformat(order["placed_at"])
                    return (now - placed).days


                def summary(order):
                    return f"{order['id']}: {len(order['items'])} items, {totl_cents(order)} cents"
                '''
            ),
        },
    ),
    Example(
        name="cargo-build-error",
        summary="Rust: `cargo build` fails with a type mismatch (E0308) after an unused-variable warning.",
        needs="cargo",
        command="cargo build",
        setup=("cargo --version", "rustc --version"),
        env={"CARGO_TERM_COLOR": "always"},
        expected_category="build",
        versions=("cargo --version", "rustc --version"),
        job="build",
        gh_setup=(
            "dtolnay/rust-toolchain@stable",
            {"toolchain": "stable"},
            (
                "##[group]Run: parse toolchain version",
                "##[endgroup]",
                "##[group]Run: rustup toolchain install stable --profile minimal --no-self-update",
                "info: syncing channel updates for 'stable-x86_64-unknown-linux-gnu'",
                "  stable-x86_64-unknown-linux-gnu unchanged - rustc 1.95.0 (59807616e 2026-04-14)",
                "##[endgroup]",
            ),
        ),
        gl_image="rust:1.95",
        files={
            "Cargo.toml": _dedent(
                """
                [package]
                name = "shop"
                version = "1.4.2"
                edition = "2021"

                [dependencies]
                """
            ),
            "src/main.rs": _dedent(
                """
                mod price;

                fn main() {
                    let args: Vec<String> = std::env::args().skip(1).collect();
                    let currency = "EUR";
                    for arg in &args {
                        match price::parse_cents(arg) {
                            Some(cents) => println!("{arg} -> {cents} cents"),
                            None => eprintln!("not a price: {arg}"),
                        }
                    }
                }
                """
            ),
            "src/price.rs": _dedent(
                """
                /// Parses "12.50" into 1250.
                pub fn parse_cents(s: &str) -> Option<u32> {
                    let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
                    let whole: u32 = whole.parse().ok()?;
                    let frac: u32 = frac.parse().ok()?;
                    let cents: String = whole * 100 + frac;
                    Some(cents)
                }
                """
            ),
        },
    ),
)


# ---------------------------------------------------------------------------------------------------------
# running


def _venv_bin() -> Path:
    candidate = ROOT / ".venv" / "bin"
    return candidate if (candidate / "python").exists() else Path(sys.executable).parent


def _base_env(workdir: Path, project: Path) -> dict[str, str]:
    """A small, fixed environment, so the captures do not depend on who runs the script."""
    empty_npmrc = workdir / ".empty-npmrc"
    empty_npmrc.write_text("")
    keep = {k: os.environ[k] for k in ("HOME", "RUSTUP_HOME", "CARGO_HOME") if k in os.environ}
    return {
        **keep,
        "PATH": f"{_venv_bin()}:{os.environ.get('PATH', '/usr/local/bin:/usr/bin:/bin')}",
        "LANG": "C.UTF-8",
        "CI": "true",
        "PYTHONDONTWRITEBYTECODE": "1",
        # pip: no per-machine config (local indexes, find-links), no version check, no cache
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_CACHE_DIR": "1",
        **({"PIP_CERT": SYSTEM_CA} if Path(SYSTEM_CA).exists() else {}),
        # npm: the public registry only, no per-user config, no notices
        "NPM_CONFIG_USERCONFIG": str(empty_npmrc),
        "NPM_CONFIG_UPDATE_NOTIFIER": "false",
        "NPM_CONFIG_FUND": "false",
        "NPM_CONFIG_AUDIT": "false",
        # go: fresh build and module caches inside the project (go skips dot-directories), no downloads
        "GOCACHE": str(project / ".cache" / "go-build"),
        "GOPATH": str(project / ".cache" / "gopath"),
        "GOFLAGS": "-modcacherw",
        "GOTOOLCHAIN": "local",
    }


def _shell_command(example: Example, command: str) -> str:
    # the pip example installs into its own fresh virtualenv, never into the project's
    if example.name.startswith("pip-") and not command.startswith("python -m venv"):
        return f". .venv/bin/activate && {command}"
    return command


def _run(command: str, cwd: Path, env: dict[str, str]) -> tuple[int, bytes]:
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", "-c", command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one pipe: the interleaving is the one the tool produced
        timeout=600,
        check=False,
    )
    return proc.returncode, proc.stdout


def _write_project(example: Example, project: Path) -> None:
    if project.exists():
        shutil.rmtree(project)
    for rel, text in example.files.items():
        path = project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if rel.endswith(".sh"):
            path.chmod(0o755)


def run_example(example: Example, workdir: Path) -> dict[str, object] | None:
    """Run one example; return its manifest entry, or None when its tool is missing."""
    project = workdir / example.name
    env = _base_env(workdir, project)
    if shutil.which(example.needs, path=env["PATH"]) is None:
        hint = {"go": " (Debian: apt-get install -y golang-go)", "npm": " (Debian: apt-get install -y npm)"}
        print(f"skip {example.name}: `{example.needs}` not found{hint.get(example.needs, '')}")
        return None
    _write_project(example, project)
    step_env = {**env, **example.env}
    setup = []
    for command in example.setup:
        code, out = _run(_shell_command(example, command), project, step_env)
        if code != 0:
            sys.stderr.write(out.decode(errors="replace"))
            raise SystemExit(f"{example.name}: set-up command failed ({code}): {command}")
        setup.append({"command": command, "output": out.decode("utf-8", errors="surrogateescape")})
    versions = []
    for command in example.versions:
        _, out = _run(_shell_command(example, command), project, step_env)
        versions.append(out.decode(errors="replace").strip())
    code, capture = _run(_shell_command(example, example.command), project, step_env)
    if code == 0:
        raise SystemExit(f"{example.name}: `{example.command}` passed; the example must fail")
    (HERE / f"{example.name}.log").write_bytes(capture)
    print(f"ran  {example.name}: exit code {code}, {len(capture)} bytes")
    return {
        "summary": example.summary,
        "command": example.command,
        "exit_code": code,
        "expected_category": example.expected_category,
        "env": example.env,
        "setup": setup,
        "versions": versions,
        "workdir": str(project),
    }


# ---------------------------------------------------------------------------------------------------------
# dressing (pure functions of the example and its captures)


def _lines(text: str) -> list[str]:
    """Split on \\n only (what a CI runner does); keep the text of a final unterminated line."""
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    return parts


def count_lines(text: str) -> int:
    """Lines as the Diagnosis contract counts them: \\r\\n, \\r and \\n are breaks."""
    if not text:
        return 0
    return len(_LINE_BREAK.findall(text)) + (0 if _LINE_BREAK.match(text[-1]) else 1)


def _fake_sha(*parts: str, n: int = 40) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


class _Clock:
    """Deterministic, strictly increasing timestamps."""

    def __init__(self, start: datetime, seed: str) -> None:
        self.now = start
        self.step = int(hashlib.sha256(seed.encode()).hexdigest()[:6], 16)

    def tick(self, big: bool = False) -> datetime:
        self.step = (self.step * 1103515245 + 12345) % (2**31)
        if big:
            self.now += timedelta(seconds=1 + self.step % 4, microseconds=self.step % 999_983)
        else:
            self.now += timedelta(microseconds=40 + self.step % 2900)
        return self.now

    def stamp(self, big: bool = False) -> str:
        t = self.tick(big)
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}{self.step % 10}Z"


def dress_github(example: Example, index: int, capture: str, entry: dict) -> tuple[str, int]:
    """A GitHub Actions job log (as downloaded from the job's "Download log archive"/API)."""
    clock = _Clock(EPOCH + timedelta(minutes=7 * index), "gh" + example.name)
    out: list[str] = []

    def emit(line: str, big: bool = False) -> None:
        out.append(f"{clock.stamp(big)} {line}")

    emit("Current runner version: '2.329.0'")
    for group, body in (
        (
            "Runner Image Provisioner",
            [
                "Hosted Compute Agent",
                "Version: 20251016.436",
                f"Commit: {_fake_sha('agent')}",
                "Build Date: 2025-10-15T20:44:12Z",
            ],
        ),
        ("Operating System", ["Ubuntu", "24.04.3", "LTS"]),
        (
            "Runner Image",
            [
                "Image: ubuntu-24.04",
                "Version: 20251112.124.1",
                "Included Software: https://github.com/actions/runner-images/blob/ubuntu24/"
                "20251112.124/images/ubuntu/Ubuntu2404-Readme.md",
                "Image Release: https://github.com/actions/runner-images/releases/tag/"
                "ubuntu24%2F20251112.124",
            ],
        ),
        ("GITHUB_TOKEN Permissions", ["Contents: read", "Metadata: read", "Packages: read"]),
    ):
        emit(f"##[group]{group}")
        for line in body:
            emit(line)
        emit("##[endgroup]")
    emit("Secret source: Actions")
    emit("Prepare workflow directory")
    emit("Prepare all required actions")
    emit("Getting action download info")
    actions = ["actions/checkout@v5"] + ([example.gh_setup[0]] if example.gh_setup else [])
    for action in actions:
        emit(f"Download action repository '{action}' (SHA:{_fake_sha(action)})", big=True)
    emit(f"Complete job name: {example.job}")
    # checkout
    emit("##[group]Run actions/checkout@v5", big=True)
    emit("with:")
    for k, v in (
        ("repository", "acme/shop"),
        ("token", "***"),
        ("ssh-strict", "true"),
        ("persist-credentials", "true"),
        ("clean", "true"),
        ("fetch-depth", "1"),
        ("lfs", "false"),
    ):
        emit(f"  {k}: {v}")
    emit("##[endgroup]")
    emit("Syncing repository: acme/shop")
    emit("##[group]Getting Git version info")
    emit("Working directory is '/home/runner/work/shop/shop'")
    emit("[command]/usr/bin/git version")
    emit("git version 2.51.2")
    emit("##[endgroup]")
    emit("Deleting the contents of '/home/runner/work/shop/shop'")
    emit("##[group]Fetching the repository")
    emit(
        "[command]/usr/bin/git -c protocol.version=2 fetch --no-tags --prune --no-recurse-submodules "
        f"--depth=1 origin +{_fake_sha(example.name, 'commit')}:refs/remotes/origin/main",
        big=True,
    )
    emit(f" * [new ref]         {_fake_sha(example.name, 'commit')} -> origin/main")
    emit("##[endgroup]")
    emit("##[group]Checking out the ref")
    emit("[command]/usr/bin/git checkout --progress --force -B main refs/remotes/origin/main")
    emit("Switched to a new branch 'main'")
    emit("branch 'main' set up to track 'origin/main'.")
    emit("##[endgroup]")
    emit("[command]/usr/bin/git log -1 --format=%H")
    emit(_fake_sha(example.name, "commit"))
    # toolchain action
    if example.gh_setup:
        action, with_, body = example.gh_setup
        emit(f"##[group]Run {action}", big=True)
        emit("with:")
        for k, v in with_.items():
            emit(f"  {k}: {v}")
        emit("##[endgroup]")
        for line in body:
            emit(line)

    def step_header(command: str) -> None:
        emit(f"##[group]Run {command}", big=True)
        emit(f"\x1b[36;1m{command}\x1b[0m")
        emit("shell: /usr/bin/bash -e {0}")
        if example.env:
            emit("env:")
            for k, v in example.env.items():
                emit(f"  {k}: {v}")
        emit("##[endgroup]")

    for item in entry["setup"]:
        step_header(item["command"])
        for line in _lines(item["output"]):
            emit(line)
    step_header(example.command)
    first = count_lines("\n".join(out) + "\n") + 1
    for line in _lines(capture):
        emit(line)
    emit(f"##[error]Process completed with exit code {entry['exit_code']}.")
    if example.gh_setup:
        emit("Post job cleanup.", big=True)
    emit("Post job cleanup.", big=True)
    emit("[command]/usr/bin/git version")
    emit("git version 2.51.2")
    emit(
        "[command]/usr/bin/git config --local --name-only --get-regexp http\\.https\\:\\/\\/github\\.com\\/"
        "\\.extraheader"
    )
    emit("http.https://github.com/.extraheader")
    emit("[command]/usr/bin/git config --local --unset-all http.https://github.com/.extraheader")
    emit("Cleaning up orphan processes", big=True)
    # the downloaded job log starts with a byte-order mark
    return "\ufeff" + "\n".join(out) + "\n", first


def dress_gitlab(example: Example, index: int, capture: str, entry: dict) -> tuple[str, int]:
    """A GitLab CI job trace (raw, as served by the job's "Complete Raw" view / trace API)."""
    t = int((EPOCH + timedelta(minutes=7 * index)).timestamp())
    esc = "\x1b"
    image = example.gl_image
    digest = _fake_sha(image, "digest", n=64)
    sha = _fake_sha(image, "image", n=64)
    runner = "zxwgkjap"

    def start(name: str, header: str) -> str:
        return f"section_start:{t}:{name}\r{esc}[0K{esc}[0K{esc}[36;1m{header}{esc}[0;m{esc}[0;m"

    def end(name: str) -> str:
        return f"section_end:{t}:{name}\r{esc}[0K"

    def cmd(command: str) -> str:
        return f"{esc}[0K{esc}[32;1m$ {command}{esc}[0;m"

    parts: list[str] = [
        f"{esc}[0KRunning with gitlab-runner 18.5.0 (bda84871){esc}[0;m\n",
        f"{esc}[0K  on blue-3.saas-linux-small-amd64.runners-manager.gitlab.com/default {runner}, "
        f"system ID: s_{_fake_sha(runner, n=12)}{esc}[0;m\n",
        start("prepare_executor", 'Preparing the "docker+machine" executor') + "\n",
        f"{esc}[0KUsing Docker executor with image {image} ...{esc}[0;m\n",
        f"{esc}[0KPulling docker image {image} ...{esc}[0;m\n",
        f"{esc}[0KUsing docker image sha256:{sha} for {image} with digest "
        f"{image.split(':')[0]}@sha256:{digest} ...{esc}[0;m\n",
    ]
    t += 9
    parts.append(end("prepare_executor") + start("prepare_script", "Preparing environment") + "\n")
    parts.append(
        f"Running on runner-{runner}-project-4242-concurrent-0 via "
        f"runner-{runner}-s-l-s-amd64-{t - 60}-{_fake_sha(example.name, n=8)}...\n"
    )
    t += 1
    parts.append(end("prepare_script") + start("get_sources", "Getting source from Git repository") + "\n")
    commit = _fake_sha(example.name, "commit")
    parts += [
        f"{esc}[32;1mFetching changes with git depth set to 20...{esc}[0;m\n",
        "Initialized empty Git repository in /builds/acme/shop/.git/\n",
        f"{esc}[32;1mCreated fresh repository.{esc}[0;m\n",
        f"{esc}[32;1mChecking out {commit[:8]} as detached HEAD (ref is main)...{esc}[0;m\n",
        "\n",
        f"{esc}[32;1mSkipping Git submodules setup{esc}[0;m\n",
    ]
    t += 2
    parts.append(
        end("get_sources") + start("step_script", 'Executing "step_script" stage of the job script') + "\n"
    )
    parts.append(
        f"{esc}[0KUsing docker image sha256:{sha} for {image} with digest "
        f"{image.split(':')[0]}@sha256:{digest} ...{esc}[0;m\n"
    )
    for k, v in example.env.items():
        parts.append(cmd(f'export {k}="{v}"') + "\n")
    if entry["setup"]:
        # a custom collapsible section, written the way GitLab's docs show it
        header = "Set up the toolchain"
        parts.append(
            cmd(f'echo -e "\\e[0Ksection_start:`date +%s`:setup[collapsed=true]\\r\\e[0K{header}"') + "\n"
        )
        parts.append(f"{esc}[0Ksection_start:{t}:setup[collapsed=true]\r{esc}[0K{header}\n")
        for item in entry["setup"]:
            parts.append(cmd(item["command"]) + "\n")
            parts.extend(line + "\n" for line in _lines(item["output"]))
        t += 3
        parts.append(cmd('echo -e "\\e[0Ksection_end:`date +%s`:setup\\r\\e[0K"') + "\n")
        parts.append(f"{esc}[0Ksection_end:{t}:setup\r{esc}[0K\n")
    parts.append(cmd(example.command) + "\n")
    first = count_lines("".join(parts)) + 1
    parts.extend(line + "\n" for line in _lines(capture))
    t += 4
    parts.append(
        end("step_script")
        + start("cleanup_file_variables", "Cleaning up project directory and file based variables")
        + "\n"
    )
    t += 1
    failed = f"{esc}[31;1mERROR: Job failed: exit code {entry['exit_code']}\n{esc}[0;m\n"
    parts.append(end("cleanup_file_variables") + failed)
    return "".join(parts), first


def dress_all(manifest: dict) -> None:
    (HERE / "github").mkdir(exist_ok=True)
    (HERE / "gitlab").mkdir(exist_ok=True)
    for index, example in enumerate(EXAMPLES):
        entry = manifest["examples"].get(example.name)
        plain = HERE / f"{example.name}.log"
        if entry is None or not plain.exists():
            continue
        capture = plain.read_bytes().decode("utf-8", errors="surrogateescape")
        forms = {f"examples/{example.name}.log": 1}
        for form, dress in (("github", dress_github), ("gitlab", dress_gitlab)):
            text, first = dress(example, index, capture, entry)
            (HERE / form / f"{example.name}.log").write_bytes(text.encode("utf-8", errors="surrogateescape"))
            forms[f"examples/{form}/{example.name}.log"] = first
        entry["output_first_line"] = forms
        entry["output_lines"] = count_lines(capture)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], help="run only this example (repeatable)")
    parser.add_argument("--workdir", default="/tmp/cimedic-examples", help="where the projects are built")
    parser.add_argument("--redress", action="store_true", help="do not run anything; re-dress the captures")
    args = parser.parse_args(argv)
    names = {e.name for e in EXAMPLES}
    unknown = set(args.only) - names
    if unknown:
        parser.error(f"unknown example(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(names))}")
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {"examples": {}}
    if not args.redress:
        workdir = Path(args.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        for example in EXAMPLES:
            if args.only and example.name not in args.only:
                continue
            entry = run_example(example, workdir)
            if entry is not None:
                manifest["examples"][example.name] = entry
    manifest["examples"] = {
        e.name: manifest["examples"][e.name] for e in EXAMPLES if e.name in manifest["examples"]
    }
    dress_all(manifest)
    manifest["note"] = "Written by examples/generate.py; see examples/README.md."
    MANIFEST.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
