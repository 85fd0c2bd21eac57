"""The launcher's web server (the standard library's http.server): the page's files, the servers it may use
(`GET /servers`), and `POST /predict/<server>`, passed on by alphanet.demo.backends.

Only the request line of each request is logged (http.server's default), never its headers: the inference key
the page sends in `Authorization` appears nowhere.
"""
import json
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PAGE_FOLDER = Path(__file__).parent
PAGE_FILES = {
    "/": ("page.html", "text/html; charset=utf-8"),
    "/page.css": ("page.css", "text/css; charset=utf-8"),
    "/page.js": ("page.js", "text/javascript; charset=utf-8"),
}
PREDICT = "/predict/"


class DemoServer(ThreadingHTTPServer):
    """The page on `address`; `backends` maps each server's name, as the page sends it, to a
    backends.TorchServe or backends.Triton."""
    daemon_threads = True  # a request still waiting for the model does not hold up Ctrl-C

    def __init__(self, address: tuple, backends: dict):
        super().__init__(address, DemoRequestHandler)
        self.backends = backends


class DemoRequestHandler(BaseHTTPRequestHandler):
    server: DemoServer

    def do_GET(self):
        if self.path == "/servers":
            servers = [{"name": name, "label": backend.label} for name, backend in self.server.backends.items()]
            self.answer(HTTPStatus.OK, "application/json", json.dumps(servers).encode())
        elif self.path in PAGE_FILES:
            name, content_type = PAGE_FILES[self.path]
            self.answer(HTTPStatus.OK, content_type, (PAGE_FOLDER / name).read_bytes())
        else:
            self.send_error(HTTPStatus.NOT_FOUND)

    def do_POST(self):
        backend = self.server.backends.get(self.path.removeprefix(PREDICT))
        if not self.path.startswith(PREDICT) or backend is None:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        form = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        reply = backend.forward(form, self.headers.get("Content-Type", ""), self.headers.get("Authorization"))
        self.answer(reply.status, reply.content_type, reply.body)

    def answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")  # a changed page shows at the next reload
        self.end_headers()
        self.wfile.write(body)
