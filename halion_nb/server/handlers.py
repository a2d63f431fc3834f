"""Tornado handlers of `/halion/api/`: thin, authenticated, authorized, JSON in and out.

Every method has `@web.authenticated` and `@authorized` (resource `halion`; action read,
write or execute). Tool calls and chain runs go to the app's worker threads, never the
event loop. Errors are JSON `{"message": ..., "status": ...}` with the status that fits.
"""
from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from ..core.call_log import KINDS
from ..core.surrogates import json_text
from ..errors import ChainValidationError, HalionError, NameTaken, ToolArgumentError, ToolNameError, ToolNotFoundError
from ..models import Toolchain
from .openapi import AUTH_RESOURCE, PREFIX, openapi_document
from .parsing import RequestError, bool_param, chain_from_json, choice_param, fields, int_param, json_body
from .views import chain_detail, chain_summary, outcome_json, record_json, run_json, tool_detail, tool_summary

if TYPE_CHECKING:
    from ..workspace import Workspace
    from .application import HalionApp

T = TypeVar("T")
OUTCOME_STATUS = {"arguments": 400, "denied": 403, "not_found": 404, "inactive": 409}
"""HTTP status of a call that did not run; a tool that ran and raised (or timed out) is a 200 with ok false."""
_ERROR_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (ToolNotFoundError, 404), (NameTaken, 409), (ToolNameError, 400), (ChainValidationError, 400),
    (ToolArgumentError, 400),
)


class HalionHandler(ExtensionHandlerMixin, APIHandler):
    """Base of every halion handler: the auth resource, the workspace, JSON replies and JSON errors."""

    auth_resource = AUTH_RESOURCE

    @property
    def app(self) -> HalionApp:
        return self.extensionapp  # type: ignore[return-value]

    @functools.cached_property
    def ws(self) -> Workspace:
        return self.app.current_workspace()

    @property
    def username(self) -> str:
        return str(self.current_user.username)

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json_text(data, default=str))

    def body(self, *, empty: dict[str, Any] | None = None) -> dict[str, Any]:
        """The request's JSON object (an empty body is `empty` when given), within the size limit."""
        return json_body(self.request.body, limit=self.app.max_body_size, empty=empty)

    async def off_loop(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run `fn` on the app's worker threads, so the event loop keeps serving other requests."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.app.executor, functools.partial(fn, *args, **kwargs))

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if error is not None and not isinstance(error, web.HTTPError):
            status_code = _status_of(error)
        super().send_error(status_code, **kwargs)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, HalionError) and _status_of(value) < 500:
            self.log.info("%d %s: %s", _status_of(value), self._request_summary(), value)
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        reply: dict[str, Any] = {"message": self._reason, "status": status_code}
        if isinstance(error, RequestError):
            reply.update(error.extra, message=error.message)
        elif isinstance(error, web.HTTPError):
            reply["message"] = error.log_message or error.reason or self._reason
        elif isinstance(error, HalionError):
            reply["message"] = str(error)
            if getattr(error, "problems", None):
                reply["problems"] = error.problems
        elif error is not None:
            reply["message"] = "Internal error; the server log has the details."
        self.set_header("Content-Type", "application/json")  # redacted as JSON text: problems echo values too
        self.finish(self.app.workspace.env.redact(json_text(reply, default=str)))

    def chain_or_error(self, name: str) -> Toolchain:
        """The chain, 404 when unknown, 409 when its file exists but could not be read."""
        broken = self.ws.chains.registry.broken
        if name in broken and name not in self.ws.chains:
            raise RequestError(409, f"chains/{name}.json exists but could not be loaded: {broken[name]}")
        return self.ws.chains.get(name)


def _status_of(error: BaseException) -> int:
    if isinstance(error, RequestError):
        return error.status
    for kind, status in _ERROR_STATUS:
        if isinstance(error, kind):
            return status
    return 500


