// Standard Webhooks signing against the specification's published test
// vector (standard-webhooks/standard-webhooks, libraries/javascript
// webhook.test.ts "sign function works"), plus rotation and verification.
import assert from "node:assert/strict";
import {
  newSecret,
  SECRET_PATTERN,
  secretBytes,
  sign,
  signedHeaders,
  verify,
} from "../../shared/webhooks/signing.ts";

const SPEC = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  msgId: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};

Deno.test("the specification's test vector signs to its published signature", async () => {
  assert.equal(await sign(SPEC.secret, SPEC.msgId, SPEC.timestamp, SPEC.body), SPEC.signature);
});

Deno.test("the secret works with and without its whsec_ prefix", async () => {
  const bare = SPEC.secret.slice("whsec_".length);
  assert.equal(await sign(bare, SPEC.msgId, SPEC.timestamp, SPEC.body), SPEC.signature);
});

Deno.test("the specification's vector verifies, also among other signatures", async () => {
  const headers = {
    id: SPEC.msgId,
    timestamp: String(SPEC.timestamp),
    signature: [
      "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
      "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
      SPEC.signature,
    ].join(" "),
  };
  assert.deepEqual(
    await verify([SPEC.secret], headers, SPEC.body, { now: SPEC.timestamp + 10 }),
    { ok: true, secretIndex: 0 },
  );
});

Deno.test("verification refuses a changed body, id or timestamp, and stale or future times", async () => {
  const ok = { id: SPEC.msgId, timestamp: String(SPEC.timestamp), signature: SPEC.signature };
  const now = { now: SPEC.timestamp };
  const no = (reason: string) => ({ ok: false, reason });
  assert.deepEqual(await verify([SPEC.secret], ok, SPEC.body + " ", now), no("no_match"));
  assert.deepEqual(
    await verify([SPEC.secret], { ...ok, id: "msg_other" }, SPEC.body, now),
    no("no_match"),
  );
  assert.deepEqual(
    await verify([SPEC.secret], { ...ok, timestamp: String(SPEC.timestamp + 1) }, SPEC.body, now),
    no("no_match"),
  );
  assert.deepEqual(
    await verify([SPEC.secret], ok, SPEC.body, { now: SPEC.timestamp + 301 }),
    no("too_old"),
  );
  assert.deepEqual(
    await verify([SPEC.secret], ok, SPEC.body, { now: SPEC.timestamp - 301 }),
    no("too_new"),
  );
  assert.deepEqual(
    await verify([SPEC.secret], { ...ok, timestamp: "hello" }, SPEC.body, now),
    no("bad_timestamp"),
  );
  assert.deepEqual(
    await verify([SPEC.secret], { ...ok, signature: "v1," }, SPEC.body, now),
    no("no_match"),
  );
  assert.deepEqual(
    await verify([SPEC.secret], { ...ok, signature: SPEC.signature.slice(0, 8) }, SPEC.body, now),
    no("no_match"),
  );
  assert.deepEqual(
    await verify([SPEC.secret], { ...ok, signature: undefined }, SPEC.body, now),
    no("missing_header"),
  );
  assert.deepEqual(
    await verify([newSecret()], ok, SPEC.body, now),
    no("no_match"),
    "another secret",
  );
});

Deno.test("during a rotation both secrets sign, each signature verifies with its own secret", async () => {
  const [current, previous] = [newSecret(), newSecret()];
  const headers = await signedHeaders([current, previous], "evt_1", 1_700_000_000, "{}");
  const parts = headers["webhook-signature"].split(" ");
  assert.equal(parts.length, 2);
  assert.ok(parts.every((p) => /^v1,[A-Za-z0-9+/]{43}=$/.test(p)));
  const h = (signature: string) => ({
    id: headers["webhook-id"],
    timestamp: headers["webhook-timestamp"],
    signature,
  });
  const now = { now: 1_700_000_000 };
  assert.deepEqual(await verify([current], h(parts[0]), "{}", now), { ok: true, secretIndex: 0 });
  assert.deepEqual(await verify([previous], h(parts[1]), "{}", now), { ok: true, secretIndex: 0 });
  assert.deepEqual(await verify([previous], h(parts[0]), "{}", now), {
    ok: false,
    reason: "no_match",
  });
  // A receiver that still knows only the old secret accepts the pair.
  assert.deepEqual(await verify([previous], h(headers["webhook-signature"]), "{}", now), {
    ok: true,
    secretIndex: 0,
  });
});

Deno.test("new secrets are whsec_ + 32 random bytes, and ids may not carry the separator", async () => {
  const a = newSecret();
  assert.match(a, SECRET_PATTERN);
  assert.equal(secretBytes(a).length, 32);
  assert.notEqual(a, newSecret());
  assert.throws(() => secretBytes("whsec_c2hvcnQ="), TypeError);
  await assert.rejects(() => sign(a, "evt.1", 1, "{}"), TypeError);
  await assert.rejects(() => sign(a, "evt_1", 1.5, "{}"), TypeError);
  await assert.rejects(() => signedHeaders([], "evt_1", 1, "{}"), TypeError);
});
