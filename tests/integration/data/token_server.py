"""A token server for Debian's docker-registry (distribution's "token" auth), for pyruntime-cri's tests.

    python3 token_server.py ADDRESS PORT KEY.pem CERT.pem SERVICE USER:PASSWORD

GET /token?service=...&scope=repository:NAME:ACTIONS with Basic auth USER:PASSWORD answers
{"token": JWT}: RS256-signed (by `openssl dgst`, the standard library has no RSA) with KEY,
CERT in its x5c header (the registry trusts it through its rootcertbundle), granting the
scope's actions. Any other credentials get 401, as a real token server answers.
"""
import base64
import http.server
import json
import os
import subprocess
import sys
import time
import urllib.parse

ADDRESS, PORT, KEY, CERT, SERVICE, CREDENTIALS = sys.argv[1], int(sys.argv[2]), *sys.argv[3:7]
ISSUER = "pyruntime-test-issuer"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def certificate_der() -> bytes:
    return subprocess.run(["openssl", "x509", "-in", CERT, "-outform", "DER"], capture_output=True,
                          check=True).stdout


def token(scope: str) -> str:
    header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(certificate_der()).decode()]}
    access = []
    if scope.startswith("repository:"):
        _, name, actions = scope.split(":", 2)
        access.append({"type": "repository", "name": name, "actions": actions.split(",")})
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": CREDENTIALS.split(":")[0], "aud": SERVICE, "exp": now + 300, "nbf": now - 10,
              "iat": now, "jti": b64url(os.urandom(12)), "access": access}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY], input=signing_input.encode(),
                               capture_output=True, check=True).stdout
    return f"{signing_input}.{b64url(signature)}"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        wanted = "Basic " + base64.b64encode(CREDENTIALS.encode()).decode()
        if url.path != "/token" or self.headers.get("Authorization") != wanted:
            return self.answer(401, b'{"details": "incorrect username or password"}')
        self.answer(200, json.dumps({"token": token(query.get("scope", ""))}).encode())

    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer((ADDRESS, PORT), Handler).serve_forever()
