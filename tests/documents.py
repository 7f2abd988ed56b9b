"""A real HTTP server on loopback that serves JSON documents (a provider's keys, a client's
jwks_uri): tests change what it serves, see how often it was asked, and stop it for an outage."""

import http.server
import json
import threading
import time


class DocumentServer:
    """`documents[path] = (body bytes, extra headers)`; `requests[path]` counts the GETs;
    `drip[path] = seconds` sends that body a byte at a time, waiting this long between bytes."""

    def __init__(self) -> None:
        self.documents: dict[str, tuple[bytes, dict]] = {}
        self.requests: dict[str, int] = {}
        self.drip: dict[str, float] = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests[self.path] = server.requests.get(self.path, 0) + 1
                if self.path not in server.documents:
                    self.send_error(404)
                    return
                body, headers = server.documents[self.path]
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                pause = server.drip.get(self.path)
                if pause is None:
                    self.wfile.write(body)
                    return
                for index in range(len(body)):
                    self.wfile.write(body[index : index + 1])
                    self.wfile.flush()
                    time.sleep(pause)

            def log_message(self, *args):
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def serve_json(self, path: str, document: object) -> str:
        """Serve `document` at `path`; return its URL."""
        self.documents[path] = (json.dumps(document).encode(), {})
        return self.url + path

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
