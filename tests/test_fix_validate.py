"""The validation gate on real diffs made by git, checked against `git apply --check` itself.

Every diff here is produced by git from a real change in a temporary repository (git is used by the test,
never by the core), then validated against the tree before the change; where it matters, git's own verdict
on the same diff is asserted too, so our strict applier keeps `git apply --check` semantics.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.fixes import Patch, PatchPolicy, Reader, Rejected, Validated, validate
from agent.fixes.apply import apply_hunks
from agent.fixes.unidiff import DiffError, make_diff, parse_diff

SOURCE = "".join(f"line {i}\n" for i in range(1, 31))


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=check)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    return tmp_path


def commit(repo: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(data)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")


def diff_of(repo: Path, *args: str) -> str:
    """git's diff of the working tree (after the test changed it) against HEAD; the tree is then reset."""
    git(repo, "add", "-A")
    out = git(repo, "diff", "--cached", *args).stdout.decode()
    git(repo, "reset", "-q", "--hard")
    git(repo, "clean", "-qfd")
    return out


def reader(repo: Path) -> Reader:
    def read(path: str) -> bytes | None:
        target = repo / path
        return target.read_bytes() if target.is_file() else None

    return read


def git_check(repo: Path, diff: str) -> bool:
    (repo.parent / "p.diff").write_text(diff)
    return git(repo, "apply", "--check", str(repo.parent / "p.diff"), check=False).returncode == 0


def llm(diff: str) -> Patch:
    return Patch("llm", "a model's patch", "m", diff=diff)


def test_a_real_diff_applies_and_yields_the_changed_file(repo: Path) -> None:
    commit(repo, {"src/a.py": SOURCE.encode()})
    changed = SOURCE.replace("line 5\n", "line five\n").replace("line 20\n", "")
    (repo / "src/a.py").write_text(changed)
    diff = diff_of(repo)
    result = validate(llm(diff), reader(repo))
    assert isinstance(result, Validated)
    assert result.files == ("src/a.py",) and result.results == {"src/a.py": changed}
    assert git_check(repo, diff)


def test_wrong_context_is_refused_like_git_refuses_it(repo: Path) -> None:
    commit(repo, {"a.txt": SOURCE.encode()})
    (repo / "a.txt").write_text(SOURCE.replace("line 5\n", "line five\n"))
    diff = diff_of(repo)
    (repo / "a.txt").write_text(SOURCE.replace("line 4\n", "line four\n"))  # context moved under it
    result = validate(llm(diff), reader(repo))
    assert isinstance(result, Rejected) and "hunk 1" in result.reason and "does not apply" in result.reason
    assert not git_check(repo, diff)


def test_a_hunk_found_at_an_offset_applies_as_in_git(repo: Path) -> None:
    commit(repo, {"a.txt": SOURCE.encode()})
    (repo / "a.txt").write_text(SOURCE.replace("line 15\n", "line fifteen\n"))
    diff = diff_of(repo)
    (repo / "a.txt").write_text("new 1\nnew 2\n" + SOURCE)
    result = validate(llm(diff), reader(repo))
    assert isinstance(result, Validated)
    assert result.results["a.txt"] == "new 1\nnew 2\n" + SOURCE.replace("line 15\n", "line fifteen\n")
    assert git_check(repo, diff)


def test_a_zero_context_hunk_in_the_middle_is_refused_like_git(repo: Path) -> None:
    commit(repo, {"a.txt": SOURCE.encode()})
    (repo / "a.txt").write_text(SOURCE.replace("line 15\n", "line fifteen\n"))
    diff = diff_of(repo, "-U0")
    assert isinstance(validate(llm(diff), reader(repo)), Rejected)
    assert not git_check(repo, diff)


