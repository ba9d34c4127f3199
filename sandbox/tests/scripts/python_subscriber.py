#!/usr/bin/env python3
"""A Logs or Telemetry API subscriber written with Python's standard library
only, as an extension in another language would be. Environment:
STREAM_API (logs|telemetry), PROTOCOL (HTTP|TCP), OUT (received records
are appended to it as NDJSON), FAIL_FIRST (answer 500 to that many batches),
DELAY_MS (time spent on each batch), DEST_PORT (subscribe with a listener
on that port instead of its own), CHATTY (log every request it receives,
as http.server does by default), TYPES (what to subscribe to, default
platform,function)."""
import http.server
import json
import os
import socketserver
import threading
import time
import urllib.request

API = os.environ.get("STREAM_API", "telemetry")
PROTOCOL = os.environ.get("PROTOCOL", "HTTP")
OUT = os.environ["OUT"]
DELAY = int(os.environ.get("DELAY_MS", "0")) / 1000
failures_left = int(os.environ.get("FAIL_FIRST", "0"))
lock = threading.Lock()
RUNTIME_API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]
NAME = os.path.basename(__file__)


def save(records):
    with lock, open(OUT, "a") as out:
        for record in records:
            out.write(json.dumps(record) + "\n")


class Batches(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global failures_left
        body = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(DELAY)
        with lock:
            fail = failures_left > 0
            failures_left -= fail
        if fail:
            self.send_response(500)
        else:
            save(json.loads(body))
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        if os.environ.get("CHATTY"):
            super().log_message(*args)


last_line = [time.monotonic()]


class Lines(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            save([json.loads(line)])
            last_line[0] = time.monotonic()


def drain_tcp():
    """TCP has no answer to say a batch arrived: before exiting, read until
    the stream has been quiet for 50 ms (at most one second)."""
    start = time.monotonic()
    deadline = start + 1
    while time.monotonic() < deadline and time.monotonic() - max(last_line[0], start) < 0.05:
        time.sleep(0.01)


def call(method, path, body=None, headers=None):
    request = urllib.request.Request(RUNTIME_API + path, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(request) as response:
        return response.headers, response.read()


headers, _ = call("POST", "/2020-01-01/extension/register", json.dumps({"events": ["INVOKE", "SHUTDOWN"]}).encode(),
                  {"Lambda-Extension-Name": NAME})
identifier = headers["Lambda-Extension-Identifier"]

if os.environ.get("DEST_PORT"):
    PORT = int(os.environ["DEST_PORT"])
else:
    server_class = socketserver.ThreadingTCPServer if PROTOCOL == "TCP" else http.server.ThreadingHTTPServer
    server_class.allow_reuse_address = True
    # Any free port: the subscription tells the platform which one.
    server = server_class(("127.0.0.1", 0), Lines if PROTOCOL == "TCP" else Batches)
    PORT = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()

scheme = "tcp" if PROTOCOL == "TCP" else "http"
subscription = {
    "types": os.environ.get("TYPES", "platform,function").split(","),
    "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
    "destination": {"protocol": PROTOCOL, "URI": f"{scheme}://sandbox.localdomain:{PORT}"},
}
if API == "telemetry":
    subscription["schemaVersion"] = "2022-12-13"
    path = "/2022-07-01/telemetry"
else:
    subscription["schemaVersion"] = "2021-03-18"
    path = "/2020-08-15/logs"
call("PUT", path, json.dumps(subscription).encode(),
     {"Lambda-Extension-Identifier": identifier, "Content-Type": "application/json"})

while True:
    _, event = call("GET", "/2020-01-01/extension/event/next", headers={"Lambda-Extension-Identifier": identifier})
    if json.loads(event)["eventType"] == "SHUTDOWN":
        if PROTOCOL == "TCP":
            drain_tcp()
        os._exit(0)
