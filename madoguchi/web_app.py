"""The Flask app and request classes: Flask's own, minus work a webhook pays for on every request.

Every voice webhook reads a dozen form fields that Twilio sends only sometimes (Digits,
SpeechResult, FinishedOnKey, …). Werkzeug's `MultiDict.get` finds a missing key by building a
`BadRequestKeyError` (an HTTP exception object) and catching it; and Flask asks `inspect`
whether each hook and view is a coroutine function on every request. Neither changes what an
answer is: a missing field is still None, a coroutine view is still run to completion.
"""

from __future__ import annotations

import contextlib
import types
import weakref
from collections.abc import Callable
from inspect import iscoroutinefunction
from typing import Any

from flask import Flask, Request
from werkzeug.datastructures import ImmutableMultiDict


class FormValues(ImmutableMultiDict):
    """A request's form or query values; `get` of an absent key returns its default directly."""

    def get(self, key: Any, default: Any = None, type: Callable[[Any], Any] | None = None) -> Any:
        """The first value for key, converted by type (the default when absent or unconvertible)."""
        values = dict.get(self, key)
        if not values:
            return default
        if type is None:
            return values[0]
        try:
            return type(values[0])
        except (ValueError, TypeError):
            return default


class MadoguchiRequest(Request):
    """Flask's request, with form and query values in FormValues."""

    parameter_storage_class = FormValues


class MadoguchiFlask(Flask):
    """Flask, with requests as MadoguchiRequest and each function's kind checked once."""

    request_class = MadoguchiRequest

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Weak keys: a function made for one request (after_this_request) is not kept alive.
        self._plain_functions: weakref.WeakKeyDictionary[Any, bool] = (
            weakref.WeakKeyDictionary())

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask's ensure_sync, with whether a function is a coroutine function remembered."""
        # A bound method is of its function's kind (and a new object each time Flask gets it).
        target = func.__func__ if isinstance(func, types.MethodType) else func
        try:
            plain = self._plain_functions[target]
        except (KeyError, TypeError):
            plain = not iscoroutinefunction(func)
            with contextlib.suppress(TypeError):  # not weakly referenceable: asked each time
                self._plain_functions[target] = plain
        return func if plain else self.async_to_sync(func)
