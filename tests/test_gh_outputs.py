"""The writers against the simulator: sticky comment search over all pages, size limit, annotation batches."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from github_sim import APP_ID, GitHubSim, keypair, new_sim

from actions.github_api import Client, GitHubApi
from actions.github_checks import ensure_check_run
from actions.github_comment import (
    MARKER,
    MAX_BODY,
    FailedJob,
    ensure_sticky_comment,
    render_comment,
)
from actions.policy import parse_policy
from agent.models import Category, Diagnosis, Facts, Location, LogLine, Verdict

REPO = "octo/app"


def diag(i: int, *, lines: int = 30, locations: int = 1) -> Diagnosis:
    return Diagnosis(
        source=f"https://github.com/{REPO}/actions/runs/1/job/{i}",
        category=Category.TEST,
        confidence=0.9,
        title=f"pytest: tests/test_{i}.py::test_x failed @someone <b>",
        focus=[LogLine(line=10, text="E   assert 1 == 2")],
        excerpt=[
            LogLine(line=n, text=f"line {n} ``` of failure {i} " + "x" * 80) for n in range(1, lines + 1)
        ],
        fingerprint=f"fp{i:04d}",
        facts=Facts(
            locations=[
                Location(path=f"/home/runner/work/app/app/src/m{i}_{k}.py", line=k + 1, message="boom")
                for k in range(locations)
            ]
        ),
        verdict=Verdict(kind="new", reason="The same job passes on `main`."),
    )


@pytest.fixture
def sim() -> Iterator[GitHubSim]:
    s = new_sim()
    s.add_repo(REPO)
    s.add_pull(REPO, 5, head_sha="f" * 40, head_ref="feature")
    yield s
    s.stop()


@pytest.fixture
def client(sim: GitHubSim) -> Iterator[Client]:
    api = GitHubApi(base_url=sim.url, app_id=APP_ID, private_key=keypair()[0])
    with api.client(1) as c:
        yield c


def test_sticky_comment_is_found_on_a_later_page_and_not_duplicated(sim: GitHubSim, client: Client) -> None:
    add = sim.add_comment_by_user  # type: ignore[attr-defined]
    for i in range(120):
        add(REPO, 5, f"chatter {i}")
    add(REPO, 5, f"{MARKER}\nquoted by a human")  # marker, wrong author: never edited
    outcome, first_id = ensure_sticky_comment(client, REPO, 5, f"{MARKER}\nv1", login="cimedic-test[bot]")
    assert outcome == "created"
    for i in range(120):
        add(REPO, 5, f"more chatter {i}")
    # Nothing known locally (e.g. a fresh database): search every page, find ours, update it.
    outcome, again = ensure_sticky_comment(client, REPO, 5, f"{MARKER}\nv2", login="cimedic-test[bot]")
    assert (outcome, again) == ("updated", first_id)
    outcome, _ = ensure_sticky_comment(client, REPO, 5, f"{MARKER}\nv2", login="cimedic-test[bot]")
    assert outcome == "unchanged"
    ours = [c for c in sim.comments_on(REPO, 5) if c["user"]["login"] == "cimedic-test[bot]"]
    assert len(ours) == 1 and ours[0]["body"].endswith("v2") and ours[0]["_edits"] == 1
    assert any(c["body"].endswith("quoted by a human") for c in sim.comments_on(REPO, 5))


def test_known_id_and_hash_cost_no_request_when_unchanged(sim: GitHubSim, client: Client) -> None:
    from actions.github_comment import body_hash

    _, cid = ensure_sticky_comment(client, REPO, 5, f"{MARKER}\nx", login="cimedic-test[bot]")
    before = len(sim.calls)
    outcome, _ = ensure_sticky_comment(
        client,
        REPO,
        5,
        f"{MARKER}\nx",
        login="cimedic-test[bot]",
        known_id=cid,
        known_hash=body_hash(f"{MARKER}\nx"),
    )
    assert outcome == "unchanged" and len(sim.calls) == before


def test_comment_stays_under_the_limit_with_many_failures() -> None:
    jobs = [
        FailedJob(f"job {i}", f"https://github.com/{REPO}/actions/runs/1/job/{i}", diag(i, lines=80))
        for i in range(300)
    ]
    body = render_comment(jobs, head_sha="f" * 40)
    assert len(body) < MAX_BODY
    assert (
        body.startswith(MARKER) and "300 failed jobs" in body and "more distinct failures not shown" in body
    )


def test_untrusted_text_cannot_mention_or_inject_html() -> None:
    body = render_comment([FailedJob("j", None, diag(1))], head_sha="f" * 40)
    assert "@someone" not in body and "<b>" not in body
    assert "````text" in body  # the excerpt contains ``` so the fence is longer


def test_excerpt_line_numbers_link_to_the_job_log() -> None:
    from markdown_it import MarkdownIt

    url = f"https://github.com/{REPO}/actions/runs/1/job/7"
    d = diag(7, lines=12)
    hostile = LogLine(line=14, text="</pre><script>x</script> cc @octocat & <a href=x>")
    d = d.model_copy(update={"excerpt": [*d.excerpt, LogLine(line=13, text=""), hostile]})
    body = render_comment([FailedJob("test", url, d)], head_sha="f" * 40)
    # CommonMark reads the excerpt as one raw HTML block (blank line included), so its links survive.
    blocks = [t.content for t in MarkdownIt("commonmark").parse(body) if t.type == "html_block"]
    pre = next(b for b in blocks if b.startswith("<pre>"))
    assert pre.rstrip().endswith("</pre>") and pre.count("</pre>") == 1
    assert pre.count(f'<a href="{url}">') == 14  # every line number, one per excerpt line
    assert f'&gt;<a href="{url}">10</a> | line 10 ``` of' in pre  # the focus line is marked
    assert "&lt;/pre&gt;&lt;script&gt;x&lt;/script&gt;" in pre and "&amp; &lt;a href=x&gt;" in pre
    assert "@octocat" not in body and "<script>" not in body


def test_matrix_jobs_with_one_fingerprint_form_one_group() -> None:
    d = diag(1)
    jobs = [FailedJob(f"test ({n})", None, d) for n in range(12)]
    body = render_comment(jobs, head_sha="f" * 40)
    assert "Same failure in 12 jobs" in body and body.count("<details>") == 1


def test_annotations_go_in_batches_of_50(sim: GitHubSim, client: Client) -> None:
    jobs = [FailedJob("test", None, diag(1, locations=120))]
    outcome, check_id, digest, sent, _requests = ensure_check_run(
        client, REPO, "f" * 40, jobs, known_id=None, known_hash=None, sent_keys=set()
    )
    assert outcome == "created" and check_id is not None
    assert sim.annotation_batches[check_id] == [50, 50, 20]
    assert {a["path"] for a in sim.check_runs[check_id]["_annotations"]} == {
        f"src/m1_{k}.py" for k in range(120)
    }
    # Publishing again with the same failures sends nothing new.
    again = ensure_check_run(
        client, REPO, "f" * 40, jobs, known_id=check_id, known_hash=digest, sent_keys=sent
    )
    assert again[0] == "unchanged" and again[4] == 0


def test_policy_parsing() -> None:
    p = parse_policy("dry_run: true\noutputs: {comment: false}\nrerun: [flaky]\nignore: {jobs: ['docs*']}\n")
    assert p.dry_run and not p.outputs.comment and p.outputs.check_run and p.rerun == ["flaky"]
    assert p.ignores_job("docs build") and not p.ignores_job("test")
    bad = parse_policy("dry_run: maybe\nunknown_key: 1\n")
    assert bad.dry_run and bad.error is not None and "cimedic.yml" in bad.error
    assert parse_policy(None) == parse_policy("") == parse_policy("# only a comment\n")
