"""A Linear simulator: a real GraphQL endpoint on 127.0.0.1, executed by graphql-core against a subset of
Linear's public schema, so a query with a wrong field, argument or type fails as it would against Linear.

The subset is transcribed from Linear's schema (https://studio.apollographql.com/public/Linear-API/variant/current/schema
and https://developers.linear.app/docs/graphql/working-with-the-graphql-api): `teams(filter)`, `issue(id)`,
`issues(filter: {id})`, `attachmentsForURL(url)`, and the mutations `issueCreate` (with the client-chosen
`id`), `issueUpdate`, `commentCreate`, `attachmentCreate` (idempotent per url and issue: the existing
attachment is updated), `issueRelationCreate`. Auth: the personal API key as the whole `Authorization`
header. Rate limits and slow answers come on cue per operation (`fail_op`): a RATELIMITED error
(HTTP 400 with `X-RateLimit-Requests-Reset`, as Linear documents: https://linear.app/developers/rate-limiting),
a 429, a 5xx, or an answer that comes only after the operation was carried out.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from graphql import GraphQLError, build_schema, graphql_sync, parse
from graphql.language import FieldNode, OperationDefinitionNode
from sim_base import SimServer

SCHEMA = build_schema(
    """
    scalar DateTime
    type Query {
      teams(filter: TeamFilter, first: Int): TeamConnection!
      issue(id: String!): Issue!
      issues(filter: IssueFilter, first: Int): IssueConnection!
      attachmentsForURL(url: String!, first: Int): AttachmentConnection!
    }
    type Mutation {
      issueCreate(input: IssueCreateInput!): IssuePayload!
      issueUpdate(id: String!, input: IssueUpdateInput!): IssuePayload!
      commentCreate(input: CommentCreateInput!): CommentPayload!
      attachmentCreate(input: AttachmentCreateInput!): AttachmentPayload!
      issueRelationCreate(input: IssueRelationCreateInput!): IssueRelationPayload!
    }
    input StringComparator { eq: String neq: String in: [String!] }
    input IDComparator { eq: ID neq: ID in: [ID!] }
    input TeamFilter { key: StringComparator name: StringComparator }
    input IssueFilter { id: IDComparator }
    type Team { id: ID! key: String! name: String! states(first: Int): WorkflowStateConnection! }
    type TeamConnection { nodes: [Team!]! }
    type WorkflowState { id: ID! name: String! type: String! position: Float! }
    type WorkflowStateConnection { nodes: [WorkflowState!]! }
    type Issue {
      id: ID! identifier: String! title: String! description: String url: String!
      state: WorkflowState! createdAt: DateTime! completedAt: DateTime canceledAt: DateTime
      comments: CommentConnection! attachments: AttachmentConnection!
    }
    type IssueConnection { nodes: [Issue!]! }
    type Attachment { id: ID! url: String! title: String! subtitle: String issue: Issue! }
    type AttachmentConnection { nodes: [Attachment!]! }
    type Comment { id: ID! body: String! }
    type CommentConnection { nodes: [Comment!]! }
    type IssuePayload { lastSyncId: Float! success: Boolean! issue: Issue }
    type CommentPayload { lastSyncId: Float! success: Boolean! comment: Comment }
    type AttachmentPayload { lastSyncId: Float! success: Boolean! attachment: Attachment! }
    type IssueRelation { id: ID! type: String! }
    type IssueRelationPayload { lastSyncId: Float! success: Boolean! issueRelation: IssueRelation! }
    input IssueCreateInput {
      id: String teamId: String! title: String description: String labelIds: [String!] stateId: String
    }
    input IssueUpdateInput { stateId: String title: String description: String }
    input CommentCreateInput { issueId: String body: String }
    input AttachmentCreateInput { id: String issueId: String! url: String! title: String! subtitle: String }
    input IssueRelationCreateInput { issueId: String! relatedIssueId: String! type: IssueRelationType! }
    enum IssueRelationType { blocks duplicate related similar }
    """
)


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(at))


@dataclass
class OpFault:
    field: str
    times: int
    status: int | None  # None: carry the operation out, answer after `delay_s`
    delay_s: float
    body: dict[str, Any] | None
    headers: dict[str, str]


class LinearSim(SimServer):
    def __init__(self, *, api_key: str = "lin_api_test", team_key: str = "ENG") -> None:
        self.api_key = api_key
        self.team_key = team_key
        self.numbers = itertools.count(1)
        self.states = [
            {"id": str(uuid.uuid4()), "name": name, "type": kind, "position": float(pos)}
            for pos, (name, kind) in enumerate(
                [
                    ("Backlog", "backlog"),
                    ("Todo", "unstarted"),
                    ("In Progress", "started"),
                    ("Done", "completed"),
                    ("Canceled", "canceled"),
                ]
            )
        ]
        self.team = {
            "id": str(uuid.uuid4()),
            "key": team_key,
            "name": "Engineering",
            "states": {"nodes": self.states},
        }
        self.issues: dict[str, dict[str, Any]] = {}  # by id
        self.attachments: list[dict[str, Any]] = []
        self.relations: list[dict[str, Any]] = []
        self.op_faults: list[OpFault] = []
        self.operations: list[str] = []
        super().__init__()

    # --- scenario and assertions --------------------------------------------------------------------

    def fail_op(
        self,
        field: str,
        *,
        status: int | None = 500,
        times: int = 1,
        delay_s: float = 0.0,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        with self.lock:
            self.op_faults.append(OpFault(field, times, status, delay_s, body, headers or {}))

    def rate_limit(self, field: str, *, times: int = 1, reset_in_s: float = 0.2) -> None:
        """Linear's documented answer to a rate-limited request: HTTP 400, extensions.code RATELIMITED."""
        reset = str(int((time.time() + reset_in_s) * 1000))
        body = {"errors": [{"message": "Rate limit exceeded", "extensions": {"code": "RATELIMITED"}}]}
        self.fail_op(
            field,
            status=400,
            times=times,
            body=body,
            headers={"X-RateLimit-Requests-Remaining": "0", "X-RateLimit-Requests-Reset": reset},
        )

    def by_identifier(self, identifier: str) -> dict[str, Any]:
        with self.lock:
            return next(i for i in self.issues.values() if i["identifier"] == identifier)

    def comments(self, identifier: str) -> list[str]:
        return [c["body"] for c in self.by_identifier(identifier)["comments"]["nodes"]]

    def set_state(self, identifier: str, kind: str, *, at: float | None = None) -> None:
        issue = self.by_identifier(identifier)
        with self.lock:
            self._move(issue, next(s for s in self.states if s["type"] == kind), at)

    def _move(self, issue: dict[str, Any], state: dict[str, Any], at: float | None = None) -> None:
        when = _iso(at if at is not None else time.time())
        issue["state"] = state
        issue["completedAt"] = when if state["type"] == "completed" else None
        issue["canceledAt"] = when if state["type"] == "canceled" else None

    # --- resolvers ------------------------------------------------------------------------------------

    def _root(self) -> dict[str, Any]:
        sim = self

        def payload(**extra: Any) -> dict[str, Any]:
            return {"lastSyncId": float(time.time()), "success": True, **extra}

        def issue_by(key: str) -> dict[str, Any]:
            found = sim.issues.get(key) or next(
                (i for i in sim.issues.values() if i["identifier"] == key), None
            )
            if found is None:
                raise GraphQLError(
                    "Entity not found: Issue", extensions={"code": "INVALID_INPUT", "type": "invalid input"}
                )
            return found

        def teams(
            _info: Any, filter: dict[str, Any] | None = None, first: int | None = None
        ) -> dict[str, Any]:
            key = ((filter or {}).get("key") or {}).get("eq")
            return {"nodes": [sim.team] if key in (None, sim.team_key) else []}

        def issues(
            _info: Any, filter: dict[str, Any] | None = None, first: int | None = None
        ) -> dict[str, Any]:
            wanted = ((filter or {}).get("id") or {}).get("eq")
            return {"nodes": [i for i in sim.issues.values() if wanted is None or i["id"] == wanted]}

        def attachments_for_url(_info: Any, url: str, first: int | None = None) -> dict[str, Any]:
            return {"nodes": [a for a in sim.attachments if a["url"] == url]}

        def issue_create(_info: Any, input: dict[str, Any]) -> dict[str, Any]:
            if input["teamId"] != sim.team["id"]:
                raise GraphQLError("Entity not found: Team", extensions={"code": "INVALID_INPUT"})
            iid = input.get("id") or str(uuid.uuid4())
            try:
                uuid.UUID(iid, version=4)
            except ValueError:
                raise GraphQLError("id must be a UUID v4", extensions={"code": "INVALID_INPUT"}) from None
            if iid in sim.issues:
                raise GraphQLError("Entity already exists", extensions={"code": "INVALID_INPUT"})
            number = next(sim.numbers)
            issue = {
                "id": iid,
                "identifier": f"{sim.team_key}-{number}",
                "title": input.get("title") or "",
                "description": input.get("description"),
                "url": f"https://linear.app/acme/issue/{sim.team_key.lower()}-{number}",
                "createdAt": _iso(time.time()),
                "completedAt": None,
                "canceledAt": None,
                "state": next(s for s in sim.states if s["type"] == "unstarted"),
                "comments": {"nodes": []},
                "attachments": {"nodes": []},
            }
            sim.issues[iid] = issue
            return payload(issue=issue)

        def issue_update(_info: Any, id: str, input: dict[str, Any]) -> dict[str, Any]:
            issue = issue_by(id)
            if "stateId" in input:
                state = next((s for s in sim.states if s["id"] == input["stateId"]), None)
                if state is None:
                    raise GraphQLError(
                        "Entity not found: WorkflowState", extensions={"code": "INVALID_INPUT"}
                    )
                sim._move(issue, state)
            return payload(issue=issue)

        def comment_create(_info: Any, input: dict[str, Any]) -> dict[str, Any]:
            issue = issue_by(input.get("issueId") or "")
            comment = {"id": str(uuid.uuid4()), "body": input.get("body") or ""}
            issue["comments"]["nodes"].append(comment)
            return payload(comment=comment)

        def attachment_create(_info: Any, input: dict[str, Any]) -> dict[str, Any]:
            issue = issue_by(input["issueId"])
            for existing in issue["attachments"]["nodes"]:  # idempotent per (url, issue): update it
                if existing["url"] == input["url"]:
                    existing.update(title=input["title"], subtitle=input.get("subtitle"))
                    return payload(attachment=existing)
            attachment = {
                "id": str(uuid.uuid4()),
                "url": input["url"],
                "title": input["title"],
                "subtitle": input.get("subtitle"),
                "issue": issue,
            }
            issue["attachments"]["nodes"].append(attachment)
            sim.attachments.append(attachment)
            return payload(attachment=attachment)

        def relation_create(_info: Any, input: dict[str, Any]) -> dict[str, Any]:
            a, b = issue_by(input["issueId"]), issue_by(input["relatedIssueId"])
            relation = {
                "id": str(uuid.uuid4()),
                "type": input["type"],
                "issue": a["identifier"],
                "related": b["identifier"],
            }
            sim.relations.append(relation)
            return payload(issueRelation=relation)

        return {
            "teams": teams,
            "issue": lambda _info, id: issue_by(id),
            "issues": issues,
            "attachmentsForURL": attachments_for_url,
            "issueCreate": issue_create,
            "issueUpdate": issue_update,
            "commentCreate": comment_create,
            "attachmentCreate": attachment_create,
            "issueRelationCreate": relation_create,
        }

    # --- HTTP ---------------------------------------------------------------------------------------

    def build(self) -> FastAPI:
        app = FastAPI()
        sim = self

        @app.post("/graphql")
        async def graphql(request: Request) -> Response:
            if request.headers.get("authorization") != sim.api_key:
                return JSONResponse(
                    {
                        "errors": [
                            {
                                "message": "Authentication required, not authenticated",
                                "extensions": {"code": "AUTHENTICATION_ERROR"},
                            }
                        ]
                    },
                    status_code=400,
                )
            body = await request.json()
            query, variables = body.get("query", ""), body.get("variables") or {}
            try:
                fields = [
                    sel.name.value
                    for op in parse(query).definitions
                    if isinstance(op, OperationDefinitionNode)
                    for sel in op.selection_set.selections
                    if isinstance(sel, FieldNode)
                ]
            except GraphQLError as exc:
                return JSONResponse({"errors": [exc.formatted]}, status_code=400)
            fault = None
            with sim.lock:
                sim.operations.extend(fields)
                for f in sim.op_faults:
                    if f.times > 0 and f.field in fields:
                        f.times -= 1
                        fault = f
                        break
            if fault is not None and fault.status is not None:
                body_out = fault.body or {
                    "errors": [
                        {"message": "Internal server error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
                    ]
                }
                return JSONResponse(body_out, status_code=fault.status, headers=fault.headers)
            with sim.lock:
                result = graphql_sync(SCHEMA, query, root_value=sim._root(), variable_values=variables)
            if fault is not None:  # carried out; the answer comes late
                await asyncio.sleep(fault.delay_s)
            out: dict[str, Any] = {"data": result.data}
            if result.errors:
                out["errors"] = [e.formatted for e in result.errors]
            # Linear answers 200 with `errors` for failed operations, 400 for invalid queries.
            invalid = result.errors and result.data is None and not any(e.path for e in result.errors)
            return JSONResponse(out, status_code=400 if invalid else 200)

        return app
