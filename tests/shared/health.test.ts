// The health check's cache: one probe per window, shared by callers arriving
// while it runs, failures kept as long as successes. A fake clock, no waiting.
import assert from "node:assert/strict";
import { cachedCheck } from "../../shared/http/health.ts";

function fakeProbe() {
  const calls: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  const probe = () => new Promise<void>((resolve, reject) => calls.push({ resolve, reject }));
  return { calls, probe };
}

Deno.test("health: one probe per window, shared by concurrent callers", async () => {
  let now = 1_000;
  const { calls, probe } = fakeProbe();
  const check = cachedCheck(probe, 5_000, () => now);
  const waiting = [check(), check(), check()];
  assert.equal(calls.length, 1, "callers during the probe share it");
  now += 7;
  calls[0].resolve();
  const results = await Promise.all(waiting);
  assert.deepEqual(results[0], { ok: true, ms: 7, checked_at: new Date(1_000).toISOString() });
  assert.ok(results.every((r) => r === results[0]));
  now += 4_990;
  assert.equal(await check(), results[0], "still inside the window");
  assert.equal(calls.length, 1);
  now += 10;
  const next = check();
  assert.equal(calls.length, 2, "the window is over: a new probe");
  calls[1].resolve();
  assert.equal((await next).checked_at, new Date(6_007).toISOString());
});

Deno.test("health: a failure is kept for the window too, then checked again", async () => {
  let now = 0;
  const { calls, probe } = fakeProbe();
  const check = cachedCheck(probe, 5_000, () => now);
  const failing = check();
  calls[0].reject(new Error("connection refused"));
  assert.equal((await failing).ok, false);
  now = 4_999;
  assert.equal((await check()).ok, false);
  assert.equal(calls.length, 1, "an outage is not hammered");
  now = 5_000;
  const recovered = check();
  calls[1].resolve();
  assert.equal((await recovered).ok, true);
});

Deno.test("health: a window of 0 checks every time", async () => {
  const { calls, probe } = fakeProbe();
  const check = cachedCheck(probe, 0, () => 0);
  const a = check();
  const b = check();
  assert.equal(calls.length, 2);
  calls.forEach((c) => c.resolve());
  await Promise.all([a, b]);
});
