"""Review suggestions from a validated fix: which lines they replace, where they may sit, posted once each.

Diffs are made by our own writer (`make_diff`) from real before/after files, as `validate` makes them; the
posting runs against the GitHub simulator's review-comment endpoints (docs.github.com/en/rest/pulls/comments).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from github_sim import APP_ID, GitHubSim, keypair, new_sim

from actions.github_api import GitHubApi
from actions.github_suggest import anchored, ensure_suggestions, plan, right_side
from agent.fixes.unidiff import make_diff
from agent.models import Fix

REPO = "octo/app"
SHA = "c4" * 20
BEFORE = "".join(f"line {k}\n" for k in range(1, 21))


def fix_of(path: str, before: str, after: str, title: str = "a fix") -> Fix:
    return Fix(patch=make_diff(path, before, after), source="rule", files=[path], title=title, rules=["r"])


def pr_patch_for(lines: range) -> str:
    """A PR diff whose right side shows `lines` of BEFORE (all as added lines)."""
    body = [f"+line {k}" for k in lines]
    return f"@@ -{lines.start},0 +{lines.start},{len(lines)} @@\n" + "\n".join(body)


def test_a_one_line_change_replaces_that_line() -> None:
    after = BEFORE.replace("line 7\n", "line seven\n")
    [s] = plan(fix_of("a.txt", BEFORE, after))
    assert (s.path, s.start_line, s.end_line, s.old, s.new) == ("a.txt", 7, 7, ("line 7",), ("line seven",))


def test_a_change_of_several_lines_is_one_range_with_the_context_between() -> None:
    after = BEFORE.replace("line 7\n", "seven\n").replace("line 9\n", "nine\n")
    [s] = plan(fix_of("a.txt", BEFORE, after))
    assert (s.start_line, s.end_line) == (7, 9)
    assert s.old == ("line 7", "line 8", "line 9") and s.new == ("seven", "line 8", "nine")


def test_an_insertion_is_anchored_on_the_line_before_it() -> None:
    after = BEFORE.replace("line 4\n", "line 4\n#include <string.h>\n")
    [s] = plan(fix_of("a.c", BEFORE, after))
    assert (s.start_line, s.end_line, s.old, s.new) == (4, 4, ("line 4",), ("line 4", "#include <string.h>"))


def test_an_insertion_at_the_top_is_anchored_on_the_first_line() -> None:
    [s] = plan(fix_of("a.c", BEFORE, "#include <string.h>\n" + BEFORE))
    assert (s.start_line, s.old, s.new) == (1, ("line 1",), ("#include <string.h>", "line 1"))


def test_a_deletion_suggests_nothing_in_place_of_the_line() -> None:
    [s] = plan(fix_of("a.go", BEFORE, BEFORE.replace("line 12\n", "")))
    assert (s.start_line, s.end_line, s.new) == (12, 12, ())
    assert "```suggestion\n```" in s.body()


def test_crlf_files_and_new_files_get_no_suggestion() -> None:
    crlf = BEFORE.replace("\n", "\r\n")
    assert plan(fix_of("a.txt", crlf, crlf.replace("line 3", "three"))) == []
    new_file = "--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+x\n"
    assert plan(Fix(patch=new_file, source="rule", files=["new.txt"], title="t")) == []


def test_the_suggestion_block_cannot_be_closed_by_the_code_it_holds() -> None:
    [s] = plan(fix_of("a.md", BEFORE, BEFORE.replace("line 5\n", "````\n")))
    assert "`````suggestion\n````\n`````" in s.body()


def test_only_suggestions_inside_the_prs_diff_and_agreeing_with_it_are_kept() -> None:
    after = BEFORE.replace("line 3\n", "three\n").replace("line 15\n", "fifteen\n")
    inside, outside = plan(fix_of("a.txt", BEFORE, after))
    files = [{"filename": "a.txt", "patch": pr_patch_for(range(1, 6))}]
    assert anchored([inside, outside], files) == [inside]
    stale = [{"filename": "a.txt", "patch": "@@ -1,0 +1,5 @@\n+line 1\n+line 2\n+line X\n+line 4\n+line 5"}]
    assert anchored([inside], stale) == []  # the PR's line 3 is not what the fix replaces
    assert anchored([inside], [{"filename": "a.txt"}]) == []  # GitHub omits `patch` for big or binary diffs


def test_right_side_counts_context_and_added_lines_not_removed_ones() -> None:
    patch = "@@ -10,3 +10,3 @@ def f():\n ctx\n-old\n+new\n ctx2\n\\ No newline at end of file"
    assert right_side(patch) == {10: "ctx", 11: "new", 12: "ctx2"}


@pytest.fixture
def sim() -> Iterator[GitHubSim]:
    s = new_sim()
    s.add_repo(REPO)
    s.add_pull(REPO, 5, head_sha=SHA, head_ref="feature")
    yield s
    s.stop()


def test_each_suggestion_is_posted_alone_once_and_a_refused_one_does_not_stop_the_others(
    sim: GitHubSim,
) -> None:
    after = BEFORE.replace("line 3\n", "three\n").replace("line 15\n", "fifteen\n")
    fix = fix_of("a.txt", BEFORE, after)
    sim.add_pull_file(REPO, 5, "a.txt", pr_patch_for(range(1, 21)))
    sim.fail(
        "POST",
        r"/pulls/5/comments$",
        status=422,
        times=1,
        body={"message": "Validation Failed", "errors": [{"message": "line must be part of the diff"}]},
    )
    api = GitHubApi(base_url=sim.url, app_id=APP_ID, private_key=keypair()[0])
    with api.client(1) as gh:
        first = ensure_suggestions(gh, REPO, 5, SHA, [fix], login="cimedic-test[bot]", sent=set())
        assert len(first.refused) == 1 and len(first.created) == 1
        assert len(sim.review_comments) == 1
        # Our record lost (sent empty): the posted one is found by its marker, the refused one posted now.
        second = ensure_suggestions(gh, REPO, 5, SHA, [fix], login="cimedic-test[bot]", sent=set())
        assert second.found == [first.created[0][0]] and len(second.created) == 1
        assert len(sim.review_comments) == 2
        before = len(sim.calls)
        third = ensure_suggestions(
            gh, REPO, 5, SHA, [fix], login="cimedic-test[bot]", sent=set(second.done + first.done)
        )
        assert third.done == [] and len(sim.calls) == before  # all recorded: not a single request
    assert {c["line"] for c in sim.review_comments.values()} == {3, 15}


def test_gitlab_threads_sit_on_unchanged_lines_with_their_old_line_and_are_posted_once() -> None:
    from gitlab_sim import GitLabSim

    from actions.gitlab_suggest import ensure_mr_suggestions
    from webhooks.gitlab_forge import connect

    sim = GitLabSim().start()
    try:
        pid = sim.add_project("acme/shop")["id"]
        sim.add_mr(pid, 2, source_branch="feature", sha=SHA)
        # The MR inserted two lines above line 3: its new line 5 is the old line 3, unchanged.
        sim.add_mr_diff(pid, 2, "a.txt", "@@ -1,4 +1,6 @@\n line 1\n line 2\n+x\n+y\n line 3\n line 4")
        shifted = BEFORE.replace("line 3\n", "x\ny\nline 3\n")
        fix = fix_of("a.txt", shifted, shifted.replace("line 3\n", "three\n"))
        gl = connect(sim.url, sim.token)
        first = ensure_mr_suggestions(gl, pid, 2, SHA, [fix], username="cimedic-bot", sent=set())
        assert len(first.created) == 1 and first.refused == []
        [thread] = sim.discussions.values()
        position = thread["notes"][0]["position"]
        assert (position["new_line"], position["old_line"], position["new_path"]) == (5, 3, "a.txt")
        again = ensure_mr_suggestions(gl, pid, 2, SHA, [fix], username="cimedic-bot", sent=set())
        assert again.found == [first.created[0][0]] and again.created == []
        moved = ensure_mr_suggestions(gl, pid, 2, "d6" * 20, [fix], username="cimedic-bot", sent=set())
        assert moved.done == [] and len(sim.discussions) == 1  # the MR is at another commit: nothing
    finally:
        sim.stop()
