"""A real llama.cpp OpenAI-compatible server on 127.0.0.1, and a fault-injecting proxy before it.

The proxy forwards each POST to the server unless its script says otherwise: it can drop the
connection, answer 500 or 429 with Retry-After, stall past the client's timeout, or send
malformed JSON. It records what it saw (requests, Authorization headers, peak concurrency).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LlamaServer:
    """``python -m llama_cpp.server`` serving a GGUF file as model 'gemma'; restartable on its port."""

    def __init__(self, model: Path, log: Path, port: int | None = None, extra: list[str] | None = None):
        self.model, self.log, self.port = model, log, port or free_port()
        self.extra = list(extra or [])
        self.process: subprocess.Popen | None = None
        self._ending = False  # stop() or kill() was called: an exit now is no death

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, wait: float = 120) -> LlamaServer:
        self._ending = False
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model), "--host", "127.0.0.1",
                 "--port", str(self.port), "--n_ctx", "2048", "--n_threads", "1", "--model_alias", "gemma",
                 *self.extra],
                stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/models", timeout=2) as response:
                    json.loads(response.read())
                    return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"llama.cpp server exited: {self.log.read_text()[-2000:]}") from None
                time.sleep(0.25)
        raise RuntimeError(f"llama.cpp server did not start in {wait} s")

    def died(self) -> int | None:
        """The exit code of a server that ended without being stopped (a segfault: -11), else None."""
        code = self.process.poll() if self.process else None
        return None if self._ending else code

    def kill(self) -> None:
        self._ending = True
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        self._ending = True
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


FAULTS = ("ok", "drop", "500", "429", "stall", "malformed", "401-echo")


class FaultProxy:
    """A threaded HTTP proxy on 127.0.0.1 whose next answers follow ``script``.

    ``script`` is a list of fault names taken one per request (then ``default`` for the rest).
    ``delay`` holds every forwarded request that long (to observe concurrency). With ``server``,
    a request after that server died is answered 400 at once with its exit code, so a client
    fails now instead of retrying against a dead port for minutes (``record`` False: nothing
    kept of the requests, for a proxy that serves a whole test session).
    """

    def __init__(self, upstream: str, *, retry_after: float = 1.0, stall: float = 5.0, delay: float = 0.0,
                 server: LlamaServer | None = None, record: bool = True):
        self.upstream = upstream.rstrip("/")
        self.watched, self.record = server, record
        self.retry_after, self.stall, self.delay = retry_after, stall, delay
        self.script: list[str] = []
        self.default = "ok"
        self.seen: list[dict] = []  # one entry per request: fault applied, time, authorization
        self.in_flight = self.peak = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                proxy._forward(self, b"")

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                proxy._handle(self, self.rfile.read(length))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for entry in self.seen:
            out[entry["fault"]] = out.get(entry["fault"], 0) + 1
        return out

    def _next_fault(self) -> str:
        with self._lock:
            return self.script.pop(0) if self.script else self.default

    def _handle(self, handler, body: bytes) -> None:
        fault = self._next_fault()
        with self._lock:
            if self.record:
                self.seen.append({"fault": fault, "time": time.monotonic(),
                                  "authorization": handler.headers.get("Authorization"), "body": body})
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            if fault == "drop":
                handler.close_connection = True
                handler.connection.shutdown(socket.SHUT_RDWR)
            elif fault in ("500", "429", "401-echo"):
                code = {"500": 500, "429": 429, "401-echo": 401}[fault]
                auth = handler.headers.get("Authorization") or ""
                text = f"invalid key {auth}" if fault == "401-echo" else "busy"
                self._reply(handler, code, text.encode(), {"Retry-After": f"{self.retry_after:g}"} if code == 429 else {})
            elif fault == "stall":
                time.sleep(self.stall)
                handler.close_connection = True
                handler.connection.shutdown(socket.SHUT_RDWR)
            elif fault == "malformed":
                self._reply(handler, 200, b'{"choices": [{"logprobs": ', {"Content-Type": "application/json"})
            else:
                time.sleep(self.delay)
                self._forward(handler, body)
        except OSError:
            pass
        finally:
            with self._lock:
                self.in_flight -= 1

    def _forward(self, handler, body: bytes) -> None:
        if self.watched is not None and (code := self.watched.died()) is not None:
            self._reply(handler, 400, f"the llama.cpp server died (exit code {code}); see {self.watched.log}".encode(), {})
            return
        request = urllib.request.Request(self.upstream + handler.path.removeprefix("/v1"), data=body or None,
                                         method=handler.command,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                self._reply(handler, response.status, response.read(), {"Content-Type": "application/json"})
        except urllib.error.HTTPError as exc:
            self._reply(handler, exc.code, exc.read(), {})
        except OSError:  # the server is down: the client sees a dropped connection
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _reply(handler, code: int, payload: bytes, headers: dict) -> None:
        handler.send_response(code)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
