"""The App's fix outputs beside the sticky comment: review suggestions (actions/github_suggest.py) and draft
fix PRs (actions/fix_pr.py), recorded and audited like every other write (docs/ARCHITECTURE.md, "Where to
add... an output")."""

from __future__ import annotations

from collections.abc import Sequence

from actions.audit import AuditLog
from actions.fix_pr import FixBranch, FixPrResult, branch_name, ensure_fix_pr
from actions.github_api import Client, GitHubError
from actions.github_comment import FailedJob
from actions.github_suggest import SuggestOutcome, ensure_suggestions
from actions.patch_policy import patch_policy
from actions.policy import Policy
from agent.fixes import Patch, Rejected, validate
from webhooks import metrics
from webhooks.fix_reader import GitHubFiles
from webhooks.store import Claimed, Store

WRITE_PERMISSIONS = frozenset({"admin", "write"})
"""`permission` values of "Get repository permissions for a user" that may push (docs.github.com/en/rest/
collaborators/collaborators: maintain reads as write, triage as read)."""


def fix_command_refusal(gh: Client, repo: str, login: str, user_type: str | None) -> str | None:
    """Why a `/cimedic fix` comment is not obeyed, or None: bots (our own comments included) are never
    obeyed, and a person needs write access to the repository."""
    if user_type == "Bot" or not login or login.endswith("[bot]"):
        return "comments by bots are not commands"
    try:
        data = gh.get_json(
            "GET", f"/repos/{repo}/collaborators/{login}/permission", route="collaborators/{user}/permission"
        )
    except GitHubError as exc:
        if exc.status != 404:
            raise
        data = None  # not a collaborator (or no such user)
    if (data or {}).get("permission") not in WRITE_PERMISSIONS:
        return f"{login} has no write access to {repo}"
    return None


def suggestions_target(repo: str, number: int) -> str:
    return f"suggestions:{repo}#{number}"


def publish_suggestions(
    store: Store,
    audit: AuditLog,
    gh: Client,
    repo: str,
    number: int,
    head_sha: str,
    jobs: Sequence[FailedJob],
    *,
    login: str | None,
    policy: Policy,
    claimed: Claimed,
) -> None:
    """Suggest each job's validated fix on the PR's lines, once; called under the comment's lock."""
    fixes = [j.diagnosis.fix for j in jobs if j.diagnosis.fix is not None]
    if not fixes or not policy.outputs.suggestions:
        return
    target = suggestions_target(repo, number)
    _, _, state = store.published(target)
    sent = set(state or [])
    outcome = ensure_suggestions(
        gh, repo, number, head_sha, fixes, login=login, sent=sent, dry_run=policy.dry_run
    )
    record_suggestions(
        store,
        audit,
        target,
        sent,
        outcome,
        repo=repo,
        on=f"pr#{number}",
        claimed=claimed,
        detail={"sha": head_sha},
    )


def record_suggestions(
    store: Store,
    audit: AuditLog,
    target: str,
    sent: set[str],
    outcome: SuggestOutcome,
    *,
    repo: str,
    on: str,
    claimed: Claimed,
    detail: dict[str, object],
) -> None:
    """Remember which suggestions are done (so a redelivery posts none twice) and audit each write or refusal;
    the same for GitHub's review comments and GitLab's diff threads."""
    if outcome.done:
        store.set_published(target, None, None, sorted(sent | set(outcome.done)))
    for digest, remote_id in outcome.created:
        metrics.WRITES.labels(action="suggestion", outcome="created").inc()
        audit.record(
            repo=repo,
            action="suggestion.created",
            target=on,
            outcome="done",
            remote_id=remote_id,
            delivery_id=claimed.delivery_id,
            detail=detail | {"digest": digest},
        )
    for digest, why in outcome.refused:
        audit.record(
            repo=repo,
            action="suggestion.refused",
            target=on,
            outcome="failed",
            delivery_id=claimed.delivery_id,
            detail=detail | {"digest": digest, "reason": why},
        )


def _fix_target(repo: str, fingerprint: str) -> str:
    return f"fixpr:{repo}:{branch_name(fingerprint)}"


