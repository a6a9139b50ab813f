// A test delivery, now: a `webhook.test` message signed like every delivery
// (with the previous secret too during a rotation) and posted at once, so an
// owner can check their receiver. Nothing is stored; the answer says what
// happened.
import { notFound } from "../core/errors.ts";
import type { WebhooksConfig } from "./config.ts";
import { asOwner, type Owner, ownerId, ownerRef } from "./owner.ts";
import { sendWebhook } from "./send.ts";
import { getEndpoint, serviceTurn, signingSecrets } from "./store.ts";

export async function testDelivery(owner: Owner, id: string, config: WebhooksConfig) {
  const ref = ownerRef(owner); // before asOwner takes the key's check
  const found = await asOwner(owner, async (tx) => {
    const endpoint = await getEndpoint(tx, ref, id);
    if (!endpoint) return undefined;
    if (owner.kind === "user") await serviceTurn(tx);
    return { endpoint, secrets: await signingSecrets(tx, id) };
  });
  if (!found) throw notFound("webhook endpoint");
  const msgId = `test_${crypto.randomUUID()}`;
  const body = JSON.stringify({
    type: "webhook.test",
    timestamp: new Date().toISOString(),
    data: { endpoint_id: id, user_id: ownerId(owner), message: "a test delivery from Oprina" },
  });
  const outcome = await sendWebhook(
    { url: found.endpoint.url, secrets: found.secrets, msgId, body },
    config,
  );
  return {
    webhook_id: msgId,
    delivered: outcome.delivered,
    status_code: outcome.status_code,
    error: outcome.error,
    duration_ms: outcome.duration_ms,
  };
}
