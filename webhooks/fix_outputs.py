"""The App's fix outputs beside the sticky comment: review suggestions (actions/github_suggest.py) and draft
fix PRs (actions/fix_pr.py), recorded and audited like every other write (docs/ARCHITECTURE.md, "Where to
add... an output"). `publish_fixes` is the forge-neutral part of draft fix requests, which GitLab's fix MRs
share (webhooks/gitlab_fix_outputs.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from actions.audit import AuditLog
from actions.fix_pr import ensure_fix_pr
from actions.fix_request import FixBranch, FixResult, branch_name, nothing_to_fix
from actions.github_api import Client, GitHubError
from actions.github_comment import FailedJob
from actions.github_suggest import SuggestOutcome, ensure_suggestions
from actions.patch_policy import patch_policy
from actions.policy import Policy
from agent.fixes import Patch, Reader, Rejected, validate
from agent.models import Fix
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


def fix_target(repo: str, fingerprint: str) -> str:
    """Our record of one fix branch (`FixBranch`): `repo` is our name for the repository (GitLab's are
    `gitlab:`-prefixed, webhooks/gitlab.py `repo_key`)."""
    return f"fixpr:{repo}:{branch_name(fingerprint)}"


def fix_links(store: Store, repo: str, jobs: Sequence[FailedJob]) -> dict[str, str]:
    """Fingerprint -> URL of its open draft fix request, from our record (for the sticky comment / note)."""
    links = {}
    for fingerprint in {j.diagnosis.fingerprint for j in jobs if j.diagnosis.fix is not None}:
        _, _, state = store.published(fix_target(repo, fingerprint))
        known = FixBranch.from_state(state)
        if known.url and not known.stopped:
            links[fingerprint] = known.url
    return links


Ensure = Callable[
    [Fix, Mapping[str, str | None], str, FixBranch, int, "tuple[str, str] | None", Reader], FixResult
]
"""(fix, results, fingerprint, known, attempts, onto, reader) -> the forge's `ensure_fix_*` outcome."""


@dataclass(frozen=True)
class FixRequests:
    """What `publish_fixes` needs of one forge for one pull/merge request."""

    action: str  # audit prefix: `fix_pr` or `fix_mr`
    on: str  # the request in the audit log: `pr#12`, `mr:5!4`
    number: str  # our record's key of the request: `owner/repo#12`, `gitlab:group/project!4`
    trunk_tip: Callable[[str], str]  # default branch -> its head SHA (a broken trunk is fixed there)
    reader: Callable[[str], Reader]  # SHA -> the files at that commit
    ensure: Ensure
    # The forge's error: True, retry the delivery; False, record the attempt as failed; None, not the forge's
    # error at all (raised as it is).
    transient: Callable[[Exception], bool | None]
    reply: Callable[[str], None]  # post a reply on the request