@pytest.mark.parametrize(
    "path",
    [
        ".github/workflows/ci.yml",
        ".GitHub/Workflows/deep/x.yml",
        ".gitlab-ci.yml",
        "Jenkinsfile",
        "config/deploy.yml",
    ],
)
def test_protected_paths_are_refused(repo: Path, path: str) -> None:
    commit(repo, {path: b"a: 1\n"})
    (repo / path).write_text("a: 2\n")
    diff = diff_of(repo)
    policy = PatchPolicy().with_repo(["config/*.yml"], None, None)
    result = validate(llm(diff), reader(repo), policy)
    assert isinstance(result, Rejected) and "protected path" in result.reason


def test_a_lockfile_only_when_the_fix_is_about_it(repo: Path) -> None:
    commit(repo, {"sub/Cargo.lock": b"version = 3\n"})
    (repo / "sub/Cargo.lock").write_text("version = 4\n")
    diff = diff_of(repo)
    refused = validate(llm(diff), reader(repo))
    assert isinstance(refused, Rejected) and "lockfile" in refused.reason
    allowed = Patch("llm", "lockfile fix", "m", diff=diff, lockfile_fix=True)
    assert isinstance(validate(allowed, reader(repo)), Validated)


def test_huge_patches_are_refused(repo: Path) -> None:
    big = "".join(f"row {i} {'x' * 60}\n" for i in range(600))
    commit(repo, {"big.txt": big.encode()})
    (repo / "big.txt").write_text(big.replace("row", "ROW"))
    diff = diff_of(repo)
    too_big = validate(llm(diff), reader(repo))
    assert isinstance(too_big, Rejected) and "cap 20000" in too_big.reason
    roomy = PatchPolicy(max_bytes=10**6)
    too_many = validate(llm(diff), reader(repo), roomy)
    assert isinstance(too_many, Rejected) and "changed lines (cap 200)" in too_many.reason
    # A repository may lower the caps, never raise them.
    assert PatchPolicy().with_repo([], 10**9, 10**9) == PatchPolicy()


def test_binary_patches_are_refused(repo: Path) -> None:
    commit(repo, {"logo.png": b"\x89PNG\r\n\x1a\n\x00\x00binary"})
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x01changed")
    for args in ((), ("--binary",)):
        result = validate(llm(diff_of(repo, *args)), reader(repo))
        (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x01changed")
        assert isinstance(result, Rejected) and "binary patch for logo.png" in result.reason


def test_a_text_diff_against_a_binary_file_is_refused(repo: Path) -> None:
    commit(repo, {"data.txt": b"a\nb\n"})
    (repo / "data.txt").write_text("a\nc\n")
    diff = diff_of(repo)
    (repo / "data.txt").write_bytes(b"a\nb\n\x00")
    result = validate(llm(diff), reader(repo))
    assert isinstance(result, Rejected) and "binary file" in result.reason


def test_renames_are_applied_with_their_hunks(repo: Path) -> None:
    commit(repo, {"old/name.py": SOURCE.encode()})
    git(repo, "mv", "old/name.py", "new_name.py")
    (repo / "new_name.py").write_text(SOURCE.replace("line 3\n", "line three\n"))
    diff = diff_of(repo, "-M")
    assert "rename from old/name.py" in diff
    result = validate(llm(diff), reader(repo))
    assert isinstance(result, Validated)
    assert result.files == ("old/name.py", "new_name.py")
    assert result.results == {"old/name.py": None, "new_name.py": SOURCE.replace("line 3\n", "line three\n")}


def test_a_rename_onto_an_existing_file_is_refused(repo: Path) -> None:
    commit(repo, {"a.txt": SOURCE.encode()})
    git(repo, "mv", "a.txt", "b.txt")
    diff = diff_of(repo, "-M")
    (repo / "b.txt").write_text("someone else\n")
    result = validate(llm(diff), reader(repo))
    assert isinstance(result, Rejected) and "rename target b.txt already exists" in result.reason


def test_new_and_deleted_files(repo: Path) -> None:
    commit(repo, {"gone.txt": b"bye\n"})
    (repo / "gone.txt").unlink()
    (repo / "fresh.txt").write_text("hello\n")
    diff = diff_of(repo)
    result = validate(llm(diff), reader(repo))
    assert isinstance(result, Validated)
    assert result.results == {"fresh.txt": "hello\n", "gone.txt": None}
    (repo / "fresh.txt").write_text("already here\n")
    exists = validate(llm(diff), reader(repo))
    assert isinstance(exists, Rejected) and "already exists" in exists.reason


def test_no_newline_at_end_of_file_and_crlf(repo: Path) -> None:
    commit(repo, {"a.txt": b"one\ntwo", "w.txt": b"one\r\ntwo\r\nthree\r\n"})
    (repo / "a.txt").write_bytes(b"one\n2")
    (repo / "w.txt").write_bytes(b"one\r\n2\r\nthree\r\n")
    diff = diff_of(repo)
    assert "\\ No newline at end of file" in diff
    result = validate(llm(diff), reader(repo))
    assert isinstance(result, Validated)
    assert result.results == {"a.txt": "one\n2", "w.txt": "one\r\n2\r\nthree\r\n"}
    (repo / "a.txt").write_bytes(b"one\ntwo\n")  # the file gained a final newline: git refuses, so do we
    assert isinstance(validate(llm(diff), reader(repo)), Rejected)
    assert not git_check(repo, diff)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Just change line 5 to say five.", "not a unified diff"),
        ("--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n-line 1\n+one\n", "corrupt patch"),
        ("--- a/../etc/passwd\n+++ b/../etc/passwd\n@@ -1 +1 @@\n-x\n+y\n", "leaves the repository"),
        ("--- /etc/passwd\n+++ /etc/passwd\n@@ -1 +1 @@\n-x\n+y\n", "not a repository-relative path"),
        ("diff --git a/a.txt b/a.txt\nold mode 100644\nnew mode 100755\n", "mode changes"),
        ("", "not a unified diff"),
    ],
)
def test_malformed_or_unsafe_diffs_are_refused(repo: Path, text: str, reason: str) -> None:
    commit(repo, {"a.txt": SOURCE.encode()})
    result = validate(llm(text), reader(repo))
    assert isinstance(result, Rejected) and reason in result.reason


