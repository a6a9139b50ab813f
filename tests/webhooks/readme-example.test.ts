// The README's verification example, run as written (the block is read from
// README.md) against the functions' signer: what it accepts and refuses.
import assert from "node:assert/strict";
import { newSecret, signedHeaders } from "../../shared/webhooks/signing.ts";

type Verify = (secret: string, headers: Headers, body: string) => Promise<boolean>;

async function readmeExample(): Promise<Verify> {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const block = readme.match(/```ts\n(const HMAC[\s\S]*?)```/)?.[1];
  assert.ok(block, "the README has the verification example");
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, `${block}\nexport { verifyWebhook };\n`);
    return (await import(`file://${file}`)).verifyWebhook;
  } finally {
    await Deno.remove(file);
  }
}

const verifyWebhook = await readmeExample();
const now = () => Math.floor(Date.now() / 1000);
const asHeaders = (h: Record<string, string>) => new Headers(h);

Deno.test("the README example accepts a delivery signed by the functions", async () => {
  const secret = newSecret();
  const body = '{"type":"connection.connected","data":{}}';
  const h = await signedHeaders([secret], crypto.randomUUID(), now(), body);
  assert.equal(await verifyWebhook(secret, asHeaders(h), body), true);
});

Deno.test("... and during a rotation with either secret", async () => {
  const [fresh, old] = [newSecret(), newSecret()];
  const h = await signedHeaders([fresh, old], "evt_rotation", now(), "{}");
  assert.equal(await verifyWebhook(fresh, asHeaders(h), "{}"), true);
  assert.equal(await verifyWebhook(old, asHeaders(h), "{}"), true);
  assert.equal(await verifyWebhook(newSecret(), asHeaders(h), "{}"), false);
});

Deno.test("the README example refuses changed bodies, stale or odd timestamps and junk", async () => {
  const secret = newSecret();
  const h = await signedHeaders([secret], "evt_1", now(), "{}");
  assert.equal(await verifyWebhook(secret, asHeaders(h), "{ }"), false, "another body");
  const stale = await signedHeaders([secret], "evt_1", now() - 301, "{}");
  assert.equal(await verifyWebhook(secret, asHeaders(stale), "{}"), false, "too old");
  const future = await signedHeaders([secret], "evt_1", now() + 301, "{}");
  assert.equal(await verifyWebhook(secret, asHeaders(future), "{}"), false, "too new");
  for (
    const change of [
      { "webhook-timestamp": "soon" },
      { "webhook-id": "" },
      { "webhook-signature": "v1,!!!" },
      { "webhook-signature": "v1," },
      { "webhook-signature": h["webhook-signature"].replace("v1,", "v2,") },
    ]
  ) {
    assert.equal(await verifyWebhook(secret, asHeaders({ ...h, ...change }), "{}"), false);
  }
});
