// An answer given before the request body was read reaches the client. Over
// the stack's gateway (its own process, as on the platform): a client still
// sending a body larger than the socket buffers, early answers of every kind,
// and keep-alive connections reused across requests. In process: the body an
// app does read passes through whole.
import assert from "node:assert/strict";
import { drainingUnreadBody } from "../../shared/http/drain.ts";
import { MAX_BODY_BYTES } from "../../shared/http/limits.ts";
import { createUser, FUNCTIONS_URL, recordErrorResponse, test } from "../helpers/stack.ts";

const user = await createUser("drain");

type Early = { name: string; method: string; path: string; size: number; status: number };
const early: Early[] = [
  { name: "the gateway's 404", method: "POST", path: "/nowhere", size: 300_000, status: 404 },
  {
    name: "a route without a body",
    method: "POST",
    path: "/tokens/refresh-due",
    size: 300_000,
    status: 403,
  },
  {
    name: "a bad path parameter",
    method: "PATCH",
    path: "/sessions/not-a-uuid",
    size: 300_000,
    status: 400,
  },
  {
    name: "a body over the limit",
    method: "POST",
    path: "/sessions",
    size: MAX_BODY_BYTES + 100_000,
    status: 413,
  },
];

for (const e of early) {
  test(`an early answer reaches a client still sending its body: ${e.name}`, async () => {
    const body = JSON.stringify({ title: "x".repeat(e.size) });
    // Rounds in parallel, so pooled connections are reused too.
    for (let round = 0; round < 3; round++) {
      await Promise.all([0, 1, 2].map(async () => {
        const res = await fetch(`${FUNCTIONS_URL}${e.path}`, {
          method: e.method,
          headers: { Authorization: `Bearer ${user.token}`, "Content-Type": "application/json" },
          body,
        });
        const text = await res.text();
        recordErrorResponse(res.status, text);
        assert.equal(res.status, e.status, text);
        assert.equal(typeof JSON.parse(text).error.code, "string");
      }));
    }
  });
}

test("an early answer reaches a client streaming a body over the limit", async () => {
  // No Content-Length: the body limit reads 1 MiB, answers, and the rest is drained.
  const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
  for (let i = 0; i < 3; i++) {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 24) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(`${FUNCTIONS_URL}/sessions`, {
      method: "POST",
      headers: { Authorization: `Bearer ${user.token}`, "Content-Type": "application/json" },
      body,
    });
    const text = await res.text();
    recordErrorResponse(res.status, text);
    assert.equal(res.status, 413, text);
    assert.equal(JSON.parse(text).error.code, "payload_too_large");
  }
});

test("a body the app reads arrives whole; method, headers and url are kept", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    drainingUnreadBody(async (req) => {
      const text = await req.text();
      return Response.json({
        method: req.method,
        url: req.url,
        type: req.headers.get("content-type"),
        length: text.length,
        tail: text.slice(-3),
      });
    }),
  );
  try {
    const url = `http://127.0.0.1:${server.addr.port}/p?q=1`;
    const body = "a".repeat(300_000) + "end";
    const res = await fetch(url, {
      method: "PATCH",
      headers: { "Content-Type": "text/plain" },
      body,
    });
    assert.deepEqual(await res.json(), {
      method: "PATCH",
      url,
      type: "text/plain",
      length: body.length,
      tail: "end",
    });
  } finally {
    await server.shutdown();
  }
});
