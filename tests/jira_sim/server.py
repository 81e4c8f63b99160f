"""A Jira simulator (Cloud or Data Center) that the real `jira` package talks to over HTTP on 127.0.0.1.

Shaped by Atlassian's documented REST API v2 (https://developer.atlassian.com/cloud/jira/platform/rest/v2/
and the Data Center reference https://docs.atlassian.com/software/jira/docs/api/REST/9.12.0/):
`serverInfo`, `field`, `issue` (create 201 {id, key, self}; get with `fields`), `issue/{key}/comment`,
`issue/{key}/transitions` (GET lists transitions with their target status and its category; POST 204),
`issueLinkType`, `issueLink`, and search: on Cloud the legacy `GET /rest/api/2/search` answers 410 Gone and
`/rest/api/{2,3}/search/jql` serves (no `total`, `isLast`/`nextPageToken` paging:
https://developer.atlassian.com/changelog/#CHANGE-2046); on Data Center `/rest/api/2/search` serves.

Search is eventually consistent, as Jira Cloud's is right after a create: an issue shows in search results
only `index_delay_s` seconds after it was created. Auth: Cloud takes basic auth (email + API token), Data
Center a bearer personal access token.
"""

from __future__ import annotations

import base64
import itertools
import re
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sim_base import SimServer

_CATEGORIES = {
    "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    "indeterminate": {"id": 4, "key": "indeterminate", "colorName": "yellow", "name": "In Progress"},
    "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
}
_STATUSES = {"To Do": ("10000", "new"), "In Progress": ("3", "indeterminate"), "Done": ("10001", "done")}
# transition id -> (name, target status); which are offered depends on the current status category
_TRANSITIONS = {
    "11": ("To Do", "To Do"),
    "21": ("In Progress", "In Progress"),
    "31": ("Done", "Done"),
    "41": ("Reopen", "To Do"),
}
_LABEL_JQL = re.compile(
    r'^project\s*=\s*"?(?P<project>[A-Z][A-Z0-9_]*)"?\s+AND\s+labels\s*=\s*"?(?P<label>[^"\s]+)"?'
    r"(?:\s+ORDER\s+BY\s+created\s+(?P<order>ASC|DESC))?\s*$",
    re.IGNORECASE,
)


def _jira_time(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime(at))


