"""A GitLab simulator: a real HTTP server on 127.0.0.1 answering the REST v4 endpoints CI Medic uses.

Shaped by docs.gitlab.com/api/: rest/index.md ("Pagination": `page`/`per_page`, the `X-Page`, `X-Per-Page`,
`X-Next-Page`, `X-Total` headers and `Link` with rel next/first/last; "Status codes"; `PRIVATE-TOKEN`
authentication), jobs.md (trace as text/plain, retry), pipelines.md, commits.md (merge requests of a commit,
statuses; "Create a commit with multiple files and actions", "Get a single commit"), branches.md ("Get single
repository branch"), merge_requests.md (get, list, create: a `Draft:` title makes a draft, per
user/project/merge_requests/drafts.md; 409 for a second open MR of one source branch), members.md ("Get a
member ..., including inherited and invited members"), notes.md, repository_files.md (raw file at a branch,
a commit or `HEAD`). Rate limits answer 429 with
`Retry-After` (docs: security/rate_limits.md). Faults on cue: `fail(method, pattern, status, times, headers)`;
`delay_s` holds a request that long first (with `status=None` it is then carried out: a slow GitLab), and
`carried_out=True` carries it out and answers `status` anyway (a proxy's 502 after the write happened).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

BOT = {"id": 7, "username": "cimedic-bot", "name": "CI Medic", "state": "active", "bot": True}


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int | None
    times: int
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    carried_out: bool = False


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


class GitLabSim:
    """In-memory GitLab; build a scenario with the `add_*` methods, then point CI Medic at `url`."""

    def __init__(self, *, token: str = "glpat-test-token") -> None:
        self.token = token
        self.lock = threading.RLock()
        self.ids = itertools.count(5000)
        self.projects: dict[int, dict[str, Any]] = {}
        self.files: dict[tuple[int, str, str], str] = {}
        self.pipelines: dict[int, dict[str, Any]] = {}
        self.jobs: dict[int, dict[str, Any]] = {}
        self.traces: dict[int, bytes] = {}
        self.mrs: dict[tuple[int, int], dict[str, Any]] = {}
        self.notes: dict[int, dict[str, Any]] = {}
        self.mr_diffs: dict[tuple[int, int], list[dict[str, Any]]] = {}
        self.discussions: dict[str, dict[str, Any]] = {}
        self.statuses: list[dict[str, Any]] = []
        self.commits: dict[str, dict[str, Any]] = {}  # sha -> commit (`_files`: the tree, path -> text)
        self.branches: dict[tuple[int, str], str] = {}  # (project, branch) -> tip SHA
        self.members: dict[tuple[int, int], dict[str, Any]] = {}  # (project, user id) -> member
        self.retried: list[int] = []
        self.calls: list[tuple[str, str, int]] = []
        self.started: list[tuple[str, str]] = []  # requests as they arrive (`calls`: as they are answered)
        self.faults: list[Fault] = []
        self.url = ""
        self.app = self._build()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # --- scenario -----------------------------------------------------------------------------------

    def add_project(self, path: str, *, default_branch: str = "main") -> dict[str, Any]:
        pid = next(self.ids)
        project = {
            "id": pid,
            "name": path.rsplit("/", 1)[-1],
            "path_with_namespace": path,
            "default_branch": default_branch,
            "web_url": f"https://gitlab.example.com/{path}",
        }
        self.projects[pid] = project
        return project

    def add_file(self, pid: int, path: str, text: str, *, ref: str = "main") -> None:
        self.files[(pid, path, ref)] = text

    def tree_at(self, pid: int, ref: str) -> dict[str, str]:
        """The files at `ref` (a branch, a commit SHA, `HEAD`): a commit's tree, else what `add_file` put."""
        with self.lock:
            if ref == "HEAD":
                ref = self.projects[pid]["default_branch"]
            sha = self.branches.get((pid, ref), ref)
            commit = self.commits.get(sha)
            if commit is not None and commit["_project"] == pid:
                return dict(commit["_files"])
            return {p: t for (q, p, r), t in self.files.items() if q == pid and r in (ref, sha)}

    def add_commit(
        self,
        pid: int,
        files: dict[str, str],
        *,
        parent: str | None = None,
        sha: str | None = None,
        branch: str | None = None,
        message: str = "change",
        author: str = "Jane Doe",
    ) -> dict[str, Any]:
        """A commit whose tree is its parent's with `files` on top; `branch` then points at it."""
        with self.lock:
            tree = self.tree_at(pid, parent) if parent else {}
            tree.update(files)
            sha = sha or f"{next(self.ids):040x}"
            commit = {
                "id": sha,
                "short_id": sha[:8],
                "title": message.split("\n")[0],
                "message": message,
                "author_name": author,
                "author_email": f"{author.split()[0].lower()}@example.com",
                "committer_name": author,
                "committer_email": f"{author.split()[0].lower()}@example.com",
                "created_at": _now(),
                "authored_date": _now(),
                "committed_date": _now(),
                "parent_ids": [parent] if parent else [],
                "web_url": f"{self.projects[pid]['web_url']}/-/commit/{sha}",
                "_project": pid,
                "_files": tree,
            }
            self.commits[sha] = commit
            if branch is not None:
                self.branches[(pid, branch)] = sha
            return commit

    def push(self, pid: int, branch: str, files: dict[str, str], *, author: str = "Jane Doe") -> str:
        """A person's commit on top of `branch` (a `git push` outside the API)."""
        parent = self.branches[(pid, branch)]
        return str(self.add_commit(pid, files, parent=parent, branch=branch, author=author)["id"])

    def add_member(self, pid: int, user_id: int, username: str, access_level: int) -> None:
        """A member of the project with a role (docs: api/members.md, "Roles": 10 Guest ... 50 Owner)."""
        self.members[(pid, user_id)] = {
            "id": user_id,
            "username": username,
            "name": username.title(),
            "state": "active",
            "access_level": access_level,
            "created_at": _now(),
            "expires_at": None,
            "web_url": f"https://gitlab.example.com/{username}",
        }

    def add_pipeline(self, pid: int, *, ref: str, sha: str, status: str = "failed") -> dict[str, Any]:
        ppid = next(self.ids)
        p = {
            "id": ppid,
            "iid": ppid,
            "project_id": pid,
            "sha": sha,
            "ref": ref,
            "status": status,
            "source": "push",
            "created_at": _now(),
            "updated_at": _now(),
            "web_url": f"{self.projects[pid]['web_url']}/-/pipelines/{ppid}",
        }
        self.pipelines[ppid] = p
        return p

    def add_job(
        self, pipeline: dict[str, Any], name: str, *, status: str, trace: str, stage: str = "test"
    ) -> dict[str, Any]:
        jid = next(self.ids)
        pid = pipeline["project_id"]
        job = {
            "id": jid,
            "name": name,
            "stage": stage,
            "status": status,
            "ref": pipeline["ref"],
            "tag": False,
            "allow_failure": False,
            "created_at": _now(),
            "finished_at": _now(),
            "pipeline": {k: pipeline[k] for k in ("id", "project_id", "ref", "sha", "status")},
            "web_url": f"{self.projects[pid]['web_url']}/-/jobs/{jid}",
            "_project": pid,
            "failure_reason": "script_failure" if status == "failed" else None,
        }
        self.jobs[jid] = job
        self.traces[jid] = trace.encode()
        return job

    def add_mr(
        self,
        pid: int,
        iid: int,
        *,
        source_branch: str,
        target_branch: str = "main",
        sha: str,
        source_project_id: int | None = None,
    ) -> dict[str, Any]:
        mr = {
            "id": next(self.ids),
            "iid": iid,
            "project_id": pid,
            "target_project_id": pid,
            "source_project_id": source_project_id or pid,
            "source_branch": source_branch,
            "target_branch": target_branch,
            "state": "opened",
            "sha": sha,
            "title": "change",
            "web_url": f"{self.projects[pid]['web_url']}/-/merge_requests/{iid}",
            # docs: api/merge_requests.md, "Get single MR": the SHAs a diff position is given against
            "diff_refs": {"base_sha": "ba" * 20, "head_sha": sha, "start_sha": "ba" * 20},
        }
        self.mrs[(pid, iid)] = mr
        return mr

    def add_mr_diff(self, pid: int, iid: int, path: str, diff: str) -> None:
        """A changed file of the MR, as "List merge request diffs" shows it (docs: api/merge_requests.md)."""
        self.mr_diffs.setdefault((pid, iid), []).append(
            {
                "old_path": path,
                "new_path": path,
                "a_mode": "100644",
                "b_mode": "100644",
                "diff": diff,
                "new_file": False,
                "renamed_file": False,
                "deleted_file": False,
                "generated_file": False,
            }
        )

    def add_note_by(self, pid: int, iid: int, body: str, username: str) -> None:
        nid = next(self.ids)
        self.notes[nid] = {
            "id": nid,
            "body": body,
            "author": {"id": 1, "username": username},
            "system": False,
            "noteable_type": "MergeRequest",
            "noteable_iid": iid,
            "_mr": (pid, iid),
            "created_at": _now(),
        }

    def notes_on(self, pid: int, iid: int) -> list[dict[str, Any]]:
        return [n for n in self.notes.values() if n["_mr"] == (pid, iid)]

    def fail(
        self,
        method: str,
        pattern: str,
        status: int | None,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        delay_s: float = 0.0,
        carried_out: bool = False,
    ) -> None:
        with self.lock:
            self.faults.append(
                Fault(method, re.compile(pattern), status, times, headers or {}, delay_s, carried_out)
            )

    def api_calls(self) -> list[tuple[str, str, int]]:
        with self.lock:
            return list(self.calls)

    # --- server -------------------------------------------------------------------------------------

    def start(self) -> GitLabSim:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", access_log=False))
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

    def _build(self) -> FastAPI:
        app = FastAPI()
        sim = self
        api = "/api/v4"

        def err(status: int, message: str) -> JSONResponse:
            return JSONResponse({"message": message}, status_code=status)

        def page(request: Request, items: list[Any]) -> Response:
            """GitLab's offset pagination: `page`/`per_page` (default 20, max 100) and its headers."""
            per = min(int(request.query_params.get("per_page", 20)), 100)
            num = max(int(request.query_params.get("page", 1)), 1)
            pages = max(1, -(-len(items) // per))
            chunk = items[(num - 1) * per : num * per]
            headers = {
                "X-Page": str(num),
                "X-Per-Page": str(per),
                "X-Total": str(len(items)),
                "X-Total-Pages": str(pages),
                "X-Next-Page": str(num + 1) if num < pages else "",
                "X-Prev-Page": str(num - 1) if num > 1 else "",
            }

            def link(n: int) -> str:
                q = dict(request.query_params)
                q.update(page=str(n), per_page=str(per))
                return str(request.url.replace_query_params(**q))

            links = [f'<{link(1)}>; rel="first"', f'<{link(pages)}>; rel="last"']
            if num < pages:
                links.insert(0, f'<{link(num + 1)}>; rel="next"')
            headers["Link"] = ", ".join(links)
            return JSONResponse(chunk, headers=headers)

        def public(d: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in d.items() if not k.startswith("_")}

        @app.middleware("http")
        async def gate(request: Request, call_next: Any) -> Response:
            method, path = request.method, request.url.path
            fault = None
            with sim.lock:
                sim.started.append((method, path))
                for f in sim.faults:
                    if f.times > 0 and f.method in (method, "*") and f.pattern.search(path):
                        f.times -= 1
                        fault = f
                        break
            if fault is not None and fault.delay_s:
                await asyncio.sleep(fault.delay_s)
            if fault is not None and fault.status is not None and not fault.carried_out:
                resp: Response = JSONResponse(
                    {"message": f"{fault.status} simulated"}, status_code=fault.status, headers=fault.headers
                )
            elif request.headers.get("private-token") != sim.token:
                resp = err(401, "401 Unauthorized")
            else:
                resp = await call_next(request)
                if fault is not None and fault.status is not None:  # done, but the answer says otherwise
                    resp = JSONResponse(
                        {"message": f"{fault.status} simulated"},
                        status_code=fault.status,
                        headers=fault.headers,
                    )
            with sim.lock:
                sim.calls.append((method, path, resp.status_code))
            return resp

        @app.get(api + "/user")
        async def user() -> Response:
            return JSONResponse(BOT)

        @app.get(api + "/projects/{pid}/repository/files/{path:path}/raw")
        async def raw_file(pid: int, path: str, ref: str = "HEAD") -> Response:
            project = sim.projects.get(pid)
            if project is None:
                return err(404, "404 Project Not Found")
            text = sim.tree_at(pid, ref).get(path)
            return PlainTextResponse(text) if text is not None else err(404, "404 File Not Found")

        @app.get(api + "/projects/{pid}/jobs/{jid}/trace")
        async def trace(pid: int, jid: int) -> Response:
            job = sim.jobs.get(jid)
            if job is None or job["_project"] != pid:
                return err(404, "404 Not found")
            return Response(sim.traces[jid], media_type="text/plain")

        @app.post(api + "/projects/{pid}/jobs/{jid}/retry")
        async def retry(pid: int, jid: int) -> Response:
            job = sim.jobs.get(jid)
            if job is None or job["_project"] != pid:
                return err(404, "404 Not found")
            with sim.lock:
                sim.retried.append(jid)
                new = dict(job, id=next(sim.ids), status="pending")
                sim.jobs[new["id"]] = new
                sim.traces[new["id"]] = b""
            return JSONResponse(public(new), status_code=201)

        @app.get(api + "/projects/{pid}/pipelines")
        async def pipelines(pid: int, request: Request) -> Response:
            q = request.query_params
            found = [p for p in sim.pipelines.values() if p["project_id"] == pid]
            if "ref" in q:
                found = [p for p in found if p["ref"] == q["ref"]]
            if q.get("scope") == "finished":
                found = [p for p in found if p["status"] in ("success", "failed", "canceled")]
            if "status" in q:
                found = [p for p in found if p["status"] == q["status"]]
            found.sort(key=lambda p: p["id"], reverse=q.get("sort", "desc") == "desc")
            return page(request, found)

        @app.get(api + "/projects/{pid}/pipelines/{ppid}/jobs")
        async def pipeline_jobs(pid: int, ppid: int, request: Request) -> Response:
            found = [public(j) for j in sim.jobs.values() if j["pipeline"]["id"] == ppid]
            return page(request, sorted(found, key=lambda j: j["id"], reverse=True))

        @app.get(api + "/projects/{pid}/merge_requests/{iid}")
        async def get_mr(pid: int, iid: int) -> Response:
            mr = sim.mrs.get((pid, iid))
            return JSONResponse(mr) if mr else err(404, "404 Not found")

        @app.get(api + "/projects/{pid}/repository/commits/{sha}/merge_requests")
        async def commit_mrs(pid: int, sha: str, request: Request) -> Response:
            found = [
                m
                for m in sim.mrs.values()
                if m["sha"] == sha and pid in (m["source_project_id"], m["target_project_id"])
            ]
            return page(request, found)

        @app.get(api + "/projects/{pid}/merge_requests/{iid}/diffs")
        async def mr_diffs(pid: int, iid: int, request: Request) -> Response:
            if (pid, iid) not in sim.mrs:
                return err(404, "404 Not found")
            return page(request, sim.mr_diffs.get((pid, iid), []))

        @app.get(api + "/projects/{pid}/merge_requests/{iid}/discussions")
        async def list_discussions(pid: int, iid: int, request: Request) -> Response:
            if (pid, iid) not in sim.mrs:
                return err(404, "404 Not found")
            found = [public(d) for d in sim.discussions.values() if d["_mr"] == (pid, iid)]
            return page(request, found)

        def diff_lines(pid: int, iid: int, path: str) -> dict[int, int | None]:
            """new line -> old line (None for an added line) of the MR's diff of `path`."""
            out: dict[int, int | None] = {}
            for d in sim.mr_diffs.get((pid, iid), []):
                if d["new_path"] != path:
                    continue
                old = new = 0
                for row in d["diff"].split("\n"):
                    m = re.match(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@", row)
                    if m:
                        old, new = int(m.group(1)), int(m.group(2))
                    elif row.startswith("+") and new:
                        out[new] = None
                        new += 1
                    elif row.startswith(" ") and new:
                        out[new] = old
                        old, new = old + 1, new + 1
                    elif row.startswith("-"):
                        old += 1
            return out

        @app.post(api + "/projects/{pid}/merge_requests/{iid}/discussions")
        async def create_discussion(pid: int, iid: int, request: Request) -> Response:
            mr = sim.mrs.get((pid, iid))
            if mr is None:
                return err(404, "404 Not found")
            data = await request.json()
            if not data.get("body"):
                return err(400, "400 Bad request - body is missing")
            pos = data.get("position") or {}
            refs = mr["diff_refs"]
            if pos.get("position_type") != "text" or any(pos.get(k) != refs[k] for k in refs):
                return err(400, "400 Bad request - position is invalid")
            lines = diff_lines(pid, iid, pos.get("new_path") or "")
            line = pos.get("new_line")
            # A line the MR did not change needs its old line too; an added line has none.
            if line not in lines or pos.get("old_line") != lines[line]:
                return err(
                    400,
                    '400 Bad request - Note {:line_code=>["can\'t be blank", "must be a valid line code"]}',
                )
            nid = next(sim.ids)
            note = {
                "id": nid,
                "type": "DiffNote",
                "body": data["body"],
                "author": BOT,
                "system": False,
                "noteable_type": "MergeRequest",
                "noteable_iid": iid,
                "position": pos,
                "created_at": _now(),
            }
            did = f"{nid:040x}"
            sim.discussions[did] = {"id": did, "individual_note": False, "notes": [note], "_mr": (pid, iid)}
            return JSONResponse(public(sim.discussions[did]), status_code=201)

        @app.get(api + "/projects/{pid}/merge_requests/{iid}/notes")
        async def list_notes(pid: int, iid: int, request: Request) -> Response:
            if (pid, iid) not in sim.mrs:
                return err(404, "404 Not found")
            return page(request, [public(n) for n in sorted(sim.notes_on(pid, iid), key=lambda n: n["id"])])

        @app.post(api + "/projects/{pid}/merge_requests/{iid}/notes")
        async def create_note(pid: int, iid: int, request: Request) -> Response:
            if (pid, iid) not in sim.mrs:
                return err(404, "404 Not found")
            body = (await request.json()).get("body")
            if not body:
                return err(400, "400 Bad request - body is missing")
            with sim.lock:
                nid = next(sim.ids)
                sim.notes[nid] = {
                    "id": nid,
                    "body": body,
                    "author": dict(BOT),
                    "system": False,
                    "noteable_type": "MergeRequest",
                    "noteable_iid": iid,
                    "_mr": (pid, iid),
                    "created_at": _now(),
                }
            return JSONResponse(public(sim.notes[nid]), status_code=201)

        @app.put(api + "/projects/{pid}/merge_requests/{iid}/notes/{nid}")
        async def update_note(pid: int, iid: int, nid: int, request: Request) -> Response:
            note = sim.notes.get(nid)
            if note is None or note["_mr"] != (pid, iid):
                return err(404, "404 Note Not Found")
            if note["author"]["username"] != BOT["username"]:
                return err(403, "403 Forbidden")
            note["body"] = (await request.json()).get("body")
            return JSONResponse(public(note))

        # --- repository: branches, commits (docs: api/branches.md, api/commits.md) ------------------------

        def branch_json(pid: int, name: str) -> dict[str, Any]:
            project = sim.projects[pid]
            return {
                "name": name,
                "merged": False,
                "protected": name == project["default_branch"],
                "default": name == project["default_branch"],
                "developers_can_push": False,
                "developers_can_merge": False,
                "can_push": True,
                "web_url": f"{project['web_url']}/-/tree/{name}",
                "commit": public(sim.commits[sim.branches[(pid, name)]]),
            }

        @app.get(api + "/projects/{pid}/repository/branches/{name:path}")
        async def get_branch(pid: int, name: str) -> Response:
            if (pid, name) not in sim.branches:
                return err(404, "404 Branch Not Found")
            return JSONResponse(branch_json(pid, name))

        @app.get(api + "/projects/{pid}/repository/commits/{sha}")
        async def get_commit(pid: int, sha: str) -> Response:
            commit = sim.commits.get(sim.branches.get((pid, sha), sha))
            if commit is None or commit["_project"] != pid:
                return err(404, "404 Commit Not Found")
            return JSONResponse(public(commit))

        @app.post(api + "/projects/{pid}/repository/commits")
        async def create_commit(pid: int, request: Request) -> Response:
            """The actions are applied to the start (`start_sha`, `start_branch`) or to the branch itself;
            a new branch needs a start, and an existing one refuses a start unless `force` (we never send
            it)."""
            if pid not in sim.projects:
                return err(404, "404 Project Not Found")
            data = await request.json()
            branch, message = data.get("branch"), data.get("commit_message")
            if not branch or not message or not isinstance(data.get("actions"), list):
                return err(400, "400 Bad request - branch, commit_message, actions are missing")
            start = data.get("start_sha") or data.get("start_branch")
            with sim.lock:
                exists = (pid, branch) in sim.branches
                if start and exists and start != branch and not data.get("force"):
                    return err(
                        400,
                        f"A branch called '{branch}' already exists. "
                        "Switch to that branch in order to make changes",
                    )
                if not start and not exists:
                    return err(400, "You can only create or edit files when you are on a branch")
                base = sim.branches.get((pid, str(start)), start) if start else sim.branches[(pid, branch)]
                if base not in sim.commits and not sim.tree_at(pid, str(base)):
                    return err(404, "404 Commit Not Found")
                tree = sim.tree_at(pid, str(base))
                for a in data["actions"]:
                    path, kind = a.get("file_path"), a.get("action")
                    if kind == "create" and path in tree:
                        return err(400, "A file with this name already exists")
                    if kind in ("update", "delete") and path not in tree:
                        return err(400, "A file with this name doesn't exist")
                    if kind == "delete":
                        del tree[path]
                    elif kind in ("create", "update"):
                        tree[path] = a.get("content") or ""
                    else:
                        return err(400, "400 Bad request - actions[action] does not have a valid value")
                if base not in sim.commits:  # a commit only `add_file` described: give it its tree
                    sim.add_commit(pid, sim.tree_at(pid, str(base)), sha=str(base))
                made = sim.add_commit(
                    pid, {}, parent=str(base), branch=branch, message=message, author=BOT["name"]
                )
                made["_files"] = tree
            return JSONResponse(public(made) | {"stats": {"additions": 1, "deletions": 1, "total": 2}}, 201)

        # --- merge requests: list, create (docs: api/merge_requests.md) ---------------------------------

        @app.get(api + "/projects/{pid}/merge_requests")
        async def list_mrs(pid: int, request: Request) -> Response:
            q = request.query_params
            found = [m for (p, _i), m in sorted(sim.mrs.items()) if p == pid]
            for key in ("source_branch", "target_branch"):
                if key in q:
                    found = [m for m in found if m[key] == q[key]]
            if q.get("state", "all") != "all":
                found = [m for m in found if m["state"] == q["state"]]
            return page(request, found)

        @app.post(api + "/projects/{pid}/merge_requests")
        async def create_mr(pid: int, request: Request) -> Response:
            data = await request.json()
            source, target, title = data.get("source_branch"), data.get("target_branch"), data.get("title")
            if not source or not target or not title:
                return err(400, "400 Bad request - source_branch, target_branch, title are missing")
            with sim.lock:
                if (pid, source) not in sim.branches:
                    return JSONResponse({"message": [f'Source branch "{source}" does not exist']}, 400)
                for m in sim.mrs.values():
                    if (m["project_id"], m["source_branch"], m["target_branch"], m["state"]) == (
                        pid,
                        source,
                        target,
                        "opened",
                    ):
                        return JSONResponse(
                            {
                                "message": [
                                    "Another open merge request already exists for this source branch: "
                                    f"!{m['iid']}"
                                ]
                            },
                            409,
                        )
                iid = 1 + max((i for (p, i) in sim.mrs if p == pid), default=0)
                mr = sim.add_mr(
                    pid, iid, source_branch=source, target_branch=target, sha=sim.branches[(pid, source)]
                )
                # docs: user/project/merge_requests/drafts.md: `Draft:`, `[Draft]` or `(Draft)` first
                draft = re.match(r"\s*(draft:|\[draft\]|\(draft\))", title, re.IGNORECASE) is not None
                mr.update(
                    title=title,
                    description=data.get("description") or "",
                    draft=draft,
                    work_in_progress=draft,
                    author=dict(BOT),
                    merge_status="checking",
                    detailed_merge_status="checking",
                    created_at=_now(),
                )
            return JSONResponse(mr, status_code=201)

        @app.get(api + "/projects/{pid}/members/all/{uid}")
        async def get_member(pid: int, uid: int) -> Response:
            member = sim.members.get((pid, uid))
            return JSONResponse(member) if member else err(404, "404 Not found")

        @app.post(api + "/projects/{pid}/statuses/{sha}")
        async def set_status(pid: int, sha: str, request: Request) -> Response:
            data = await request.json()
            if data.get("state") not in ("pending", "running", "success", "failed", "canceled", "skipped"):
                return err(400, "400 Bad request - state does not have a valid value")
            with sim.lock:
                status = {"id": next(sim.ids), "sha": sha, "_project": pid, **data}
                sim.statuses.append(status)
            return JSONResponse(public(status), status_code=201)

        return app
