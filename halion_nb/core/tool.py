"""A tool: a plain function plus the schema the model sees and validation of what it sends."""
from __future__ import annotations

import hashlib
import json
import reprlib
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import ValidationError

from ..errors import ToolArgumentError
from .invocation import complete
from .surrogates import check_text
from .tool_schema import FunctionSpec, describe_function, drop_forced_nulls


@dataclass(eq=False)
class Tool:
    """A registered function. Calling it calls the function; `call` takes the model's arguments."""

    name: str
    function: Callable[..., Any]
    spec: FunctionSpec = field(repr=False)
    given_source: str | None = field(default=None, repr=False)
    _version: str | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_function(
        cls, fn: Callable[..., Any], name: str, *, description: str | None = None, source: str | None = None
    ) -> "Tool":
        return cls(name=name, function=fn, spec=describe_function(fn, name, description), given_source=source)

    @property
    def source(self) -> str | None:
        """Code a tool file is made of: the `%%tool` cell, or the function's own source (read on first use)."""
        if self.given_source is None:
            from .tool_files import function_source

            self.given_source = function_source(self.function)
        return self.given_source

    @property
    def version(self) -> str | None:
        """The first 12 hex digits of the sha256 of `source`: which code ran (None without source)."""
        if self._version is None:  # "" once read: no source to hash
            source = self.source
            self._version = hashlib.sha256(source.encode("utf-8")).hexdigest()[:12] if source is not None else ""
        return self._version or None

    @property
    def description(self) -> str:
        return self.spec.description

    @property
    def strict(self) -> bool:
        return self.spec.strict

    @property
    def strict_reason(self) -> str | None:
        """Why the schema is not strict, or None when it is."""
        return self.spec.strict_reason

    @property
    def parameters(self) -> dict[str, Any]:
        return self.spec.parameters

    @property
    def schema(self) -> dict[str, Any]:
        """The OpenAI tool dict sent with a chat request."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.spec.parameters,
                "strict": self.spec.strict,
            },
        }

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)

    def validate(self, arguments: dict[str, Any] | str | None) -> dict[str, Any]:
        """Keyword arguments for the function, validated and with defaults filled."""
        if arguments is None or arguments == "":
            arguments = {}
        if isinstance(arguments, (str, bytes)):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError as exc:
                raise ToolArgumentError(
                    f"Arguments for '{self.name}' are not valid JSON ({exc.msg} at line {exc.lineno}, "
                    f"column {exc.colno}). Send one JSON object with the parameters {self._param_list()}.",
                    [f"arguments: not valid JSON ({exc.msg})"],
                ) from None
            except (ValueError, RecursionError) as exc:  # bytes not UTF-8, a number too long, nesting too deep
                why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(":")[0]
                raise ToolArgumentError(
                    f"Arguments for '{self.name}' are not valid JSON ({why}). "
                    f"Send one JSON object with the parameters {self._param_list()}.",
                    [f"arguments: not valid JSON ({why})"],
                ) from None
        check_text(self.name, arguments)
        if not isinstance(arguments, dict):
            raise ToolArgumentError(
                f"Arguments for '{self.name}' must be a JSON object with the parameters {self._param_list()}, "
                f"not {type(arguments).__name__}.",
                ["arguments: not a JSON object"],
            )
        try:
            if self.spec.strict:
                loose = self.spec.loose_parameters
                arguments = drop_forced_nulls(arguments, loose, loose.get("$defs", {}))
            validated = self.spec.args_model.model_validate(arguments)
        except ValidationError as exc:
            problems = [self._describe_error(err) for err in exc.errors()]
            raise ToolArgumentError(
                f"Invalid arguments for '{self.name}':\n" + "\n".join(f"- {p}" for p in problems)
                + "\nFix these fields and call the tool again.",
                problems,
            ) from None
        except RecursionError:
            raise ToolArgumentError(
                f"Arguments for '{self.name}' are nested too deeply to check. Send flatter values.",
                ["arguments: nested too deeply"],
            ) from None
        return {param: getattr(validated, fname) for param, fname in self.spec.field_names.items()}

    def call(self, arguments: dict[str, Any] | str | None = None) -> Any:
        """Validate the model's arguments (dict or JSON string) and call the function.

        An `async def` tool is awaited and a generator drained into a list, so the caller gets values.
        """
        return complete(self.function(**self.validate(arguments)))

    def _param_list(self) -> str:
        return ", ".join(self.spec.field_names) or "(none)"

    def _describe_error(self, err: Any) -> str:
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        if err["type"] == "extra_forbidden":
            return f"{where}: unexpected argument; the parameters are {self._param_list()}"
        if err["type"] == "missing":
            return f"{where}: required argument is missing"
        got = err.get("input")
        try:
            shown = json.dumps(got, default=repr)[:80] if got is not None else "null"
        except (ValueError, RecursionError):  # NaN is fine; a value nested past the recursion limit is not
            shown = reprlib.repr(got)[:80]
        return f"{where}: {err['msg']} (got {shown})"