def fix_pr_links(store: Store, repo: str, jobs: Sequence[FailedJob]) -> dict[str, str]:
    """Fingerprint -> URL of its open draft fix PR, from our record (for the sticky comment)."""
    links = {}
    for fingerprint in {j.diagnosis.fingerprint for j in jobs if j.diagnosis.fix is not None}:
        _, _, state = store.published(_fix_target(repo, fingerprint))
        known = FixBranch.from_state(state)
        if known.url and not known.stopped:
            links[fingerprint] = known.url
    return links


def publish_fix_prs(
    store: Store,
    audit: AuditLog,
    gh: Client,
    repo: str,
    number: int,
    head_sha: str,
    jobs: Sequence[FailedJob],
    *,
    policy: Policy,
    claimed: Claimed,
    default_branch: str | None,
    asked_by: str | None = None,
) -> None:
    """A draft fix PR per distinct checked fix of this commit's failed jobs (`actions.fix_pr`), when the
    policy asks for them or `asked_by` (a `/cimedic fix` comment) did. Called under the comment's lock."""
    if not (policy.fixes.pull_request or asked_by):
        return
    chosen = {j.diagnosis.fingerprint: j for j in jobs if j.diagnosis.fix is not None}
    if not chosen:
        if asked_by:
            # Someone asked and nothing can be proposed: say so in the record rather than drop the request.
            audit.record(
                repo=repo,
                action="fix_pr.none",
                target=f"pr#{number}",
                outcome="skipped",
                delivery_id=claimed.delivery_id,
                detail={"sha": head_sha, "asked_by": asked_by, "reason": "no checked fix for these failures"},
            )
        return
    pull = gh.get_pull(repo, number)
    attempts_target = f"fixpr-attempts:{repo}#{number}"
    for fingerprint, job in sorted(chosen.items()):
        fix = job.diagnosis.fix
        assert fix is not None
        onto = None
        checked = head_sha
        if (
            job.diagnosis.verdict is not None
            and job.diagnosis.verdict.kind == "broken-trunk"
            and default_branch
        ):
            # The base branch is broken, not this PR: the fix goes to the default branch, checked at its head.
            ref = gh.get_json("GET", f"/repos/{repo}/git/ref/heads/{default_branch}", route="git/ref/{ref}")
            checked = str(ref["object"]["sha"])
            onto = (default_branch, checked)
        again = validate(
            Patch(fix.source, fix.title, diff=fix.patch, lockfile_fix=True),
            GitHubFiles(gh, repo, checked),
            patch_policy(policy),
        )
        target = _fix_target(repo, fingerprint)
        detail: dict[str, object] = {"sha": checked, "fingerprint": fingerprint, "asked_by": asked_by}
        if isinstance(again, Rejected):
            audit.record(
                repo=repo,
                action="fix_pr.skipped",
                target=f"pr#{number}",
                outcome="skipped",
                delivery_id=claimed.delivery_id,
                detail=detail | {"reason": f"the fix no longer applies: {again.reason}"},
            )
            continue
        _, _, state = store.published(target)
        known = FixBranch.from_state(state)
        _, _, tries = store.published(attempts_target)
        try:
            result = ensure_fix_pr(
                gh,
                repo,
                pull,
                checked,
                fix,
                again.results,
                fingerprint,
                known=known,
                attempts=int(tries or 0),
                onto=onto,
                dry_run=policy.dry_run,
            )
        except GitHubError as exc:
            if exc.transient:
                raise  # the delivery is retried; what we made is recorded below
            result = FixPrResult("failed", known, str(exc))
        finally:
            # Whatever happened, the commits we made are ours: a retry must not take them for a person's.
            store.set_published(target, known.number, None, known.to_state())
        if result.outcome == "created":
            store.set_published(attempts_target, None, None, int(tries or 0) + 1)
            metrics.WRITES.labels(action="fix_pr", outcome="created").inc()
        if result.outcome != "exists":
            audit.record(
                repo=repo,
                action=f"fix_pr.{result.outcome}",
                target=f"pr#{number}",
                outcome="done" if result.outcome == "created" else result.outcome,
                remote_id=known.number if result.outcome == "created" else None,
                delivery_id=claimed.delivery_id,
                detail=detail | {"reason": result.reason, "branch": branch_name(fingerprint)},
            )
