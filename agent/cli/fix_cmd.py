"""`cimedic fix LOG`: the validated patch for a failed build's log, against a local checkout.

It prints the patch on standard output (so `cimedic fix build.log | git apply` works) and what was dropped
and why on standard error. `--apply` writes the patch into the working tree; it never commits, and it checks
the patch against the files once more right before writing. Exit status: 0 a patch was found (and applied),
1 none was, 2 the log could not be read.

The checkout's own `.github/cimedic.yml` adds its `protected` globs and caps (actions.patch_policy).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from agent.engine import InputError, analyze_file
from agent.fixes import Patch, PatchPolicy, Reader, Rejected, suggest, validate
from agent.logtext import clean_line
from agent.models import Diagnosis
from agent.scan import iter_text_lines


class FixFormat(StrEnum):
    DIFF = "diff"
    JSON = "json"


def checkout_reader(root: Path) -> Reader:
    """Files of the checkout at `root` by repository path; None for anything else, including a symlink
    that leads out of the checkout (a patch must not read or write outside it)."""
    base = root.resolve()

    def read(path: str) -> bytes | None:
        target = (base / path).resolve()
        if not target.is_relative_to(base) or not target.is_file():
            return None
        return target.read_bytes()

    return read


def checkout_policy(root: Path) -> PatchPolicy:
    # Imported here: the policy layer costs ~0.3 s to import, paid by every `cimedic analyze` otherwise.
    from actions.patch_policy import patch_policy
    from actions.policy import POLICY_PATH, parse_policy

    config = root / POLICY_PATH
    return patch_policy(parse_policy(config.read_text(encoding="utf-8") if config.is_file() else None))


def _blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            yield block


def log_lines(path: Path) -> list[str]:
    """The log's lines as the Diagnosis numbers them (`agent.logtext` splitter), cleaned."""
    return [clean_line(raw).display for raw in iter_text_lines(_blocks(path))]


def write_results(root: Path, results: dict[str, str | None]) -> None:
    base = root.resolve()
    for path in results:
        if not (base / path).resolve().is_relative_to(base):
            raise InputError(f"{path}: outside the checkout")
    for path, text in results.items():
        target = base / path
        if text is None:
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text.encode("utf-8"))


def fix_command(
    log: Annotated[Path, typer.Argument(help="the failed build's log", show_default=False)],
    source: Annotated[
        Path, typer.Option(help="checkout at the failing commit", file_okay=False, exists=True)
    ] = Path("."),
    apply: Annotated[bool, typer.Option("--apply", help="write the patch into the working tree")] = False,
    output_format: Annotated[
        FixFormat, typer.Option("--format", "-f", help="output format")
    ] = FixFormat.DIFF,
) -> None:
    """Print the fix the build's own tools suggested, checked against the checkout; --apply writes it."""
    reader = checkout_reader(source)
    policy = checkout_policy(source)
    try:
        diagnosis = analyze_file(log, source=str(log))
        diagnosis = suggest(diagnosis, log_lines(log), reader, policy)
    except (InputError, OSError) as exc:
        print(f"cimedic: error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    _report(diagnosis, output_format)
    if diagnosis.fix is None:
        raise typer.Exit(1)
    if apply:
        fix = diagnosis.fix
        again = validate(Patch(fix.source, fix.title, diff=fix.patch, lockfile_fix=True), reader, policy)
        if isinstance(again, Rejected):
            print(f"cimedic: not applied: {again.reason}", file=sys.stderr)
            raise typer.Exit(2)
        write_results(source, again.results)
        print(f"cimedic: applied to {', '.join(again.files)} (not committed)", file=sys.stderr)


def _report(diagnosis: Diagnosis, output_format: FixFormat) -> None:
    for note in diagnosis.fix_notes:
        print(f"cimedic: {note}", file=sys.stderr)
    if output_format is FixFormat.JSON:
        fix = None if diagnosis.fix is None else diagnosis.fix.model_dump(mode="json")
        sys.stdout.write(json.dumps({"fix": fix, "fix_notes": diagnosis.fix_notes}, indent=2) + "\n")
        return
    if diagnosis.fix is None:
        print("cimedic: no validated fix for this log", file=sys.stderr)
        return
    print(f"cimedic: {diagnosis.fix.title}", file=sys.stderr)
    sys.stdout.write(diagnosis.fix.patch)
