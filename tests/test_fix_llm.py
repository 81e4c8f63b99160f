"""A model's patch is kept only when it validates: through the real explainer (scripted OpenAI-compatible
fake, `llm_support.FakeOpenAI`) and the real pipeline, against a checkout on disk."""

from __future__ import annotations

from pathlib import Path

from llm_support import LOG, FakeOpenAI, answer, diagnosis, explainer

from agent.fixes import Reader
from agent.fixes.suggest import NO_SOURCE
from agent.fixes.unidiff import make_diff
from agent.models import Diagnosis, JobContext
from agent.pipeline import enrich

CALC = "import math\n\n\ndef divide(a, b):\n    return a / b\n\n\ndef root(x):\n    return math.sqrt(x)\n"
FIXED = CALC.replace("    return a / b\n", "    if b == 0:\n        return 0\n    return a / b\n")
PATCH = make_diff("src/calc.py", CALC, FIXED)


def checkout(tmp_path: Path, text: str = CALC) -> Reader:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "calc.py").write_text(text)

    def read(path: str) -> bytes | None:
        target = tmp_path / path
        return target.read_bytes() if target.is_file() else None

    return read


def run(patch: str, reader: Reader | None) -> Diagnosis:
    with explainer(FakeOpenAI(answer(patch=patch))) as ex:
        return enrich(diagnosis(), job=JobContext(), log_lines=LOG, explainer=ex, reader=reader)


def test_a_patch_that_applies_becomes_the_fix(tmp_path: Path) -> None:
    result = run(PATCH, checkout(tmp_path))
    assert result.fix is not None
    assert result.fix.source == "llm" and result.fix.validated is True
    assert result.fix.patch == PATCH and result.fix.files == ["src/calc.py"]
    assert result.fix.rules == ["compatible:fake"]
    assert result.llm is not None and result.llm.patch == PATCH
    assert result.fix_notes == []


def test_a_patch_against_other_code_is_dropped_with_a_note(tmp_path: Path) -> None:
    result = run(PATCH, checkout(tmp_path, CALC.replace("return a / b", "return a // b")))
    assert result.fix is None
    assert result.llm is not None and result.llm.patch is None  # never shown
    assert len(result.fix_notes) == 1
    assert result.fix_notes[0].startswith("llm patch compatible:fake dropped: src/calc.py: hunk 1")


def test_a_patch_with_wrong_hunk_counts_is_dropped(tmp_path: Path) -> None:
    # Models often miscount; git calls that a corrupt patch and so do we.
    corrupt = PATCH.replace("@@ -2,6 +2,8 @@", "@@ -2,6 +2,9 @@")
    assert corrupt != PATCH
    result = run(corrupt, checkout(tmp_path))
    assert result.fix is None and result.llm is not None and result.llm.patch is None
    assert "corrupt patch" in result.fix_notes[0]


def test_without_a_checkout_no_patch_is_kept() -> None:
    result = run(PATCH, None)
    assert result.fix is None
    assert result.llm is not None and result.llm.patch is None
    assert result.fix_notes == [NO_SOURCE]


def test_no_patch_no_note(tmp_path: Path) -> None:
    result = run("", checkout(tmp_path))
    assert result.fix is None and result.fix_notes == []


def test_a_patch_showing_a_secret_is_dropped(tmp_path: Path) -> None:
    # The context lines come from the file; a redacted patch would not apply, so it is not shown at all.
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    leaky = CALC.replace("def divide(a, b):\n", f'def divide(a, b):\n    key = "{token}"\n')
    patch = make_diff(
        "src/calc.py", leaky, leaky.replace("    return a / b\n", "    return a / b if b else 0\n")
    )
    result = run(patch, checkout(tmp_path, leaky))
    assert result.fix is None and result.llm is not None and result.llm.patch is None
    assert result.fix_notes == ["llm patch dropped: it holds text that looks like a secret (github-token)"]
    assert token not in result.model_dump_json()
