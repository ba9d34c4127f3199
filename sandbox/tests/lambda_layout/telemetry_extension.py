#!/usr/bin/env python3
"""A Telemetry API subscriber in the layout the AWS samples use: a shell
wrapper in /opt/extensions execs this file from /opt/<name>/, and the
listener binds sandbox.localdomain, a name only Lambda's /etc/hosts has.
http.server logs every request it receives, as it does by default. What
the extension sees goes to stdout: the test reads it from the journal.
LISTEN_HOST and LISTEN_PORT move the listener, for the private-network
tests."""
import http.server
import json
import os
import sys
import threading
import time
import urllib.request

NAME = "py-telemetry"
HOST = os.environ.get("LISTEN_HOST", "sandbox.localdomain")
PORT = int(os.environ.get("LISTEN_PORT", "4243"))
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]


class Batches(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        batch = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        for record in batch:
            print(f"[{NAME}] record {record['type']}", flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def call(method, path, headers, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(API + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request) as response:
        return response.headers, json.loads(response.read() or b"null")


server = http.server.ThreadingHTTPServer((HOST, PORT), Batches)
threading.Thread(target=server.serve_forever, daemon=True).start()

headers, _ = call("POST", "/2020-01-01/extension/register",
                  {"Lambda-Extension-Name": NAME}, {"events": ["INVOKE", "SHUTDOWN"]})
identifier = {"Lambda-Extension-Identifier": headers["Lambda-Extension-Identifier"]}
call("PUT", "/2022-07-01/telemetry", identifier, {
    "schemaVersion": "2022-12-13",
    "types": ["platform", "function", "extension"],
    "buffering": {"timeoutMs": 25, "maxBytes": 262144, "maxItems": 1000},
    "destination": {"protocol": "HTTP", "URI": f"http://sandbox.localdomain:{PORT}"},
})
while True:
    _, event = call("GET", "/2020-01-01/extension/event/next", identifier)
    if event["eventType"] == "SHUTDOWN":
        print(f"[{NAME}] SHUTDOWN at {int(time.time() * 1000)}", flush=True)
        sys.exit(0)