class ToolsHandler(HalionHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        """Every tool with its state, and the tool files that could not be loaded."""
        tools = [tool_summary(tool, state) for tool, state in self.ws.tools.with_states()]
        self.reply({"tools": tools, "broken": dict(self.ws.tools.broken)})


class ToolHandler(HalionHandler):
    @web.authenticated
    @authorized
    def get(self, name: str) -> None:
        self.reply(self._detail(name))

    @web.authenticated
    @authorized
    def patch(self, name: str) -> None:
        """Change `active` and `postprocess` (true or false); `approval` can only be switched on.

        Whether a tool needs approval is the notebook owner's decision: a REST client may ask for
        more approval, never less (403, nothing changed).
        """
        self.ws.tools.get(name)
        body = self.body()
        if "approval" in body and body["approval"] is not True:
            raise RequestError(403, f"Approval of '{name}' cannot be switched off over REST: it is the owner's "
                                    f"decision, made in the notebook (ws.tools.require_approval('{name}', False)). "
                                    "Nothing was changed.")
        changes = fields(body, {"active": bool, "postprocess": bool, "approval": bool})
        if not changes:
            raise RequestError(400, "Nothing to change: send one or more of active, postprocess, approval.")
        tools = self.ws.tools
        if "active" in changes:
            tools.enable(name) if changes["active"] else tools.disable(name)
        if "postprocess" in changes:
            tools.set_postprocess(name, changes["postprocess"])
        if "approval" in changes:
            tools.require_approval(name, changes["approval"])
        self.reply(self._detail(name))

    def _detail(self, name: str) -> dict[str, Any]:
        tool = self.ws.tools.get(name)
        return tool_detail(tool, self.ws.tools.manager.state(name), self.ws.env.redact)


class ToolCallHandler(HalionHandler):
    @web.authenticated
    @authorized("execute")
    async def post(self, name: str) -> None:
        """Call the tool with `{"arguments": {...}}` as this Jupyter user; the reply is the outcome."""
        arguments = fields(self.body(empty={}), {"arguments": dict}).get("arguments", {})
        ws = self.ws
        outcome = await self.off_loop(ws.tools.invoke, name, arguments, caller="rest", user=self.username,
                                      only_active=True, approve=self.app.approver)
        status = OUTCOME_STATUS.get(outcome.error_kind or "")
        if status is not None:
            raise RequestError(status, outcome.error or outcome.content, error_kind=outcome.error_kind,
                               problems=list(outcome.problems), log_id=outcome.log_id)
        self.reply(outcome_json(outcome, ws.env.redact))


class ChainsHandler(HalionHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        """Every chain with the problems that would stop it running, and the files that could not be read."""
        chains = self.ws.chains
        listed = [chain_summary(c, chains.validate(c)) for c in chains.all()]
        self.reply({"chains": listed, "broken": dict(chains.registry.broken)})


class ChainHandler(HalionHandler):
    @web.authenticated
    @authorized
    def get(self, name: str) -> None:
        chain = self.chain_or_error(name)
        self.reply(chain_detail(chain, self.ws.chains.validate(chain)))

    @web.authenticated
    @authorized
    def put(self, name: str) -> None:
        """Save the chain in the body as chains/NAME.json, once it passes every check."""
        chain = chain_from_json(self.body(), name)
        chains = self.ws.chains
        problems = chains.validate(chain)
        if problems:
            raise RequestError(400, f"Chain '{name}' was not saved; fix these first: {'; '.join(problems)}.",
                               problems=problems)
        existed = name in chains
        chains.save(chain, user=self.username)  # the history says who saved it
        self.reply(chain_detail(chain, []), status=200 if existed else 201)


class ChainRunHandler(HalionHandler):
    @web.authenticated
    @authorized("execute")
    async def post(self, name: str) -> None:
        """Run the chain with `{"inputs": {...}}` as this Jupyter user; the reply has every step."""
        inputs = fields(self.body(empty={}), {"inputs": dict}).get("inputs", {})
        ws = self.ws
        chain = self.chain_or_error(name)
        problems = ws.chains.validate(chain)
        if problems:
            raise RequestError(409, f"Chain '{name}' cannot run now: {'; '.join(problems)}.", problems=problems)
        refused = sorted({s.tool for s in chain.steps if ws.tools.needs_approval(s.tool)} - set(self.app.allow_approval))
        if refused:
            raise RequestError(403, f"Chain '{name}' was not run: its step tool(s) {', '.join(refused)} need approval, "
                                    "which a REST call cannot give; the server's owner may allow them with "
                                    "c.HalionApp.allow_approval.", refused=refused)
        run = await self.off_loop(ws.chains.run_with, chain, inputs, caller="rest", user=self.username,
                                  approve=self.app.approver)
        self.reply(run_json(run, ws.env.redact))


class LogHandler(HalionHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        """The newest log rows: `n`, `offset`, `kind`, `tool`, `errors`, `caller`, `user`."""
        arg = self.get_query_argument
        rows = self.ws.log.recent(
            int_param(arg("n", None), "n", default=20, low=0, high=1000),
            offset=int_param(arg("offset", None), "offset", default=0, low=0, high=10**9),
            kind=choice_param(arg("kind", None), "kind", KINDS),
            tool=arg("tool", None) or None,
            errors_only=bool_param(arg("errors", None), "errors"),
            caller=arg("caller", None) or None,
            user=arg("user", None) or None,
        )
        self.reply({"rows": [record_json(r) for r in rows]})


class OpenAPIHandler(HalionHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        self.reply(openapi_document(self.base_url))


_NAME = r"(?P<name>[^/]+)"
default_handlers = [
    (rf"{PREFIX}/tools", ToolsHandler),
    (rf"{PREFIX}/tools/{_NAME}", ToolHandler),
    (rf"{PREFIX}/tools/{_NAME}/call", ToolCallHandler),
    (rf"{PREFIX}/chains", ChainsHandler),
    (rf"{PREFIX}/chains/{_NAME}", ChainHandler),
    (rf"{PREFIX}/chains/{_NAME}/run", ChainRunHandler),
    (rf"{PREFIX}/log", LogHandler),
    (rf"{PREFIX}/openapi\.json", OpenAPIHandler),
]
