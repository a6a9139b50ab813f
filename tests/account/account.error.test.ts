import assert from "node:assert/strict";
import { Profile } from "../../shared/account/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { call, createUser, test } from "../helpers/stack.ts";

const user = await createUser("acct-errors");
const token = user.token;
parsed(
  Profile,
  await call("PATCH", "/account/me", {
    token,
    body: { display_name: "Keep", timezone: "Asia/Tokyo" },
  }),
);

const badProfiles: Array<[string, unknown]> = [
  ["an empty patch", {}],
  ["an unknown time zone", { timezone: "Mars/Olympus" }],
  ["a non-http avatar", { avatar_url: "javascript:alert(1)" }],
  ["preferences that are not an object", { preferences: ["x"] }],
  ["preferences over 16 KiB", { preferences: { blob: "x".repeat(17_000) } }],
  ["a read-only field", { email: "new@example.com" }],
  ["an empty display name", { display_name: "  " }],
];
for (const [name, body] of badProfiles) {
  test(`patch me rejects ${name} with 400 and keeps the profile`, async () => {
    assertError(await call("PATCH", "/account/me", { token, body }), 400, "validation_failed");
    const me = parsed(Profile, await call("GET", "/account/me", { token }));
    assert.equal(me.display_name, "Keep");
    assert.equal(me.timezone, "Asia/Tokyo");
    assert.equal(me.email, user.email);
  });
}

const badKeys: Array<[string, unknown]> = [
  ["no scopes", { name: "k", scopes: [] }],
  ["an unknown scope", { name: "k", scopes: ["admin:all"] }],
  ["a repeated scope", { name: "k", scopes: ["sessions:read", "sessions:read"] }],
  ["no name", { scopes: ["sessions:read"] }],
  ["an expiry in the past", {
    name: "k",
    scopes: ["sessions:read"],
    expires_at: "2020-01-01T00:00:00Z",
  }],
  ["an expiry that is not a date", {
    name: "k",
    scopes: ["sessions:read"],
    expires_at: "tomorrow",
  }],
  ["an extra field", { name: "k", scopes: ["sessions:read"], key: "opr_mine" }],
];
for (const [name, body] of badKeys) {
  test(`key creation rejects ${name} with 400`, async () => {
    assertError(await call("POST", "/account/api-keys", { token, body }), 400, "validation_failed");
  });
}

test("activity rejects a bad type filter and a bad cursor", async () => {
  for (const q of ["?type=DROP", "?cursor=abc", "?limit=0"]) {
    assertError(await call("GET", `/account/activity${q}`, { token }), 400, "validation_failed");
  }
});

test("revoking a key with a non-UUID id is 400, an unknown id 404", async () => {
  assertError(await call("DELETE", "/account/api-keys/nope", { token }), 400, "validation_failed");
  assertError(
    await call("DELETE", `/account/api-keys/${crypto.randomUUID()}`, { token }),
    404,
    "not_found",
  );
});

test("keys that are malformed, unknown or sent twice are 401", async () => {
  const unknown = `opr_${"a".repeat(32)}`;
  for (
    const headers of [{ "X-API-Key": "opr_short" }, { "X-API-Key": unknown }, { "X-API-Key": "" }]
  ) {
    assertError(await call("GET", "/sessions", { headers }), 401, "unauthorized");
  }
  const twice = await call("GET", "/sessions", {
    token: unknown,
    headers: { "X-API-Key": unknown },
  });
  assertError(twice, 401, "unauthorized");
  const malformed = await call("GET", "/sessions", { headers: { Authorization: "Basic abc" } });
  assertError(malformed, 401, "unauthorized");
});
