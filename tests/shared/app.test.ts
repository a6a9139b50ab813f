// The app factory's envelope for failures no real route should produce.
import assert from "node:assert/strict";
import { createApp } from "../../shared/http/app.ts";
import { test } from "../helpers/stack.ts";

const app = createApp("probe", "test app");
app.get("/boom", () => {
  throw new Error("relation private.token_secrets: password=hunter2");
});

test("an unexpected error is a 500 envelope without internals", async () => {
  const res = await app.request("/probe/boom", { headers: { "X-Request-Id": "boom-1" } });
  const body = await res.json();
  assert.equal(res.status, 500);
  assert.deepEqual(body, {
    error: { code: "internal", message: "internal error", request_id: "boom-1" },
  });
});

test("404 and 405 use the envelope", async () => {
  const missing = await app.request("/probe/nothing");
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, "not_found");
  const wrong = await app.request("/probe/boom", { method: "DELETE" });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get("allow"), "GET");
  assert.equal((await wrong.json()).error.code, "method_not_allowed");
});
