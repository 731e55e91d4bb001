"""A registry that misbehaves on purpose, for pyruntime-cri's image tests.

    python3 fake_registry.py ADDRESS PORT ROUTES.json

Every request's path is appended to ROUTES.log. ROUTES maps a path (/v2/<name>/manifests/<ref>, /v2/<name>/blobs/<digest>, /token) to
{"status", "headers", "body" (a file), "hang" (never answer), "auth" ("bearer TOKEN" or
"basic USER:PASS": without it the answer is 401 with the matching challenge), "drop_after" (N:
a request without a Range header gets the whole length announced, N bytes, and a closed
connection), "hold_after" (N: send N bytes, create "<release>.holding", then send the rest
once the file "release" names exists)}. A Range header ("bytes=N-") is answered with 206 and the rest of the body. The
routes file is read at each request, so a test can change the registry's behaviour as it goes.
"""
import base64
import http.server
import json
import os
import re
import sys
import threading
import time

ADDRESS, PORT, ROUTES = sys.argv[1], int(sys.argv[2]), sys.argv[3]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ranged = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        with open(ROUTES + ".log", "a") as log:  # every request, for tests that count them
            log.write(self.path + (f" {ranged.group(0)}" if ranged else "") + "\n")
        with open(ROUTES) as f:
            routes = json.load(f)
        route = routes.get(self.path.split("?")[0])
        if route is None:
            return self.answer(404, {"Content-Type": "application/json"}, b'{"errors":[{"code":"NOT_FOUND"}]}')
        if route.get("hang"):
            threading.Event().wait()
        auth = route.get("auth")
        if auth:
            kind, secret = auth.split(" ", 1)
            given = self.headers.get("Authorization", "")
            wanted = f"Bearer {secret}" if kind == "bearer" else "Basic " + base64.b64encode(secret.encode()).decode()
            if given != wanted:
                challenge = (f'Bearer realm="http://{ADDRESS}:{PORT}/token",service="fake",scope="repository:x:pull"'
                             if kind == "bearer" else 'Basic realm="fake"')
                return self.answer(401, {"WWW-Authenticate": challenge}, b"")
        body = open(route["body"], "rb").read() if route.get("body") else b""
        if ranged:
            start = int(ranged.group(1))
            return self.answer(206, {**route.get("headers", {}),
                                     "Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"}, body[start:])
        self.answer(route.get("status", 200), route.get("headers", {}), body, route.get("drop_after"),
                    route.get("hold_after"), route.get("release"))

    def answer(self, status, headers, body, drop_after=None, hold_after=None, release=None):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if drop_after is not None:
            self.wfile.write(body[:drop_after])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)  # the connection breaks in the middle of the body
            return
        if hold_after is not None:
            self.wfile.write(body[:hold_after])
            self.wfile.flush()
            open(release + ".holding", "w").close()
            while not os.path.exists(release):  # this server's own wait, until the test releases it
                time.sleep(0.02)
            body = body[hold_after:]
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer((ADDRESS, PORT), Handler).serve_forever()
