// Concurrent callers share one refresh: the provider sees one refresh grant per
// due token however many requests and workers race for it. Counts come from
// what the local provider saw, not from timing.
import assert from "node:assert/strict";
import { AccessToken, RefreshDueResult } from "../../shared/tokens/schemas.ts";
import { parsed } from "../helpers/assert.ts";
import { call, createUser, SERVICE_ROLE_KEY, test } from "../helpers/stack.ts";
import { accessToken, connect, makeDue, provider, refreshLogs } from "../oauth/flow.ts";

test("50 concurrent access-token calls on an expiring token cause exactly one refresh", async () => {
  const user = await createUser("fifty");
  const { token, email } = await connect(user);
  const before = parsed(AccessToken, await accessToken(user, "dev")).access_token;
  await makeDue(token.id, 90);
  const results = await Promise.all(
    Array.from({ length: 50 }, () => accessToken(user, "dev")),
  );
  const grants = results.map((r) => parsed(AccessToken, r));
  const issued = new Set(grants.map((g) => g.access_token));
  assert.equal(issued.size, 1, "every caller got the same, new token");
  assert.ok(!issued.has(before));
  assert.equal(grants.filter((g) => g.refreshed).length, 1, "one caller refreshed");
  const seen = await provider.seen(email);
  assert.equal(seen.refresh_grants, 1, "the provider saw one refresh");
  const logs = await refreshLogs(token.id);
  assert.equal(logs.length, 1);
  assert.equal(logs[0].status, "success");
});

test("4 concurrent refresh-due runs refresh each due token exactly once", async () => {
  const user = await createUser("four-workers");
  const connections = [];
  for (let i = 0; i < 12; i++) connections.push(await connect(user));
  for (const c of connections) await makeDue(c.token.id, 120, { scheduler: true });
  const runs = await Promise.all(
    Array.from(
      { length: 4 },
      () =>
        call("POST", "/tokens/refresh-due", { token: SERVICE_ROLE_KEY, body: { concurrency: 3 } }),
    ),
  );
  for (const r of runs) assert.equal(parsed(RefreshDueResult, r).errors, 0);
  for (const c of connections) {
    const seen = await provider.seen(c.email);
    assert.equal(seen.refresh_grants, 1, `${c.email} refreshed once`);
    const logs = await refreshLogs(c.token.id);
    assert.deepEqual(logs.map((l) => [l.refresh_type, l.status]), [["scheduled", "success"]]);
  }
});

test("access-token callers and refresh-due workers racing on one token: one refresh", async () => {
  const user = await createUser("mixed");
  const { token, email } = await connect(user);
  await makeDue(token.id, 90, { scheduler: true });
  const [grants, runs] = await Promise.all([
    Promise.all(Array.from({ length: 10 }, () => accessToken(user, "dev"))),
    Promise.all(
      Array.from(
        { length: 4 },
        () => call("POST", "/tokens/refresh-due", { token: SERVICE_ROLE_KEY }),
      ),
    ),
  ]);
  for (const r of grants) parsed(AccessToken, r);
  for (const r of runs) parsed(RefreshDueResult, r);
  assert.equal((await provider.seen(email)).refresh_grants, 1);
  assert.equal((await refreshLogs(token.id)).length, 1);
});