def test_text_around_the_diff_is_ignored_before_it_and_refused_between_files() -> None:
    diff = make_diff("a.txt", "x\n", "y\n")
    assert len(parse_diff("Here is the fix:\n\n" + diff)) == 1
    with pytest.raises(DiffError, match="unexpected text"):
        parse_diff(diff + "and also this\n" + make_diff("b.txt", "x\n", "y\n"))


lines = st.lists(st.sampled_from(["a", "b", "c", "", "  d", "e\r"]), max_size=25)


@settings(max_examples=300, deadline=None)
@given(old=lines, new=lines, final_old=st.booleans(), final_new=st.booleans())
def test_make_diff_then_apply_gives_the_new_text(
    old: list[str], new: list[str], final_old: bool, final_new: bool
) -> None:
    a = "\n".join(old) + ("\n" if old and final_old else "")
    b = "\n".join(new) + ("\n" if new and final_new else "")
    diff = make_diff("f.txt", a, b)
    if a == b:
        assert diff == ""
        return
    (file_diff,) = parse_diff(diff)
    assert apply_hunks(a, file_diff, "f.txt") == b


@settings(max_examples=40, deadline=None)
@given(old=lines, new=lines, drift=st.lists(st.sampled_from(["a", "z"]), max_size=3), at=st.integers(0, 25))
def test_our_verdict_agrees_with_git_apply_check(
    tmp_path_factory: pytest.TempPathFactory, old: list[str], new: list[str], drift: list[str], at: int
) -> None:
    a = "\n".join(old) + "\n" if old else ""
    b = "\n".join(new) + "\n" if new else ""
    diff = make_diff("f.txt", a, b)
    if not diff:
        return
    moved = old[:at] + drift + old[at:]  # the file drifted from what the diff was made on
    repo = tmp_path_factory.mktemp("agree")
    git(repo, "init", "-q")
    (repo / "f.txt").write_text("\n".join(moved) + "\n" if moved else "", newline="")
    ours = isinstance(validate(llm(diff), reader(repo)), Validated)
    assert ours == git_check(repo, diff)
