"""Serve a WSGI app on a free loopback port in a background thread, for tests over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import WSGIRequestHandler, make_server


class _Unlogged(WSGIRequestHandler):
    """No access line a request: a slow fake may answer after its test, when pytest has closed the
    stream werkzeug's logger first wrote to ("--- Logging error ---" in the run's output)."""

    def log_request(self, *args, **kwargs) -> None:
        pass


@contextmanager
def serve(app, host: str = "127.0.0.1") -> Iterator[str]:
    """Yield the base URL (`http://127.0.0.1:PORT`) while `app` is served; stop it afterwards."""
    server = make_server(host, 0, app, threaded=True, request_handler=_Unlogged)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