class JiraSim(SimServer):
    def __init__(
        self,
        *,
        cloud: bool = True,
        project: str = "OPS",
        email: str = "bot@example.com",
        token: str = "jira-token",
        index_delay_s: float = 0.0,
    ) -> None:
        self.cloud = cloud
        self.project = project
        self.email = email
        self.token = token
        self.index_delay_s = index_delay_s
        self.ids = itertools.count(10001)
        self.numbers = itertools.count(1)
        self.issues: dict[str, dict[str, Any]] = {}
        self.links: list[dict[str, Any]] = []
        super().__init__()

    # --- scenario and assertions --------------------------------------------------------------------

    def comments(self, key: str) -> list[str]:
        with self.lock:
            return [c["body"] for c in self.issues[key]["comments"]]

    def resolve(self, key: str, resolution: str = "Done", *, at: float | None = None) -> None:
        """Close an issue as a person would (status Done with a resolution)."""
        with self.lock:
            issue = self.issues[key]
            issue["status"] = "Done"
            issue["resolution"] = resolution
            issue["resolutiondate"] = at if at is not None else time.time()

    # --- HTTP ---------------------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if self.cloud:
            expected = base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
            return header == f"Basic {expected}"
        return header == f"Bearer {self.token}"

    def _public(self, issue: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
        status_id, category = _STATUSES[issue["status"]]
        everything = {
            "summary": issue["summary"],
            "description": issue["description"],
            "labels": list(issue["labels"]),
            "issuetype": {"name": issue["issuetype"]},
            "project": {"key": self.project},
            "created": _jira_time(issue["created"]),
            "status": {"id": status_id, "name": issue["status"], "statusCategory": _CATEGORIES[category]},
            "resolution": {"name": issue["resolution"]} if issue["resolution"] else None,
            "resolutiondate": _jira_time(issue["resolutiondate"]) if issue["resolutiondate"] else None,
        }
        wanted = (
            everything
            if not fields or "*all" in fields
            else {k: v for k, v in everything.items() if k in fields}
        )
        return {
            "id": issue["id"],
            "key": issue["key"],
            "self": f"{self.url}/rest/api/2/issue/{issue['id']}",
            "fields": wanted,
        }

    def _search(self, jql: str, fields: list[str]) -> list[dict[str, Any]] | None:
        m = _LABEL_JQL.match(jql.strip())
        if m is None:
            return None
        now = time.time()
        with self.lock:
            found = [
                i
                for i in self.issues.values()
                if m["project"] == self.project
                and m["label"] in i["labels"]
                and now - i["created"] >= self.index_delay_s
            ]
        found.sort(key=lambda i: i["created"], reverse=(m["order"] or "").upper() == "DESC")
        return [self._public(i, fields) for i in found]

    def build(self) -> FastAPI:
        app = FastAPI()
        sim = self

        def errors(status: int, *messages: str, **fields: str) -> JSONResponse:
            return JSONResponse({"errorMessages": list(messages), "errors": fields}, status_code=status)

        @app.middleware("http")
        async def auth(request: Request, call_next: Any) -> Response:
            if not sim._authorized(request):
                return errors(
                    401, "You are not authenticated. Authentication required to perform this operation."
                )
            return await call_next(request)  # type: ignore[no-any-return]

        @app.get("/rest/api/2/serverInfo")
        async def server_info() -> Response:
            return JSONResponse(
                {
                    "baseUrl": sim.url,
                    "version": "1001.0.0-SNAPSHOT" if sim.cloud else "9.12.2",
                    "versionNumbers": [1001, 0, 0] if sim.cloud else [9, 12, 2],
                    "deploymentType": "Cloud" if sim.cloud else "Server",
                    "buildNumber": 100250,
                    "serverTitle": "Jira",
                }
            )

        @app.get("/rest/api/2/field")
        async def fields() -> Response:
            names = ["summary", "status", "resolution", "resolutiondate", "labels", "created", "description"]
            return JSONResponse(
                [{"id": n, "key": n, "name": n.title(), "custom": False, "clauseNames": [n]} for n in names]
            )

        @app.post("/rest/api/2/issue")
        async def create(request: Request) -> Response:
            data = await request.json()
            f = data.get("fields") or {}
            if (f.get("project") or {}).get("key") != sim.project:
                return errors(400, project="valid project is required")
            if (f.get("issuetype") or {}).get("name") not in ("Bug", "Task"):
                return errors(400, issuetype="valid issue type is required")
            summary = f.get("summary")
            if not isinstance(summary, str) or not summary or len(summary) > 255 or "\n" in summary:
                return errors(400, summary="Summary must be less than 255 characters and one line.")
            if not isinstance(f.get("description"), str):  # v2 takes wiki text; ADF belongs to v3
                return errors(400, description="Operation value must be a string")
            labels = f.get("labels") or []
            if any(not isinstance(x, str) or " " in x or len(x) > 255 for x in labels):
                return errors(400, labels="The label can't contain spaces and must be under 255 characters.")
            with sim.lock:
                iid = str(next(sim.ids))
                key = f"{sim.project}-{next(sim.numbers)}"
                sim.issues[key] = {
                    "id": iid,
                    "key": key,
                    "summary": summary,
                    "description": f["description"],
                    "labels": labels,
                    "issuetype": f["issuetype"]["name"],
                    "status": "To Do",
                    "resolution": None,
                    "resolutiondate": None,
                    "created": time.time(),
                    "comments": [],
                }
            return JSONResponse(
                {"id": iid, "key": key, "self": f"{sim.url}/rest/api/2/issue/{iid}"}, status_code=201
            )

        def lookup(key: str) -> dict[str, Any] | None:
            with sim.lock:
                return sim.issues.get(key)

        def missing() -> JSONResponse:
            return errors(404, "Issue does not exist or you do not have permission to see it.")

        @app.get("/rest/api/2/issue/{key}")
        async def get_issue(key: str, request: Request) -> Response:
            issue = lookup(key)
            if issue is None:
                return missing()
            wanted = request.query_params.get("fields")
            return JSONResponse(sim._public(issue, wanted.split(",") if wanted else None))

        @app.post("/rest/api/2/issue/{key}/comment")
        async def comment(key: str, request: Request) -> Response:
            issue = lookup(key)
            if issue is None:
                return missing()
            body = (await request.json()).get("body")
            if not isinstance(body, str) or not body.strip():
                return errors(400, body="Comment body can not be empty!")
            with sim.lock:
                cid = str(next(sim.ids))
                issue["comments"].append({"id": cid, "body": body})
            return JSONResponse(
                {"id": cid, "body": body, "self": f"{sim.url}/rest/api/2/issue/{issue['id']}/comment/{cid}"},
                status_code=201,
            )

        def offered(issue: dict[str, Any]) -> list[str]:
            done = _STATUSES[issue["status"]][1] == "done"
            return (
                ["41"] if done else [t for t in ("11", "21", "31") if _TRANSITIONS[t][1] != issue["status"]]
            )

        @app.get("/rest/api/2/issue/{key}/transitions")
        async def transitions(key: str) -> Response:
            issue = lookup(key)
            if issue is None:
                return missing()
            out = []
            for tid in offered(issue):
                name, target = _TRANSITIONS[tid]
                status_id, category = _STATUSES[target]
                out.append(
                    {
                        "id": tid,
                        "name": name,
                        "hasScreen": False,
                        "isGlobal": False,
                        "isInitial": False,
                        "isConditional": False,
                        "to": {"id": status_id, "name": target, "statusCategory": _CATEGORIES[category]},
                    }
                )
            return JSONResponse({"expand": "transitions", "transitions": out})

        @app.post("/rest/api/2/issue/{key}/transitions")
        async def transition(key: str, request: Request) -> Response:
            issue = lookup(key)
            if issue is None:
                return missing()
            tid = str(((await request.json()).get("transition") or {}).get("id"))
            if tid not in offered(issue):
                return errors(
                    400, "It seems that you have tried to perform a workflow operation that is not valid."
                )
            target = _TRANSITIONS[tid][1]
            with sim.lock:
                issue["status"] = target
                done = _STATUSES[target][1] == "done"
                issue["resolution"] = "Done" if done else None
                issue["resolutiondate"] = time.time() if done else None
            return Response(status_code=204)

        @app.get("/rest/api/2/issueLinkType")
        async def link_types() -> Response:
            return JSONResponse(
                {
                    "issueLinkTypes": [
                        {"id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks"},
                        {
                            "id": "10001",
                            "name": "Duplicate",
                            "inward": "is duplicated by",
                            "outward": "duplicates",
                        },
                        {"id": "10003", "name": "Relates", "inward": "relates to", "outward": "relates to"},
                    ]
                }
            )

        @app.post("/rest/api/2/issueLink")
        async def link(request: Request) -> Response:
            data = await request.json()
            keys = [(data.get(side) or {}).get("key") for side in ("inwardIssue", "outwardIssue")]
            if any(lookup(k or "") is None for k in keys):
                return missing()
            with sim.lock:
                sim.links.append(
                    {"type": (data.get("type") or {}).get("name"), "inward": keys[0], "outward": keys[1]}
                )
            return Response(status_code=201)

        async def search_params(request: Request) -> tuple[str, list[str]]:
            if request.method == "POST":
                body = await request.json()
                return str(body.get("jql", "")), list(body.get("fields") or [])
            q = request.query_params
            return q.get("jql", ""), [f for v in q.getlist("fields") for f in v.split(",") if f]

        @app.api_route("/rest/api/{version}/search/jql", methods=["GET", "POST"])
        async def search_jql(version: str, request: Request) -> Response:
            if not sim.cloud or version not in ("2", "3"):
                return errors(404, "null for uri")
            jql, fields = await search_params(request)
            found = sim._search(jql, fields)
            if found is None:
                return errors(400, f"Error in the JQL Query: {jql!r} is not supported by the simulator")
            return JSONResponse({"issues": found, "isLast": True})

        @app.api_route("/rest/api/2/search", methods=["GET", "POST"])
        async def search_legacy(request: Request) -> Response:
            if sim.cloud:  # https://developer.atlassian.com/changelog/#CHANGE-2046
                return errors(
                    410,
                    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API.",
                )
            jql, fields = await search_params(request)
            found = sim._search(jql, fields)
            if found is None:
                return errors(400, f"Error in the JQL Query: {jql!r} is not supported by the simulator")
            return JSONResponse({"startAt": 0, "maxResults": 50, "total": len(found), "issues": found})

        return app