def publish_fixes(
    store: Store,
    audit: AuditLog,
    forge: FixRequests,
    repo: str,
    head_sha: str,
    jobs: Sequence[FailedJob],
    *,
    policy: Policy,
    claimed: Claimed,
    default_branch: str | None,
    asked_by: str | None = None,
) -> None:
    """A draft fix request per distinct checked fix of this commit's failed jobs (`actions.fix_request`),
    when the policy asks for them or `asked_by` (a `/cimedic fix` comment) did. Called under the sticky
    comment's lock, whether or not the comment itself is enabled (a fix request is its own output)."""
    if not (policy.fixes.pull_request or asked_by):
        return
    chosen = {j.diagnosis.fingerprint: j for j in jobs if j.diagnosis.fix is not None}
    if not chosen:
        if asked_by:
            _nothing_to_fix(store, audit, forge, repo, head_sha, asked_by, policy=policy, claimed=claimed)
        return
    attempts_target = f"fixpr-attempts:{forge.number}"
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
            # The base branch is broken, not this request: the fix goes to the default branch, checked there.
            checked = forge.trunk_tip(default_branch)
            onto = (default_branch, checked)
        reader = forge.reader(checked)
        again = validate(
            Patch(fix.source, fix.title, diff=fix.patch, lockfile_fix=True), reader, patch_policy(policy)
        )
        target = fix_target(repo, fingerprint)
        detail: dict[str, object] = {"sha": checked, "fingerprint": fingerprint, "asked_by": asked_by}
        if isinstance(again, Rejected):
            audit.record(
                repo=repo,
                action=f"{forge.action}.skipped",
                target=forge.on,
                outcome="skipped",
                delivery_id=claimed.delivery_id,
                detail=detail | {"reason": f"the fix no longer applies: {again.reason}"},
            )
            continue
        _, _, state = store.published(target)
        known = FixBranch.from_state(state)
        _, _, tries = store.published(attempts_target)
        try:
            result = forge.ensure(fix, again.results, fingerprint, known, int(tries or 0), onto, reader)
        except Exception as exc:
            if forge.transient(exc) is not False:
                raise  # the delivery is retried; what we made is recorded below
            result = FixResult("failed", known, str(exc))
        finally:
            # Whatever happened, the commits we made are ours: a retry must not take them for a person's.
            store.set_published(target, known.number, None, known.to_state())
        if result.outcome == "created":
            store.set_published(attempts_target, None, None, int(tries or 0) + 1)
            metrics.WRITES.labels(action=forge.action, outcome="created").inc()
        if result.outcome != "exists":
            audit.record(
                repo=repo,
                action=f"{forge.action}.{result.outcome}",
                target=forge.on,
                outcome="done" if result.outcome == "created" else result.outcome,
                remote_id=known.number if result.outcome == "created" else None,
                delivery_id=claimed.delivery_id,
                detail=detail | {"reason": result.reason, "branch": branch_name(fingerprint)},
            )


def _nothing_to_fix(
    store: Store,
    audit: AuditLog,
    forge: FixRequests,
    repo: str,
    head_sha: str,
    asked_by: str,
    *,
    policy: Policy,
    claimed: Claimed,
) -> None:
    """Someone asked and nothing can be proposed: say so on the request, once per commit (asking again, or a
    redelivery, gets no second reply), and in the record."""
    target = f"fix-none:{forge.number}@{head_sha}"
    replied = store.published(target)[2] is not None
    if not replied and not policy.dry_run:
        forge.reply(nothing_to_fix(asked_by, head_sha))
        store.set_published(target, None, None, asked_by)
    audit.record(
        repo=repo,
        action=f"{forge.action}.none",
        target=forge.on,
        outcome="skipped",
        delivery_id=claimed.delivery_id,
        detail={
            "sha": head_sha,
            "asked_by": asked_by,
            "reason": "no checked fix for these failures",
            "replied": not replied and not policy.dry_run,
        },
    )


def _github_transient(exc: Exception) -> bool | None:
    return exc.transient if isinstance(exc, GitHubError) else None


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
    """GitHub's draft fix PRs (`actions.fix_pr`) for pull request `number`, through `publish_fixes`."""
    pull: dict[str, object] = {}

    def trunk_tip(branch: str) -> str:
        ref = gh.get_json("GET", f"/repos/{repo}/git/ref/heads/{branch}", route="git/ref/{ref}")
        return str(ref["object"]["sha"])

    def ensure(
        fix: Fix,
        results: Mapping[str, str | None],
        fingerprint: str,
        known: FixBranch,
        attempts: int,
        onto: tuple[str, str] | None,
        _reader: Reader,
    ) -> FixResult:
        if not pull:
            pull.update(gh.get_pull(repo, number))
        return ensure_fix_pr(
            gh,
            repo,
            pull,
            onto[1] if onto else head_sha,
            fix,
            results,
            fingerprint,
            known=known,
            attempts=attempts,
            onto=onto,
            dry_run=policy.dry_run,
        )

    def reply(body: str) -> None:
        gh.create_comment(repo, number, body)

    forge = FixRequests(
        action="fix_pr",
        on=f"pr#{number}",
        number=f"{repo}#{number}",
        trunk_tip=trunk_tip,
        reader=lambda sha: GitHubFiles(gh, repo, sha),
        ensure=ensure,
        transient=_github_transient,
        reply=reply,
    )
    publish_fixes(
        store,
        audit,
        forge,
        repo,
        head_sha,
        jobs,
        policy=policy,
        claimed=claimed,
        default_branch=default_branch,
        asked_by=asked_by,
    )
