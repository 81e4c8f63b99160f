"""A GitHub simulator: a real HTTP server on 127.0.0.1 answering the REST endpoints CI Medic uses.

State (repos, runs, jobs, logs, PRs, comments, check runs) is held in memory and shaped like GitHub's REST
responses (docs.github.com/en/rest: actions/workflow-runs, actions/workflow-jobs, pulls, issues/comments,
checks/runs, repos/contents, apps/apps, apps/webhooks). App JWTs are verified with the test key (RS256, `iss`
= the App id, as docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/
generating-a-json-web-token-jwt-for-a-github-app describes); installation tokens are issued by
POST /app/installations/{id}/access_tokens and required on repository endpoints.

Faults on cue: `fail(...)` makes the next N matching requests (or, with `chance`, a random share of them)
- answer a status instead of being carried out (5xx, 403 secondary limit with or without retry-after),
- wait `delay_s` before being carried out (a slow GitHub),
- be carried out and then answer `after_s` late (the write happened; a client with a shorter timeout never
  hears of it), or lose the connection after the status line (`drop`: the write happened, the answer is cut),
- or send their body one byte every `drip_s` seconds (a log host that trickles).
`chaos(chance)` spreads such faults at random (seeded: `GitHubSim(seed=...)`) over the repository endpoints
and log downloads, for chaos tests. `uninstall(id)` makes an installation's token requests answer 404.
`primary_limit(n)` makes the n+1-th call answer 403 with x-ratelimit-remaining 0. `fired` lists the faults
applied, as (method, path, kind), so a test can tell which of its injected faults actually happened.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import random
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

API_HOST = "https://api.github.com"
WEB_HOST = "https://github.com"


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int | None = None
    delay_s: float = 0.0
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    after_s: float = 0.0
    drop: bool = False
    drip_s: float = 0.0
    chance: float = 1.0

    @property
    def kind(self) -> str:
        if self.status is not None:
            return f"status {self.status}"
        if self.drop:
            return "drop"
        if self.drip_s:
            return "drip"
        return "late answer" if self.after_s else "delay"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _user(login: str, uid: int, kind: str = "User") -> dict[str, Any]:
    return {
        "login": login,
        "id": uid,
        "node_id": f"U_{uid}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
        "gravatar_id": "",
        "url": f"{API_HOST}/users/{login}",
        "html_url": f"{WEB_HOST}/{login}",
        "type": kind,
        "site_admin": False,
    }


class GitHubSim:
    """In-memory GitHub. Build a scenario with the `add_*` methods, then point CI Medic at `url`."""

    def __init__(
        self,
        *,
        app_id: int,
        public_key_pem: str,
        app_slug: str = "cimedic-test",
        pat: str | None = None,
        seed: int = 0,
    ) -> None:
        self.app_id = app_id
        self.public_key = public_key_pem
        self.app_slug = app_slug
        self.pat = pat
        self.lock = threading.RLock()
        self.ids = itertools.count(1000)
        self.repos: dict[str, dict[str, Any]] = {}
        self.files: dict[tuple[str, str, str], str] = {}
        self.runs: dict[int, dict[str, Any]] = {}
        self.jobs: dict[int, dict[str, Any]] = {}
        self.logs: dict[int, bytes] = {}
        self.pulls: dict[tuple[str, int], dict[str, Any]] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self.pull_files: dict[tuple[str, int], list[dict[str, Any]]] = {}
        # Git data (docs: rest/git): commits, flat trees (path -> (mode, text)) and refs ("heads/x").
        self.commits: dict[str, dict[str, Any]] = {}
        self.trees: dict[str, dict[str, tuple[str, str]]] = {}
        self.refs: dict[tuple[str, str], str] = {}
        self.permissions: dict[tuple[str, str], str] = {}  # (repo, login) -> admin | maintain | write | ...
        self.review_comments: dict[int, dict[str, Any]] = {}
        self.check_runs: dict[int, dict[str, Any]] = {}
        self.annotation_batches: dict[int, list[int]] = {}
        self.reruns: list[int] = []
        self.comment_log: list[tuple[float, str, int, str]] = []  # (time, repo, issue, body) of every write
        self.tokens: dict[str, int] = {}
        # Installation tokens minted elsewhere (the runner's GITHUB_TOKEN, actions/create-github-app-token):
        # token -> the bot login its writes appear under.
        self.bot_tokens: dict[str, str] = {}
        self.calls: list[tuple[str, str, int]] = []
        self.started: list[tuple[str, str]] = []  # requests as they arrive (calls records them when answered)
        self.faults: list[Fault] = []
        self.uninstalled: set[int] = set()
        self.fired: list[tuple[str, str, str]] = []
        self.rng = random.Random(seed)
        self.ratelimit_left: int | None = None
        self.hook_deliveries: list[dict[str, Any]] = []
        self.redelivered: list[int] = []
        self.url = ""
        self.app = _FaultLayer(self._build(), self)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # --- scenario building --------------------------------------------------------------------------

    def add_repo(
        self, full_name: str, *, default_branch: str = "main", installation_id: int = 1
    ) -> dict[str, Any]:
        owner, name = full_name.split("/")
        rid = next(self.ids)
        repo = {
            "id": rid,
            "node_id": f"R_{rid}",
            "name": name,
            "full_name": full_name,
            "private": False,
            "owner": _user(owner, next(self.ids), "Organization"),
            "html_url": f"{WEB_HOST}/{full_name}",
            "description": None,
            "fork": False,
            "url": f"{API_HOST}/repos/{full_name}",
            "default_branch": default_branch,
            "installation_id": installation_id,
        }
        with self.lock:
            self.repos[full_name] = repo
        return repo

    def add_file(self, repo: str, path: str, text: str, *, ref: str | None = None) -> None:
        ref = ref or self.repos[repo]["default_branch"]
        with self.lock:
            self.files[(repo, ref, path)] = text

    def add_pull(
        self,
        repo: str,
        number: int,
        *,
        head_sha: str,
        head_ref: str,
        base_ref: str | None = None,
        fork: str | None = None,
    ) -> dict[str, Any]:
        base_ref = base_ref or self.repos[repo]["default_branch"]
        head_repo = fork or repo
        pr = {
            "url": f"{API_HOST}/repos/{repo}/pulls/{number}",
            "id": next(self.ids),
            "number": number,
            "state": "open",
            "title": f"PR {number}",
            "user": _user("contributor", 77),
            "html_url": f"{WEB_HOST}/{repo}/pull/{number}",
            "head": {
                "ref": head_ref,
                "sha": head_sha,
                "label": f"{head_repo.split('/')[0]}:{head_ref}",
                "repo": {
                    "id": next(self.ids),
                    "full_name": head_repo,
                    "url": f"{API_HOST}/repos/{head_repo}",
                },
            },
            "base": {
                "ref": base_ref,
                "sha": "b" * 40,
                "label": f"{repo.split('/')[0]}:{base_ref}",
                "repo": {"id": self.repos[repo]["id"], "full_name": repo, "url": f"{API_HOST}/repos/{repo}"},
            },
        }
        with self.lock:
            self.pulls[(repo, number)] = pr
        return pr

    def add_commit(
        self,
        repo: str,
        files: dict[str, str],
        *,
        sha: str | None = None,
        parents: list[str] | None = None,
        branch: str | None = None,
        modes: dict[str, str] | None = None,
        author: str = "contributor",
    ) -> str:
        """A commit whose tree holds `files` (readable through the contents API at its SHA, and at
        `branch`, which then points at it)."""
        tree = {p: ((modes or {}).get(p, "100644"), t) for p, t in files.items()}
        with self.lock:
            return self._commit(
                repo, tree, sha=sha, parents=parents or [], branch=branch, author=author, message="c"
            )

    def _commit(
        self,
        repo: str,
        tree: dict[str, tuple[str, str]],
        *,
        sha: str | None,
        parents: list[str],
        branch: str | None,
        author: str,
        message: str,
    ) -> str:
        tree_sha = hashlib.sha1(json.dumps(sorted(tree.items())).encode()).hexdigest()
        self.trees[tree_sha] = dict(tree)
        sha = sha or hashlib.sha1(f"{tree_sha}{parents}{message}{next(self.ids)}".encode()).hexdigest()
        self.commits[sha] = {
            "repo": repo,
            "tree": tree_sha,
            "parents": list(parents),
            "message": message,
            "author": {"name": author, "email": f"{author}@example.com", "date": _now()},
        }
        for path, (_mode, text) in tree.items():
            self.files[(repo, sha, path)] = text
        if branch is not None:
            self.move_branch(repo, branch, sha)
        return sha

    def move_branch(self, repo: str, branch: str, sha: str) -> None:
        with self.lock:
            self.refs[(repo, f"heads/{branch}")] = sha
            for r, ref, path in [k for k in self.files if k[0] == repo and k[1] == branch]:
                del self.files[(r, ref, path)]
            tree = self.trees[self.commits[sha]["tree"]]
            for path, (_mode, text) in tree.items():
                self.files[(repo, branch, path)] = text

    def push(self, repo: str, branch: str, files: dict[str, str], *, author: str = "human") -> str:
        """Someone pushes a commit on `branch` changing `files` (a person, not the App)."""
        with self.lock:
            head = self.refs[(repo, f"heads/{branch}")]
            tree = dict(self.trees[self.commits[head]["tree"]])
            tree.update({p: (tree.get(p, ("100644", ""))[0], t) for p, t in files.items()})
            return self._commit(
                repo, tree, sha=None, parents=[head], branch=branch, author=author, message="push"
            )

    def add_pull_file(
        self, repo: str, number: int, filename: str, patch: str, *, status: str = "modified"
    ) -> None:
        """A file of the PR's diff, as "List pull requests files" shows it (docs: rest/pulls/pulls)."""
        rows = patch.split("\n")
        entry = {
            "sha": f"{abs(hash((repo, number, filename))):040x}"[:40],
            "filename": filename,
            "status": status,
            "additions": sum(1 for r in rows if r.startswith("+")),
            "deletions": sum(1 for r in rows if r.startswith("-")),
            "changes": sum(1 for r in rows if r[:1] in ("+", "-")),
            "blob_url": f"{WEB_HOST}/{repo}/blob/{self.pulls[(repo, number)]['head']['sha']}/{filename}",
            "raw_url": f"{WEB_HOST}/{repo}/raw/{self.pulls[(repo, number)]['head']['sha']}/{filename}",
            "contents_url": f"{API_HOST}/repos/{repo}/contents/{filename}",
            "patch": patch,
        }
        with self.lock:
            self.pull_files.setdefault((repo, number), []).append(entry)

    def add_run(
        self,
        repo: str,
        *,
        head_sha: str,
        head_branch: str,
        workflow_id: int = 7,
        name: str = "CI",
        event: str = "pull_request",
        conclusion: str | None = "failure",
        run_attempt: int = 1,
        pulls: list[int] | None = None,
        run_id: int | None = None,
    ) -> dict[str, Any]:
        rid = run_id or next(self.ids)
        prs = []
        for n in pulls or []:
            p = self.pulls[(repo, n)]
            # GitHub lists only PRs whose head is in this repository; fork PRs appear as an empty list
            # (docs: rest/actions/workflow-runs, "pull_requests").
            if p["head"]["repo"]["full_name"] == repo:
                prs.append(
                    {
                        "url": p["url"],
                        "id": p["id"],
                        "number": n,
                        "head": {"ref": p["head"]["ref"], "sha": p["head"]["sha"], "repo": p["head"]["repo"]},
                        "base": {"ref": p["base"]["ref"], "sha": p["base"]["sha"], "repo": p["base"]["repo"]},
                    }
                )
        run = {
            "id": rid,
            "name": name,
            "node_id": f"WFR_{rid}",
            "head_branch": head_branch,
            "head_sha": head_sha,
            "path": ".github/workflows/ci.yml",
            "display_title": name,
            "run_number": rid % 1000,
            "event": event,
            "status": "completed",
            "conclusion": conclusion,
            "workflow_id": workflow_id,
            "check_suite_id": next(self.ids),
            "url": f"{API_HOST}/repos/{repo}/actions/runs/{rid}",
            "html_url": f"{WEB_HOST}/{repo}/actions/runs/{rid}",
            "pull_requests": prs,
            "created_at": _now(),
            "updated_at": _now(),
            "run_attempt": run_attempt,
            "run_started_at": _now(),
            "jobs_url": f"{API_HOST}/repos/{repo}/actions/runs/{rid}/jobs",
            "logs_url": f"{API_HOST}/repos/{repo}/actions/runs/{rid}/logs",
            "workflow_url": f"{API_HOST}/repos/{repo}/actions/workflows/{workflow_id}",
            "repository": {"id": self.repos[repo]["id"], "full_name": repo},
            "head_repository": {
                "full_name": (self.pulls[(repo, pulls[0])]["head"]["repo"]["full_name"] if pulls else repo)
            },
            "_repo": repo,
        }
        with self.lock:
            self.runs[rid] = run
        return run

    def add_job(
        self,
        run: dict[str, Any],
        name: str,
        *,
        log: str | bytes,
        conclusion: str = "failure",
        failed_step: str = "Run tests",
        job_id: int | None = None,
    ) -> dict[str, Any]:
        jid = job_id or next(self.ids)
        repo = run["_repo"]
        steps = [
            {"name": "Set up job", "status": "completed", "conclusion": "success", "number": 1},
            {"name": failed_step, "status": "completed", "conclusion": conclusion, "number": 2},
        ]
        job = {
            "id": jid,
            "run_id": run["id"],
            "run_url": run["url"],
            "run_attempt": run["run_attempt"],
            "node_id": f"J_{jid}",
            "head_sha": run["head_sha"],
            "head_branch": run["head_branch"],
            "url": f"{API_HOST}/repos/{repo}/actions/jobs/{jid}",
            "html_url": f"{WEB_HOST}/{repo}/actions/runs/{run['id']}/job/{jid}",
            "status": "completed",
            "conclusion": conclusion,
            "created_at": _now(),
            "started_at": _now(),
            "completed_at": _now(),
            "name": name,
            "steps": steps,
            "check_run_url": f"{API_HOST}/repos/{repo}/check-runs/{jid}",
            "labels": ["ubuntu-latest"],
            "runner_id": 5,
            "runner_name": "GitHub Actions 5",
            "runner_group_id": 2,
            "runner_group_name": "GitHub Actions",
            "workflow_name": run["name"],
        }
        with self.lock:
            self.jobs[jid] = job
            self.logs[jid] = log.encode() if isinstance(log, str) else log
        return job

    def fail(
        self,
        method: str,
        path_regex: str,
        *,
        status: int | None = 502,
        times: int = 1,
        delay_s: float = 0.0,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        after_s: float = 0.0,
        drop: bool = False,
        drip_s: float = 0.0,
        chance: float = 1.0,
    ) -> None:
        """The next `times` requests matching (each with probability `chance`) answer `status`; with
        `status=None` they are carried out and delayed (`delay_s` before, `after_s` after), cut (`drop`) or
        trickled (`drip_s`). `method` "*" matches any method."""
        with self.lock:
            self.faults.append(
                Fault(
                    method.upper(),
                    re.compile(path_regex),
                    status,
                    delay_s,
                    times,
                    headers or {},
                    body,
                    after_s,
                    drop,
                    drip_s,
                    chance,
                )
            )

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            self.started.append((method, path))
            for f in self.faults:
                if f.times > 0 and f.method in (method, "*") and f.pattern.search(path):
                    if f.chance < 1.0 and self.rng.random() >= f.chance:
                        continue  # spared by this fault; a later one may still apply
                    f.times -= 1
                    self.fired.append((method, path, f.kind))
                    return f
        return None

    def chaos(self, chance: float, *, late_s: float = 3.0, times: int = 1_000_000) -> None:
        """Random faults on the repository endpoints and log downloads, each request hit with about
        `chance`: reads answer 502 or are cut; writes answer 502 (not carried out), answer `late_s` late or
        are cut (carried out). Installation tokens are spared (GitHub's token endpoint is not the subject)."""
        repo, blobs = r"^/repos/", r"^/_blobs/"
        self.fail("GET", repo, status=502, times=times, chance=chance / 2)
        self.fail("GET", repo, status=None, drop=True, times=times, chance=chance / 2)
        self.fail("GET", blobs, status=503, times=times, chance=chance)
        for method in ("POST", "PATCH"):
            self.fail(method, repo, status=502, times=times, chance=chance / 3)
            self.fail(method, repo, status=None, after_s=late_s, times=times, chance=chance / 3)
            self.fail(method, repo, status=None, drop=True, times=times, chance=chance / 3)

    def uninstall(self, installation_id: int) -> None:
        """The App is no longer installed there: its token requests answer 404, as GitHub's do."""
        with self.lock:
            self.uninstalled.add(installation_id)

    def primary_limit(self, remaining: int) -> None:
        with self.lock:
            self.ratelimit_left = remaining

    # --- queries for assertions ---------------------------------------------------------------------

    def comments_on(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self.lock:
            return [c for c in self.comments.values() if c["_repo"] == repo and c["_issue"] == number]

    def api_calls(self, *, exclude_tokens: bool = True) -> list[tuple[str, str, int]]:
        with self.lock:
            return [
                c
                for c in self.calls
                if not c[1].startswith("/_blobs") and not (exclude_tokens and c[1].endswith("/access_tokens"))
            ]

    def checks_on(self, repo: str, sha: str) -> list[dict[str, Any]]:
        with self.lock:
            return [c for c in self.check_runs.values() if c["_repo"] == repo and c["head_sha"] == sha]

    # --- server -------------------------------------------------------------------------------------

    def start(self) -> GitHubSim:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, timeout_keep_alive=30)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("simulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(5)

    # --- HTTP ---------------------------------------------------------------------------------------

    def _auth(self, request: Request) -> tuple[str, Any]:
        header = request.headers.get("authorization", "")
        scheme, _, cred = header.partition(" ")
        if not cred:
            return ("none", None)
        if scheme.lower() == "bearer" and cred.count(".") == 2:
            try:
                claims = jwt.decode(
                    cred,
                    self.public_key,
                    algorithms=["RS256"],
                    options={"require": ["iat", "exp", "iss"]},
                    leeway=120,
                )
            except jwt.PyJWTError:
                return ("bad", None)
            return ("jwt", claims) if str(claims.get("iss")) == str(self.app_id) else ("bad", None)
        with self.lock:
            if cred in self.tokens:
                return ("installation", self.tokens[cred])
        if self.pat is not None and cred == self.pat:
            return ("pat", None)
        if cred in self.bot_tokens:
            return ("installation", self.bot_tokens[cred])
        return ("bad", None)

    def login_of(self, request: Request) -> tuple[str, bool]:
        """(login, is a bot) that a write with this request's credentials appears under."""
        kind, detail = self._auth(request)
        if kind == "installation":
            return (detail if isinstance(detail, str) else f"{self.app_slug}[bot]"), True
        return "token-user", False

    def _build(self) -> FastAPI:
        app = FastAPI()
        sim = self

        def err(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
            return JSONResponse(
                {"message": message, "documentation_url": "https://docs.github.com/rest"},
                status_code=status,
                headers=headers,
            )

        @app.middleware("http")
        async def gate(request: Request, call_next: Callable[[Request], Any]) -> Response:
            path = request.url.path
            method = request.method
            with sim.lock:
                limited = False
                if sim.ratelimit_left is not None and not path.startswith("/_"):
                    if sim.ratelimit_left <= 0:
                        limited = True
                    else:
                        sim.ratelimit_left -= 1
            resp: Response
            if limited:
                reset = int(time.time()) + 1
                resp = err(
                    403,
                    "API rate limit exceeded for installation.",
                    {
                        "x-ratelimit-remaining": "0",
                        "x-ratelimit-limit": "5000",
                        "x-ratelimit-reset": str(reset),
                    },
                )
                with sim.lock:
                    sim.ratelimit_left = None  # the window resets
            elif path.startswith("/_") or path.startswith("/app"):
                resp = await call_next(request)
            else:
                kind, _ = sim._auth(request)
                resp = (
                    err(401, "Bad credentials")
                    if kind not in ("installation", "pat")
                    else await call_next(request)
                )
            with sim.lock:
                sim.calls.append((method, path, resp.status_code))
            resp.headers.setdefault("x-ratelimit-limit", "5000")
            resp.headers.setdefault("x-ratelimit-remaining", "4999")
            return resp

        # --- who am I (docs: rest/users/users#get-the-authenticated-user, graphql/reference/queries#viewer)

        @app.get("/user")
        async def get_user(request: Request) -> Response:
            login, bot = sim.login_of(request)
            if bot:  # installation tokens cannot read /user
                return err(403, "Resource not accessible by integration")
            return JSONResponse(_user(login, 99))

        @app.post("/graphql")
        async def graphql(request: Request) -> Response:
            query = (await request.json()).get("query", "")
            if "viewer" not in query:
                return JSONResponse({"errors": [{"message": "the simulator answers only viewer"}]})
            login, _bot = sim.login_of(request)
            return JSONResponse({"data": {"viewer": {"login": login}}})

        # --- app (JWT) ----------------------------------------------------------------------------

        @app.get("/app")
        async def get_app(request: Request) -> Response:
            if sim._auth(request)[0] != "jwt":
                return err(401, "A JSON web token could not be decoded")
            return JSONResponse(
                {
                    "id": sim.app_id,
                    "slug": sim.app_slug,
                    "name": "CI Medic (test)",
                    "owner": _user("octo-org", 9, "Organization"),
                    "node_id": "A_1",
                    "html_url": f"{WEB_HOST}/apps/{sim.app_slug}",
                    "events": ["workflow_job"],
                }
            )

        @app.post("/app/installations/{iid}/access_tokens")
        async def access_token(iid: int, request: Request) -> Response:
            if sim._auth(request)[0] != "jwt":
                return err(401, "A JSON web token could not be decoded")
            if iid in sim.uninstalled:
                return err(404, "Not Found")
            token = f"ghs_sim{next(sim.ids)}x{iid}"
            with sim.lock:
                sim.tokens[token] = iid
            expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
            return JSONResponse(
                {
                    "token": token,
                    "expires_at": expires,
                    "permissions": {"actions": "read"},
                    "repository_selection": "all",
                },
                status_code=201,
            )

        @app.get("/app/hook/deliveries")
        async def hook_deliveries(request: Request) -> Response:
            if sim._auth(request)[0] != "jwt":
                return err(401, "A JSON web token could not be decoded")
            with sim.lock:
                items = list(reversed(sim.hook_deliveries))
            return JSONResponse(items)

        @app.post("/app/hook/deliveries/{did}/attempts")
        async def redeliver(did: int, request: Request) -> Response:
            if sim._auth(request)[0] != "jwt":
                return err(401, "A JSON web token could not be decoded")
            with sim.lock:
                sim.redelivered.append(did)
            return JSONResponse({}, status_code=202)

        # --- blobs (the redirect target of log downloads) -----------------------------------------

        @app.get("/_blobs/logs/{jid}")
        async def blob(jid: int, request: Request) -> Response:
            if "authorization" in request.headers:
                # The real blob store is another origin: our API token must never reach it.
                return PlainTextResponse("credentials sent to blob storage", status_code=400)
            with sim.lock:
                data = sim.logs.get(jid)
            if data is None:
                return PlainTextResponse("gone", status_code=404)
            return Response(data, media_type="text/plain")

        # --- repos, contents ----------------------------------------------------------------------

        @app.get("/repos/{owner}/{name}")
        async def get_repo(owner: str, name: str) -> Response:
            repo = sim.repos.get(f"{owner}/{name}")
            if repo is None:
                return err(404, "Not Found")
            return JSONResponse({k: v for k, v in repo.items() if k != "installation_id"})

        @app.get("/repos/{owner}/{name}/contents/{path:path}")
        async def contents(owner: str, name: str, path: str, request: Request) -> Response:
            full = f"{owner}/{name}"
            ref = request.query_params.get("ref") or sim.repos[full]["default_branch"]
            text = sim.files.get((full, ref, path))
            if text is None:
                with sim.lock:
                    inside = sorted(
                        p for (r, f, p) in sim.files if (r, f) == (full, ref) and p.startswith(path + "/")
                    )
                if not inside:
                    return err(404, "Not Found")
                # A directory answers its listing as JSON whatever the media type asked for (docs: rest/repos/
                # contents, "Get repository content": the raw type applies to files and symlinks).
                names = sorted({p[len(path) + 1 :].split("/")[0] for p in inside})
                return JSONResponse(
                    [
                        {
                            "type": "file" if f"{path}/{n}" in inside else "dir",
                            "name": n,
                            "path": f"{path}/{n}",
                        }
                        for n in names
                    ]
                )
            if "raw" in request.headers.get("accept", ""):
                return PlainTextResponse(text)
            return JSONResponse(
                {
                    "type": "file",
                    "encoding": "base64",
                    "name": path.rsplit("/", 1)[-1],
                    "path": path,
                    "size": len(text),
                    "content": base64.b64encode(text.encode()).decode(),
                }
            )

        # --- actions ------------------------------------------------------------------------------

        def public_run(run: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in run.items() if not k.startswith("_")}

        @app.get("/repos/{owner}/{name}/actions/runs/{rid}")
        async def get_run(owner: str, name: str, rid: int) -> Response:
            run = sim.runs.get(rid)
            if run is None or run["_repo"] != f"{owner}/{name}":
                return err(404, "Not Found")
            return JSONResponse(public_run(run))

        @app.get("/repos/{owner}/{name}/actions/runs/{rid}/jobs")
        async def run_jobs(owner: str, name: str, rid: int) -> Response:
            with sim.lock:
                jobs = [j for j in sim.jobs.values() if j["run_id"] == rid]
            return JSONResponse({"total_count": len(jobs), "jobs": jobs})

        @app.get("/repos/{owner}/{name}/actions/workflows/{wid}/runs")
        async def workflow_runs(owner: str, name: str, wid: int, request: Request) -> Response:
            q = request.query_params
            full = f"{owner}/{name}"
            with sim.lock:
                runs = [r for r in sim.runs.values() if r["_repo"] == full and r["workflow_id"] == wid]
            if "branch" in q:
                runs = [r for r in runs if r["head_branch"] == q["branch"]]
            # `status` takes a status or a conclusion (docs: rest/actions/workflow-runs, list workflow runs).
            if q.get("status") in ("success", "failure"):
                runs = [r for r in runs if r["conclusion"] == q["status"]]
            elif q.get("status") in ("completed", "queued", "in_progress"):
                runs = [r for r in runs if r["status"] == q["status"]]
            runs.sort(key=lambda r: r["id"], reverse=True)
            per_page = int(q.get("per_page", 30))
            return JSONResponse(
                {"total_count": len(runs), "workflow_runs": [public_run(r) for r in runs[:per_page]]}
            )

        @app.get("/repos/{owner}/{name}/actions/jobs/{jid}")
        async def get_job(owner: str, name: str, jid: int) -> Response:
            job = sim.jobs.get(jid)
            return JSONResponse(job) if job else err(404, "Not Found")

        @app.get("/repos/{owner}/{name}/actions/jobs/{jid}/logs")
        async def job_logs(owner: str, name: str, jid: int) -> Response:
            if jid not in sim.logs:
                return err(404, "Not Found")
            # GitHub answers 302 to a short-lived download URL on another host.
            return RedirectResponse(f"{sim.url}/_blobs/logs/{jid}?sig=sim", status_code=302)

        @app.post("/repos/{owner}/{name}/actions/jobs/{jid}/rerun")
        async def rerun(owner: str, name: str, jid: int) -> Response:
            with sim.lock:
                sim.reruns.append(jid)
            return JSONResponse({}, status_code=201)

        # --- pulls ----------------------------------------------------------------------------------

        @app.get("/repos/{owner}/{name}/commits/{sha}/pulls")
        async def commit_pulls(owner: str, name: str, sha: str) -> Response:
            full = f"{owner}/{name}"
            with sim.lock:
                prs = [p for (r, _), p in sim.pulls.items() if r == full and p["head"]["sha"] == sha]
            return JSONResponse(prs)

        @app.get("/repos/{owner}/{name}/pulls/{number}")
        async def get_pull(owner: str, name: str, number: int) -> Response:
            pr = sim.pulls.get((f"{owner}/{name}", number))
            return JSONResponse(pr) if pr else err(404, "Not Found")

        def public_comment(c: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in c.items() if not k.startswith("_")}

        @app.get("/repos/{owner}/{name}/pulls/{number}/files")
        async def pull_files(owner: str, name: str, number: int, request: Request) -> Response:
            full = f"{owner}/{name}"
            if (full, number) not in sim.pulls:
                return err(404, "Not Found")
            per_page = min(int(request.query_params.get("per_page", 30)), 100)
            page = int(request.query_params.get("page", 1))
            items = sim.pull_files.get((full, number), [])
            headers = {}
            if page * per_page < len(items):
                base = f"{sim.url}/repos/{full}/pulls/{number}/files?per_page={per_page}"
                headers["link"] = f'<{base}&page={page + 1}>; rel="next"'
            return JSONResponse(items[(page - 1) * per_page : page * per_page], headers=headers)

        # --- review comments (docs: rest/pulls/comments) --------------------------------------------

        def right_lines(full: str, number: int, path: str) -> set[int]:
            """Head-side line numbers of a file in the PR's diff: where a RIGHT comment may sit."""
            out: set[int] = set()
            for f in sim.pull_files.get((full, number), []):
                if f["filename"] != path:
                    continue
                n = 0
                for row in f["patch"].split("\n"):
                    m = re.match(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@", row)
                    if m:
                        n = int(m.group(1))
                    elif row[:1] in (" ", "+") and n:
                        out.add(n)
                        n += 1
            return out

        @app.get("/repos/{owner}/{name}/pulls/{number}/comments")
        async def list_review_comments(owner: str, name: str, number: int, request: Request) -> Response:
            full = f"{owner}/{name}"
            per_page = min(int(request.query_params.get("per_page", 30)), 100)
            page = int(request.query_params.get("page", 1))
            with sim.lock:
                items = [
                    public_comment(c)
                    for c in sorted(sim.review_comments.values(), key=lambda c: c["id"])
                    if c["_repo"] == full and c["_pull"] == number
                ]
            headers = {}
            if page * per_page < len(items):
                base = f"{sim.url}/repos/{full}/pulls/{number}/comments?per_page={per_page}"
                headers["link"] = f'<{base}&page={page + 1}>; rel="next"'
            return JSONResponse(items[(page - 1) * per_page : page * per_page], headers=headers)

        @app.post("/repos/{owner}/{name}/pulls/{number}/comments")
        async def create_review_comment(owner: str, name: str, number: int, request: Request) -> Response:
            full = f"{owner}/{name}"
            pr = sim.pulls.get((full, number))
            if pr is None:
                return err(404, "Not Found")
            data = await request.json()
            for key in ("body", "commit_id", "path"):
                if not data.get(key):
                    return err(422, f"Validation Failed: {key} is missing")
            line = data.get("line")
            start = data.get("start_line") or line
            if not isinstance(line, int) or data.get("side", "RIGHT") != "RIGHT" or start > line:
                return err(422, "Validation Failed: line or side is invalid")
            if data["commit_id"] != pr["head"]["sha"]:
                return err(
                    422,
                    "Validation Failed: pull_request_review_thread.commit_id is not part of the pull request",
                )
            allowed = right_lines(full, number, data["path"])
            if not all(n in allowed for n in range(start, line + 1)):
                return err(422, "Validation Failed: pull_request_review_thread.line must be part of the diff")
            login, bot = sim.login_of(request)
            cid = next(sim.ids)
            comment = {
                "id": cid,
                "node_id": f"PRRC_{cid}",
                "pull_request_review_id": next(sim.ids),
                "url": f"{API_HOST}/repos/{full}/pulls/comments/{cid}",
                "html_url": f"{WEB_HOST}/{full}/pull/{number}#discussion_r{cid}",
                "path": data["path"],
                "commit_id": data["commit_id"],
                "original_commit_id": data["commit_id"],
                "body": data["body"],
                "user": _user(login, 4242 if bot else 99, "Bot" if bot else "User"),
                "line": line,
                "original_line": line,
                "side": "RIGHT",
                "start_line": data.get("start_line"),
                "start_side": data.get("start_side"),
                "created_at": _now(),
                "updated_at": _now(),
                "author_association": "NONE",
                "_repo": full,
                "_pull": number,
            }
            with sim.lock:
                sim.review_comments[cid] = comment
            return JSONResponse(public_comment(comment), status_code=201)

        # --- git data (docs: rest/git/refs, rest/git/commits, rest/git/trees) --------------------------

        @app.get("/repos/{owner}/{name}/git/ref/{ref:path}")
        async def get_ref(owner: str, name: str, ref: str) -> Response:
            full = f"{owner}/{name}"
            sha = sim.refs.get((full, ref))
            if sha is None:
                return err(404, "Not Found")
            return JSONResponse(
                {
                    "ref": f"refs/{ref}",
                    "node_id": f"REF_{sha[:8]}",
                    "url": f"{API_HOST}/repos/{full}/git/refs/{ref}",
                    "object": {
                        "type": "commit",
                        "sha": sha,
                        "url": f"{API_HOST}/repos/{full}/git/commits/{sha}",
                    },
                }
            )

        def public_commit(full: str, sha: str) -> dict[str, Any]:
            c = sim.commits[sha]
            return {
                "sha": sha,
                "node_id": f"C_{sha[:8]}",
                "url": f"{API_HOST}/repos/{full}/git/commits/{sha}",
                "html_url": f"{WEB_HOST}/{full}/commit/{sha}",
                "author": c["author"],
                "committer": c["author"],
                "message": c["message"],
                "tree": {"sha": c["tree"], "url": f"{API_HOST}/repos/{full}/git/trees/{c['tree']}"},
                "parents": [
                    {"sha": p, "url": f"{API_HOST}/repos/{full}/git/commits/{p}"} for p in c["parents"]
                ],
                "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
            }

        @app.get("/repos/{owner}/{name}/git/commits/{sha}")
        async def get_commit(owner: str, name: str, sha: str) -> Response:
            full = f"{owner}/{name}"
            if sha not in sim.commits or sim.commits[sha]["repo"] != full:
                return err(404, "Not Found")
            return JSONResponse(public_commit(full, sha))

        @app.get("/repos/{owner}/{name}/git/trees/{sha}")
        async def get_tree(owner: str, name: str, sha: str, request: Request) -> Response:
            tree = sim.trees.get(sha)
            if tree is None:
                return err(404, "Not Found")
            recursive = request.query_params.get("recursive") not in (None, "", "0", "false")
            entries: list[dict[str, Any]] = []
            dirs: set[str] = set()
            for path, (mode, text) in sorted(tree.items()):
                parts = path.split("/")
                for k in range(1, len(parts)):
                    dirs.add("/".join(parts[:k]))
                if recursive or len(parts) == 1:
                    blob = hashlib.sha1(f"blob {len(text.encode())}\0{text}".encode()).hexdigest()
                    entries.append(
                        {"path": path, "mode": mode, "type": "blob", "sha": blob, "size": len(text.encode())}
                    )
            for d in sorted(dirs):
                if recursive or "/" not in d:
                    entries.append({"path": d, "mode": "040000", "type": "tree", "sha": f"{sha}:{d}"})
            return JSONResponse(
                {
                    "sha": sha,
                    "url": f"{API_HOST}/repos/{owner}/{name}/git/trees/{sha}",
                    "tree": entries,
                    "truncated": False,
                }
            )

        @app.post("/repos/{owner}/{name}/git/trees")
        async def create_tree(owner: str, name: str, request: Request) -> Response:
            data = await request.json()
            base = data.get("base_tree")
            tree = dict(sim.trees.get(base, {})) if base else {}
            if base and base not in sim.trees:
                return err(422, "Validation Failed: base_tree is not a tree")
            for entry in data.get("tree") or []:
                path, mode = entry.get("path"), entry.get("mode")
                if not path or mode not in ("100644", "100755", "040000", "160000", "120000"):
                    return err(422, "Validation Failed: tree entry needs a path and a valid mode")
                if "content" in entry:
                    tree[path] = (mode, entry["content"])
                elif entry.get("sha", "") is None:
                    if path not in tree:
                        return err(422, f"Validation Failed: {path} is not in the base tree")
                    del tree[path]
                else:
                    return err(422, "Validation Failed: the simulator takes `content` or `sha: null` entries")
            with sim.lock:
                tree_sha = hashlib.sha1(json.dumps(sorted(tree.items())).encode()).hexdigest()
                sim.trees[tree_sha] = tree
            return JSONResponse(
                {
                    "sha": tree_sha,
                    "url": f"{API_HOST}/repos/{owner}/{name}/git/trees/{tree_sha}",
                    "tree": [],
                    "truncated": False,
                },
                status_code=201,
            )

        @app.post("/repos/{owner}/{name}/git/commits")
        async def create_commit(owner: str, name: str, request: Request) -> Response:
            full = f"{owner}/{name}"
            data = await request.json()
            tree = sim.trees.get(data.get("tree", ""))
            parents = data.get("parents") or []
            if tree is None or any(p not in sim.commits for p in parents):
                return err(422, "Validation Failed: tree or parent does not exist")
            login, _bot = sim.login_of(request)
            with sim.lock:
                sha = sim._commit(
                    full,
                    tree,
                    sha=None,
                    parents=parents,
                    branch=None,
                    author=login,
                    message=data.get("message", ""),
                )
            return JSONResponse(public_commit(full, sha), status_code=201)

        @app.post("/repos/{owner}/{name}/git/refs")
        async def create_ref(owner: str, name: str, request: Request) -> Response:
            full = f"{owner}/{name}"
            data = await request.json()
            ref, sha = data.get("ref", ""), data.get("sha", "")
            if not ref.startswith("refs/") or ref.count("/") < 2 or sha not in sim.commits:
                return err(422, "Validation Failed: ref must be fully qualified and sha must exist")
            key = (full, ref.removeprefix("refs/"))
            with sim.lock:
                if key in sim.refs:
                    return err(422, "Reference already exists")
                if ref.startswith("refs/heads/"):
                    sim.move_branch(full, ref.removeprefix("refs/heads/"), sha)
                else:
                    sim.refs[key] = sha
            return JSONResponse({"ref": ref, "object": {"type": "commit", "sha": sha}}, status_code=201)

        @app.patch("/repos/{owner}/{name}/git/refs/{ref:path}")
        async def update_ref(owner: str, name: str, ref: str, request: Request) -> Response:
            full = f"{owner}/{name}"
            data = await request.json()
            with sim.lock:
                old = sim.refs.get((full, ref))
                if old is None:
                    return err(422, "Reference does not exist")
                new = data.get("sha", "")
                ancestors, todo = set(), [new]
                while todo:
                    c = todo.pop()
                    if c in sim.commits and c not in ancestors:
                        ancestors.add(c)
                        todo += sim.commits[c]["parents"]
                if old not in ancestors and not data.get("force"):
                    return err(422, "Update is not a fast forward")
                sim.move_branch(full, ref.removeprefix("heads/"), new)
            return JSONResponse({"ref": f"refs/{ref}", "object": {"type": "commit", "sha": new}})

        # --- pulls: list and create (docs: rest/pulls/pulls) --------------------------------------------

        @app.get("/repos/{owner}/{name}/pulls")
        async def list_pulls(owner: str, name: str, request: Request) -> Response:
            full = f"{owner}/{name}"
            q = request.query_params
            state = q.get("state", "open")
            with sim.lock:
                items = [p for (r, _n), p in sorted(sim.pulls.items()) if r == full]
            if state != "all":
                items = [p for p in items if p["state"] == state]
            if q.get("head"):
                items = [p for p in items if p["head"]["label"] == q["head"]]
            if q.get("base"):
                items = [p for p in items if p["base"]["ref"] == q["base"]]
            return JSONResponse(items[: min(int(q.get("per_page", 30)), 100)])

        @app.post("/repos/{owner}/{name}/pulls")
        async def create_pull(owner: str, name: str, request: Request) -> Response:
            full = f"{owner}/{name}"
            data = await request.json()
            head, base = data.get("head", ""), data.get("base", "")
            if (full, f"heads/{head}") not in sim.refs or (full, f"heads/{base}") not in sim.refs:
                return err(422, "Validation Failed: head or base branch does not exist")
            with sim.lock:
                if any(
                    p["state"] == "open" and p["head"]["ref"] == head
                    for (r, _n), p in sim.pulls.items()
                    if r == full
                ):
                    return err(422, f"Validation Failed: A pull request already exists for {owner}:{head}.")
                number = max([n for (r, n) in sim.pulls if r == full] + [0]) + 1
            pr = sim.add_pull(
                full, number, head_sha=sim.refs[(full, f"heads/{head}")], head_ref=head, base_ref=base
            )
            login, bot = sim.login_of(request)
            pr.update(
                title=data.get("title", ""),
                body=data.get("body"),
                draft=bool(data.get("draft")),
                user=_user(login, 4242 if bot else 99, "Bot" if bot else "User"),
                merged=False,
            )
            return JSONResponse(pr, status_code=201)

        @app.get("/repos/{owner}/{name}/collaborators/{user}/permission")
        async def permission(owner: str, name: str, user: str) -> Response:
            level = sim.permissions.get((f"{owner}/{name}", user), "none")
            role = level if level != "none" else "none"
            return JSONResponse({"permission": level, "role_name": role, "user": _user(user, 5)})

        # --- issue comments -------------------------------------------------------------------------

        @app.get("/repos/{owner}/{name}/issues/{number}/comments")
        async def list_comments(owner: str, name: str, number: int, request: Request) -> Response:
            full = f"{owner}/{name}"
            per_page = min(int(request.query_params.get("per_page", 30)), 100)
            page = int(request.query_params.get("page", 1))
            items = sorted(sim.comments_on(full, number), key=lambda c: c["id"])
            chunk = items[(page - 1) * per_page : page * per_page]
            headers = {}
            last = max(1, -(-len(items) // per_page))
            if page < last:
                base = f"{sim.url}/repos/{full}/issues/{number}/comments?per_page={per_page}"
                headers["link"] = f'<{base}&page={page + 1}>; rel="next", <{base}&page={last}>; rel="last"'
            return JSONResponse([public_comment(c) for c in chunk], headers=headers)

        def _issue_exists(full: str, number: int) -> bool:
            return (full, number) in sim.pulls

        @app.post("/repos/{owner}/{name}/issues/{number}/comments")
        async def create_comment(owner: str, name: str, number: int, request: Request) -> Response:
            full = f"{owner}/{name}"
            if not _issue_exists(full, number):
                return err(404, "Not Found")
            body = (await request.json()).get("body", "")
            if len(body) > 65536:
                return err(422, "Validation Failed: body is too long (maximum is 65536 characters)")
            login, bot = sim.login_of(request)
            cid = next(sim.ids)
            comment = {
                "id": cid,
                "node_id": f"IC_{cid}",
                "url": f"{API_HOST}/repos/{full}/issues/comments/{cid}",
                "html_url": f"{WEB_HOST}/{full}/pull/{number}#issuecomment-{cid}",
                "issue_url": f"{API_HOST}/repos/{full}/issues/{number}",
                "body": body,
                "user": _user(login, 4242 if bot else 99, "Bot" if bot else "User"),
                "created_at": _now(),
                "updated_at": _now(),
                "author_association": "NONE",
                "_repo": full,
                "_issue": number,
                "_edits": 0,
            }
            with sim.lock:
                sim.comments[cid] = comment
                sim.comment_log.append((time.time(), full, number, body))
            return JSONResponse(public_comment(comment), status_code=201)

        @app.patch("/repos/{owner}/{name}/issues/comments/{cid}")
        async def update_comment(owner: str, name: str, cid: int, request: Request) -> Response:
            body = (await request.json()).get("body", "")
            if len(body) > 65536:
                return err(422, "Validation Failed: body is too long (maximum is 65536 characters)")
            with sim.lock:
                c = sim.comments.get(cid)
                if c is None:
                    return err(404, "Not Found")
                c["body"] = body
                c["updated_at"] = _now()
                c["_edits"] += 1
                sim.comment_log.append((time.time(), c["_repo"], c["_issue"], body))
                return JSONResponse(public_comment(c))

        def add_comment_by_user(full: str, number: int, body: str, login: str = "someone") -> int:
            cid = next(sim.ids)
            with sim.lock:
                sim.comments[cid] = {
                    "id": cid,
                    "body": body,
                    "user": _user(login, 5),
                    "created_at": _now(),
                    "updated_at": _now(),
                    "_repo": full,
                    "_issue": number,
                    "_edits": 0,
                    "html_url": f"{WEB_HOST}/{full}/pull/{number}#issuecomment-{cid}",
                }
            return cid

        sim.add_comment_by_user = add_comment_by_user  # type: ignore[attr-defined]

        # --- check runs -----------------------------------------------------------------------------

        def public_check(c: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in c.items() if not k.startswith("_")}

        def apply_output(c: dict[str, Any], data: dict[str, Any]) -> Response | None:
            out = data.get("output")
            if out:
                ann = out.get("annotations") or []
                if len(ann) > 50:
                    return err(422, "Validation Failed: too many annotations (maximum is 50 per request)")
                c["_annotations"].extend(ann)
                sim.annotation_batches.setdefault(c["id"], []).append(len(ann))
                c["output"] = {
                    "title": out.get("title"),
                    "summary": out.get("summary"),
                    "text": out.get("text"),
                    "annotations_count": len(c["_annotations"]),
                    "annotations_url": f"{c['url']}/annotations",
                }
            for key in ("status", "conclusion", "details_url", "external_id", "name"):
                if key in data:
                    c[key] = data[key]
            return None

        @app.post("/repos/{owner}/{name}/check-runs")
        async def create_check(owner: str, name: str, request: Request) -> Response:
            full = f"{owner}/{name}"
            data = await request.json()
            cid = next(sim.ids)
            c: dict[str, Any] = {
                "id": cid,
                "head_sha": data["head_sha"],
                "node_id": f"CR_{cid}",
                "external_id": data.get("external_id", ""),
                "url": f"{API_HOST}/repos/{full}/check-runs/{cid}",
                "html_url": f"{WEB_HOST}/{full}/runs/{cid}",
                "details_url": data.get("details_url"),
                "status": data.get("status", "queued"),
                "conclusion": data.get("conclusion"),
                "started_at": _now(),
                "completed_at": None,
                "output": {
                    "title": None,
                    "summary": None,
                    "text": None,
                    "annotations_count": 0,
                    "annotations_url": "",
                },
                "name": data["name"],
                "app": {"id": sim.app_id, "slug": sim.app_slug},
                "_repo": full,
                "_annotations": [],
            }
            bad = apply_output(c, data)
            if bad is not None:
                return bad
            with sim.lock:
                sim.check_runs[cid] = c
            return JSONResponse(public_check(c), status_code=201)

        @app.patch("/repos/{owner}/{name}/check-runs/{cid}")
        async def update_check(owner: str, name: str, cid: int, request: Request) -> Response:
            data = await request.json()
            with sim.lock:
                c = sim.check_runs.get(cid)
                if c is None:
                    return err(404, "Not Found")
                bad = apply_output(c, data)
                return bad if bad is not None else JSONResponse(public_check(c))

        @app.get("/repos/{owner}/{name}/commits/{sha}/check-runs")
        async def list_checks(owner: str, name: str, sha: str, request: Request) -> Response:
            check_name = request.query_params.get("check_name")
            items = [
                public_check(c)
                for c in sim.checks_on(f"{owner}/{name}", sha)
                if check_name is None or c["name"] == check_name
            ]
            return JSONResponse({"total_count": len(items), "check_runs": items})

        @app.get("/repos/{owner}/{name}/check-runs/{cid}/annotations")
        async def list_annotations(owner: str, name: str, cid: int, request: Request) -> Response:
            # docs: rest/checks/runs#list-check-run-annotations (a plain array, paginated)
            with sim.lock:
                c = sim.check_runs.get(cid)
                items = list(c["_annotations"]) if c is not None else None
            if items is None:
                return err(404, "Not Found")
            per_page = min(int(request.query_params.get("per_page", 30)), 100)
            page = int(request.query_params.get("page", 1))
            chunk = items[(page - 1) * per_page : page * per_page]
            headers = {}
            if page * per_page < len(items):
                base = f"{sim.url}/repos/{owner}/{name}/check-runs/{cid}/annotations?per_page={per_page}"
                headers["link"] = f'<{base}&page={page + 1}>; rel="next"'
            shaped = [
                {
                    "path": a["path"],
                    "start_line": a["start_line"],
                    "end_line": a.get("end_line", a["start_line"]),
                    "start_column": a.get("start_column"),
                    "end_column": a.get("end_column"),
                    "annotation_level": a.get("annotation_level"),
                    "title": a.get("title"),
                    "message": a.get("message"),
                    "raw_details": a.get("raw_details"),
                    "blob_href": f"{WEB_HOST}/{owner}/{name}/blob/{c['head_sha'] if c else ''}/{a['path']}",
                }
                for a in chunk
            ]
            return JSONResponse(shaped, headers=headers)

        return app


def _replay(messages: list[dict[str, Any]], receive: Any) -> Any:
    async def replayed() -> Any:
        return messages.pop(0) if messages else await receive()

    return replayed


class _FaultLayer:
    """ASGI wrapper applying `GitHubSim.fail` faults around the simulated API (below the HTTP server, so a
    fault can cut a connection or trickle a body, which a response object cannot)."""

    def __init__(self, app: FastAPI, sim: GitHubSim) -> None:
        self.app = app
        self.sim = sim

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        fault = self.sim._take_fault(scope["method"], scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.delay_s:
            # GitHub has the whole request before it is slow: a client that gives up meanwhile does not stop
            # it from being carried out.
            received = [await receive()]
            while received[-1].get("type") == "http.request" and received[-1].get("more_body"):
                received.append(await receive())
            receive = _replay(received, receive)
            await asyncio.sleep(fault.delay_s)
        if fault.status is not None:  # answered instead of carried out
            headers = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4999", **fault.headers}
            resp = JSONResponse(
                fault.body or {"message": "Server Error"}, status_code=fault.status, headers=headers
            )
            with self.sim.lock:
                self.sim.calls.append((scope["method"], scope["path"], fault.status))
            await resp(scope, receive, send)
            return
        if not (fault.after_s or fault.drop or fault.drip_s):
            await self.app(scope, receive, send)
            return
        sent: list[dict[str, Any]] = []

        async def keep(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, keep)  # carried out: the write happens whatever the client sees
        if fault.after_s:
            await asyncio.sleep(fault.after_s)
        start = sent[0]
        body = b"".join(m.get("body", b"") for m in sent[1:])
        await send(start)
        if fault.drop:
            # Status line and headers sent, body cut: uvicorn closes the connection when the app raises
            # after the response started.
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            raise ConnectionAbortedError("simulated dropped connection")
        if fault.drip_s:
            for i in range(len(body)):
                await send({"type": "http.response.body", "body": body[i : i + 1], "more_body": True})
                await asyncio.sleep(fault.drip_s)
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.body", "body": body})


def to_json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()
