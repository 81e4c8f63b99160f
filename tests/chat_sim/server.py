"""A Slack incoming-webhook and Teams Workflows-webhook receiver on 127.0.0.1.

Slack (https://api.slack.com/messaging/webhooks#handling_errors): POST JSON to the hook URL; 200 with the
body `ok`, 400 `invalid_payload` / `no_text`, 404 `no_service`, 429 with `Retry-After`. Teams Workflows
("Post to a channel when a webhook request is received"): POST JSON with an Adaptive Card attachment; the flow
answers 202 Accepted. Each accepted message is kept in `slack` / `teams`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from sim_base import SimServer

SLACK_PATH = "/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
TEAMS_PATH = "/workflows/f00d/triggers/manual/paths/invoke"


class ChatSim(SimServer):
    def __init__(self) -> None:
        self.slack: list[dict[str, Any]] = []
        self.teams: list[dict[str, Any]] = []
        super().__init__()

    @property
    def slack_url(self) -> str:
        return self.url + SLACK_PATH

    @property
    def teams_url(self) -> str:
        return self.url + TEAMS_PATH + "?api-version=1&sig=test-signature"

    def build(self) -> FastAPI:
        app = FastAPI()
        sim = self

        @app.post(SLACK_PATH)
        async def slack(request: Request) -> Response:
            try:
                body = await request.json()
            except ValueError:
                return PlainTextResponse("invalid_payload", status_code=400)
            if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
                return PlainTextResponse("no_text", status_code=400)
            with sim.lock:
                sim.slack.append(body)
            return PlainTextResponse("ok")

        @app.post(TEAMS_PATH)
        async def teams(request: Request) -> Response:
            if request.query_params.get("sig") != "test-signature":
                return PlainTextResponse("Unauthorized", status_code=401)
            body = await request.json()
            attachments = body.get("attachments") if isinstance(body, dict) else None
            if (
                not attachments
                or attachments[0].get("contentType") != "application/vnd.microsoft.card.adaptive"
            ):
                return PlainTextResponse("Bad Request: expected an Adaptive Card attachment", status_code=400)
            with sim.lock:
                sim.teams.append(body)
            return Response(status_code=202)

        return app
