"""The app's Flask and request classes answer as Flask's own do, with less work per request."""

from __future__ import annotations

import gc
import weakref

import pytest
from flask import Flask
from werkzeug.exceptions import BadRequestKeyError

from madoguchi import web_app
from madoguchi.web_app import FormValues, MadoguchiFlask


def form(*pairs: tuple[str, str]) -> FormValues:
    """Form values as Werkzeug parses them (repeated fields kept in order)."""
    return FormValues(list(pairs))


class TestFormValues:
    def test_a_present_field_gives_its_first_value(self):
        values = form(("Digits", "1"), ("Digits", "2"))
        assert values.get("Digits") == "1"
        assert values["Digits"] == "1"
        assert values.getlist("Digits") == ["1", "2"]

    def test_an_absent_field_gives_the_default(self):
        values = form(("CallSid", "CA1"))
        assert values.get("Digits") is None
        assert values.get("Digits", "") == ""

    def test_an_empty_value_is_a_value_not_an_absence(self):
        assert form(("Digits", "")).get("Digits", "none") == ""

    def test_a_conversion_gives_the_converted_value_or_the_default(self):
        values = form(("SequenceNumber", "7"), ("CallDuration", "x"))
        assert values.get("SequenceNumber", type=int) == 7
        assert values.get("CallDuration", -1, type=int) == -1
        assert values.get("Missing", -1, type=int) == -1

    def test_an_absent_field_builds_no_http_exception(self, monkeypatch):
        built = []
        real = BadRequestKeyError.__init__

        def counting(self, *args, **kwargs):
            built.append(args)
            real(self, *args, **kwargs)

        monkeypatch.setattr(BadRequestKeyError, "__init__", counting)
        values = form(("CallSid", "CA1"))
        for name in ("Digits", "SpeechResult", "FinishedOnKey"):
            assert values.get(name) is None
        assert built == []

    def test_subscripting_an_absent_field_still_raises_as_before(self):
        with pytest.raises(KeyError):
            form()["Digits"]


class TestRequests:
    def test_a_webhook_reads_its_form_through_form_values(self):
        app = MadoguchiFlask(__name__)
        seen = {}

        @app.post("/hook")
        def hook():
            from flask import request

            seen["type"] = type(request.form)
            seen["digits"] = request.form.get("Digits")
            seen["speech"] = request.form.get("SpeechResult", "none")
            seen["lang"] = request.args.get("l")
            return "ok"

        answer = app.test_client().post("/hook?l=ja", data={"Digits": "3"})
        assert answer.status_code == 200
        assert seen == {"type": FormValues, "digits": "3", "speech": "none", "lang": "ja"}


class TestEnsureSync:
    def test_a_static_method_and_its_function_are_told_apart(self, monkeypatch):
        app = MadoguchiFlask(__name__)
        monkeypatch.setattr(app, "async_to_sync", lambda func: "synced")

        async def view():
            return "ok"

        wrapped = staticmethod(view)
        assert app.ensure_sync(wrapped) == Flask.ensure_sync(app, wrapped)  # as Flask decides
        assert app.ensure_sync(view) == "synced"  # not taken for the static method's answer

    def test_a_plain_function_is_returned_as_it_is(self):
        app = MadoguchiFlask(__name__)

        def view():
            return "ok"

        assert app.ensure_sync(view) is view

    def test_a_coroutine_function_is_still_run_to_completion(self, monkeypatch):
        app = MadoguchiFlask(__name__)
        wrapped = []
        monkeypatch.setattr(app, "async_to_sync", lambda func: wrapped.append(func) or "synced")

        async def view():
            return "ok"

        assert app.ensure_sync(view) == "synced"
        assert app.ensure_sync(view) == "synced"  # remembered as a coroutine function too
        assert wrapped == [view, view]

    def test_each_function_is_inspected_once(self, monkeypatch):
        app = MadoguchiFlask(__name__)
        inspected = []
        real = web_app.iscoroutinefunction
        monkeypatch.setattr(web_app, "iscoroutinefunction",
                            lambda func: inspected.append(func) or real(func))

        class Hooks:
            def after(self, response):
                return response

        hooks = Hooks()
        for _ in range(3):
            app.ensure_sync(hooks.after)  # a new bound method each time, as Flask gets them
        assert len(inspected) == 1

    def test_a_function_made_for_one_request_is_not_kept_alive(self):
        app = MadoguchiFlask(__name__)

        def made_for_one_request(response):
            return response

        app.ensure_sync(made_for_one_request)
        gone = weakref.ref(made_for_one_request)
        del made_for_one_request
        gc.collect()
        assert gone() is None

    def test_the_app_answers_through_its_hooks_on_every_request(self):
        app = MadoguchiFlask(__name__)
        calls = []

        @app.before_request
        def before():
            calls.append("before")

        @app.after_request
        def after(response):
            calls.append("after")
            return response

        @app.get("/")
        def index():
            return "ok"

        client = app.test_client()
        assert [client.get("/").status_code for _ in range(2)] == [200, 200]
        assert calls == ["before", "after", "before", "after"]
