"""A local HTTP server answering the Argo Server's create-workflow call, for the CLI tests (the Argo controller and
server cannot run here): it records each request and answers with the workflow named <generateName><suffix>."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer


class AcceptingArgoServer(BaseHTTPRequestHandler):
    received: list[dict] = []
    name_suffix = "abc12"

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        workflow = body["workflow"]
        workflow["metadata"]["name"] = workflow["metadata"]["generateName"] + self.name_suffix
        self.answer(200, workflow)

    def answer(self, status: int, document: dict) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None) -> Iterator[int]:
    """Run `handler` on a free local port in a thread; yields the port."""
    server = HTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
