// Every answer of every function says `X-Content-Type-Options: nosniff`, so no
// browser second-guesses a content type (an error envelope or a JSON field
// rendered as HTML). Walked over each function's own routes: health, the
// document, the docs page, a miss (404), a wrong method (405), a preflight,
// every documented operation without credentials, a body over the limit, and
// the chat stream.
import assert from "node:assert/strict";
import { Session } from "../../shared/sessions/schemas.ts";
import { parsed } from "../helpers/assert.ts";
import { operations } from "../helpers/openapi.ts";
import { API_URL, call, createUser, FUNCTIONS_URL, test } from "../helpers/stack.ts";

const { functions } = await (await fetch(`${API_URL}/health`)).json() as { functions: string[] };

async function headerOf(method: string, path: string, init: RequestInit = {}) {
  const res = await fetch(`${FUNCTIONS_URL}${path}`, { method, ...init });
  await res.body?.cancel();
  return { status: res.status, nosniff: res.headers.get("x-content-type-options") };
}

test("every function answers nosniff: health, document, docs, 404, 405, preflight, 413", async () => {
  assert.ok(functions.length >= 5, functions.join(","));
  const missing: string[] = [];
  for (const fn of functions) {
    const probes: [string, string, RequestInit?][] = [
      ["GET", `/${fn}/health`],
      ["GET", `/${fn}/openapi.json`],
      ["GET", `/${fn}/docs`],
      ["GET", `/${fn}/no/such/route/here`],
      ["PUT", `/${fn}/health`],
      ["OPTIONS", `/${fn}/health`, {
        headers: { Origin: "http://localhost:3000", "Access-Control-Request-Method": "GET" },
      }],
      ["POST", `/${fn}/anything`, {
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ pad: "x".repeat(1_100_000) }),
      }],
    ];
    const statuses = new Set<number>();
    for (const [method, path, init] of probes) {
      const { status, nosniff } = await headerOf(method, path, init);
      statuses.add(status);
      if (nosniff !== "nosniff") missing.push(`${method} ${path} -> ${status}`);
    }
    assert.ok([200, 204, 404, 405, 413].every((s) => statuses.has(s)), `${fn}: ${[...statuses]}`);
  }
  assert.deepEqual(missing, []);
});

test("every documented operation answers nosniff, refused or not", async () => {
  const missing: string[] = [];
  let count = 0;
  for (const fn of functions) {
    for (const op of await operations(fn)) {
      const path = op.path.replace(/\{[^}]+\}/g, crypto.randomUUID());
      const { status, nosniff } = await headerOf(op.method, path, {
        headers: { "Content-Type": "application/json" },
        body: op.hasBody ? "{}" : undefined,
      });
      count++;
      if (nosniff !== "nosniff") missing.push(`${op.method} ${op.path} -> ${status}`);
    }
  }
  assert.ok(count >= 16, `${count} operations`);
  assert.deepEqual(missing, []);
});

test("signed-in answers, validation errors and the chat stream answer nosniff", async () => {
  const user = await createUser("nosniff");
  const auth = { Authorization: `Bearer ${user.token}` };
  const session = await call("POST", "/sessions", { token: user.token, body: {} });
  parsed(Session, session, 201);
  assert.equal(session.headers.get("x-content-type-options"), "nosniff");
  const invalid = await call("POST", "/sessions", { token: user.token, body: { title: 5 } });
  assert.equal(invalid.status, 400);
  assert.equal(invalid.headers.get("x-content-type-options"), "nosniff");
  const stream = await fetch(`${FUNCTIONS_URL}/chat/${session.body.id}/messages`, {
    method: "POST",
    headers: { ...auth, "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify({ content: "hello" }),
  });
  const events = await stream.text();
  assert.equal(stream.status, 200);
  assert.match(stream.headers.get("content-type") ?? "", /text\/event-stream/);
  assert.match(events, /message\.completed/);
  assert.equal(stream.headers.get("x-content-type-options"), "nosniff");
});
