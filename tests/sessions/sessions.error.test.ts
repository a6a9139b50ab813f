import assert from "node:assert/strict";
import { Session } from "../../shared/sessions/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { call, createUser, FUNCTIONS_URL, test } from "../helpers/stack.ts";

const user = await createUser("errors");
const token = user.token;
const created = await call("POST", "/sessions", {
  token,
  body: { title: "Keep me", context_data: { keep: 1 } },
});
const session = parsed(Session, created, 201);

const badBodies: Array<[string, unknown]> = [
  ["wrong type", { title: 5 }],
  ["extra field", { title: "x", owner: "someone" }],
  ["empty title", { title: "   " }],
  ["title too long", { title: "x".repeat(201) }],
  ["agent_config not an object", { agent_config: [1, 2] }],
  ["agent_type with bad characters", { agent_type: "DROP TABLE;" }],
  ["null title", { title: null }],
  ["body is an array", [{ title: "x" }]],
  ["context_data over 64 KiB", { context_data: { blob: "x".repeat(70_000) } }],
];

for (const [name, body] of badBodies) {
  test(`create rejects ${name} with 400`, async () => {
    assertError(await call("POST", "/sessions", { token, body }), 400, "validation_failed");
  });
}

test("create rejects malformed JSON with 400", async () => {
  const res = await call("POST", "/sessions", {
    token,
    body: '{"title": "x"',
    headers: { "Content-Type": "application/json" },
  });
  assertError(res, 400, "validation_failed");
});

test("create rejects a non-JSON content type with 415", async () => {
  const res = await call("POST", "/sessions", {
    token,
    body: "title=x",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  assertError(res, 415, "unsupported_media_type");
});

test("a body over 1 MiB is 413", async () => {
  const res = await call("POST", "/sessions", {
    token,
    body: JSON.stringify({ title: "x", context_data: { blob: "x".repeat(1024 * 1024) } }),
    headers: { "Content-Type": "application/json" },
  });
  assertError(res, 413, "payload_too_large");
});

const badPatches: Array<[string, unknown]> = [
  ["an empty patch", {}],
  ["status archived (archive has its own route)", { status: "archived" }],
  ["an unknown status", { status: "deleted" }],
  ["a read-only counter", { message_count: 99 }],
  ["user_id", { user_id: crypto.randomUUID() }],
];

for (const [name, body] of badPatches) {
  test(`update rejects ${name} with 400 and changes nothing`, async () => {
    assertError(
      await call("PATCH", `/sessions/${session.id}`, { token, body }),
      400,
      "validation_failed",
    );
    const after = parsed(Session, await call("GET", `/sessions/${session.id}`, { token }));
    assert.equal(after.title, "Keep me");
    assert.deepEqual(after.context_data, { keep: 1 });
    assert.equal(after.status, "active");
  });
}

const badQueries = [
  "?limit=0",
  "?limit=101",
  "?limit=ten",
  "?status=deleted",
  "?include_archived=yes",
  "?cursor=not-a-cursor",
  "?cursor=WyJ4Il0",
];
for (const q of badQueries) {
  test(`list rejects ${q} with 400`, async () => {
    assertError(await call("GET", `/sessions${q}`, { token }), 400, "validation_failed");
  });
}

test("messages reject a bad cursor and a bad order with 400", async () => {
  for (const q of ["?cursor=%%%", "?order=sideways", "?cursor=WyJ4Il0"]) {
    assertError(
      await call("GET", `/sessions/${session.id}/messages${q}`, { token }),
      400,
      "validation_failed",
    );
  }
});

for (
  const [method, suffix] of [["GET", ""], ["PATCH", ""], ["DELETE", ""], ["POST", "/archive"], [
    "POST",
    "/restore",
  ], ["GET", "/messages"]]
) {
  test(`${method} /sessions/{id}${suffix} with a non-UUID id is 400`, async () => {
    const body = method === "PATCH" ? { title: "x" } : undefined;
    for (const id of ["123", "not-a-uuid", "' or 1=1 --"]) {
      const res = await call(method, `/sessions/${encodeURIComponent(id)}${suffix}`, {
        token,
        body,
      });
      assertError(res, 400, "validation_failed");
    }
  });
  test(`${method} /sessions/{id}${suffix} with an unknown id is 404`, async () => {
    const body = method === "PATCH" ? { title: "x" } : undefined;
    assertError(
      await call(method, `/sessions/${crypto.randomUUID()}${suffix}`, { token, body }),
      404,
      "not_found",
    );
  });
}

test("restore of a session that is not archived is 409", async () => {
  assertError(await call("POST", `/sessions/${session.id}/restore`, { token }), 409, "conflict");
});

test("unknown route is 404 and wrong method is 405 with Allow", async () => {
  assertError(await call("GET", "/sessions/nope/deeper/path", { token }), 404, "not_found");
  const res = await call("PUT", `/sessions/${session.id}`, { token, body: {} });
  assertError(res, 405, "method_not_allowed");
  assert.match(res.headers.get("allow") ?? "", /PATCH/);
});

test("an unknown function is 404 in the envelope", async () => {
  const res = await fetch(`${FUNCTIONS_URL}/nope`);
  const body = await res.json();
  assert.equal(res.status, 404);
  assert.equal(body.error.code, "not_found");
});
