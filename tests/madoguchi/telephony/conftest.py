"""A real HTTP server on loopback serving hand-written TwiML, checking Twilio's signature."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from madoguchi.telephony.engine import CallEngine
from madoguchi.telephony.network import SimulatedNetwork

AUTH_TOKEN = "tel-test-auth-token"
Handler = Callable[[dict[str, str]], str]


@dataclass
class Received:
    """One webhook the test server received."""

    path: str
    method: str
    params: dict[str, str]
    signed: bool


@dataclass
class TwimlServer:
    """Routes registered by a test: path -> TwiML text or a function of the form params."""

    base_url: str = ""
    routes: dict[str, Handler | str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    content_type: str = "text/xml"

    def serve(self, path: str, document: Handler | str) -> str:
        """Serve a document at path; returns its full URL."""
        self.routes[path] = document
        return self.base_url + path

    def url(self, path: str) -> str:
        """The full URL of a path on this server."""
        return self.base_url + path

    def paths(self) -> list[str]:
        """The paths requested so far, in order."""
        return [item.path for item in self.received]


def _make_app(server: TwimlServer) -> Flask:
    app = Flask("twiml-test-server")
    validator = RequestValidator(AUTH_TOKEN)

    @app.route("/<path:path>", methods=["GET", "POST"])
    def twiml(path: str):
        params = request.form.to_dict() if request.method == "POST" else request.args.to_dict()
        signature = request.headers.get("X-Twilio-Signature", "")
        signed = validator.validate(
            request.url, request.form.to_dict() if request.method == "POST" else {}, signature
        )
        server.received.append(Received("/" + path, request.method, params, signed))
        if not signed:
            return Response("bad signature", status=403)
        handler = server.routes.get("/" + path)
        if handler is None:
            return Response("not found", status=404)
        body = handler(params) if callable(handler) else handler
        return Response(body, content_type=server.content_type)

    return app


@pytest.fixture
def twiml_server() -> Iterator[TwimlServer]:
    """A TwiML server on a free loopback port, running in a thread for one test."""
    server = TwimlServer()
    http = make_server("127.0.0.1", 0, _make_app(server), threaded=True)
    server.base_url = f"http://127.0.0.1:{http.server_port}"
    thread = threading.Thread(target=http.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        http.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def network(redis_client) -> SimulatedNetwork:
    """The simulated network's ledger on the test Redis (flushed around each test)."""
    return SimulatedNetwork(redis_client)


@pytest.fixture
def call_engine(network) -> CallEngine:
    """An engine on a virtual clock and the test network, signing with the test token."""
    return CallEngine(AUTH_TOKEN, network=network)
