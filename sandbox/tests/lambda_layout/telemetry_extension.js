// The same subscriber in Node, laid out the same way: the wrapper in
// /opt/extensions runs `node /opt/node-telemetry/index.js`. It logs every
// request with console.log, as small Node listeners often do.
const http = require("node:http");

const NAME = "node-telemetry";
const PORT = 4244;
const API = `http://${process.env.AWS_LAMBDA_RUNTIME_API}`;

async function call(method, path, headers, body) {
  const response = await fetch(API + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { headers: response.headers, body: text ? JSON.parse(text) : null };
}

const server = http.createServer((request, response) => {
  console.log(`${request.method} ${request.url}`);
  let body = "";
  request.on("data", (chunk) => (body += chunk));
  request.on("end", () => {
    for (const record of JSON.parse(body)) {
      console.log(`[${NAME}] record ${record.type}`);
    }
    response.writeHead(200, { "Content-Length": "0" }).end();
  });
});

server.listen(PORT, "sandbox.localdomain", async () => {
  const registered = await call(
    "POST",
    "/2020-01-01/extension/register",
    { "Lambda-Extension-Name": NAME },
    { events: ["INVOKE", "SHUTDOWN"] },
  );
  const identifier = {
    "Lambda-Extension-Identifier": registered.headers.get("lambda-extension-identifier"),
  };
  await call("PUT", "/2022-07-01/telemetry", identifier, {
    schemaVersion: "2022-12-13",
    types: ["platform", "function", "extension"],
    buffering: { timeoutMs: 25, maxBytes: 262144, maxItems: 1000 },
    destination: { protocol: "HTTP", URI: `http://sandbox.localdomain:${PORT}` },
  });
  for (;;) {
    const event = (await call("GET", "/2020-01-01/extension/event/next", identifier)).body;
    if (event.eventType === "SHUTDOWN") {
      console.log(`[${NAME}] SHUTDOWN at ${Date.now()}`);
      process.exit(0);
    }
  }
});
