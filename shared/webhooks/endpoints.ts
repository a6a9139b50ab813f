// Managing webhook endpoints: register (the secret is made here and shown
// once), change, delete, rotate the secret. The URL is checked before it is
// stored (and again before every delivery: DNS answers change).
import { AppError, notFound } from "../core/errors.ts";
import type { EventType } from "../events/schemas.ts";
import type { WebhooksConfig } from "./config.ts";
import {
  asOwner,
  type Owner,
  ownerId,
  ownerKnown,
  ownerRef,
  ownerSql,
  queryAsOwner,
} from "./owner.ts";
import type { EndpointRow } from "./schemas.ts";
import { newSecret } from "./signing.ts";
import {
  deleteEndpoint,
  ENDPOINT_CAP_REACHED,
  getEndpoint,
  insertEndpoint,
  NO_SUCH_ENDPOINT,
  serviceTurn,
  setSecret,
  updateEndpoint,
} from "./store.ts";
import { checkOutboundUrl, type Resolver } from "./url-safety.ts";

export async function assertDeliverable(url: string, config: WebhooksConfig, resolve?: Resolver) {
  const verdict = await checkOutboundUrl(url, {
    allowLoopback: config.WEBHOOK_ALLOW_LOOPBACK,
    resolve,
  });
  if (!verdict.ok) {
    throw new AppError("validation_failed", "the webhook URL is not allowed", {
      issues: [{ path: "url", message: verdict.reason }],
    });
  }
  return verdict.url;
}

export async function registerEndpoint(
  owner: Owner,
  input: { url: string; description: string; event_types: EventType[] },
  config: WebhooksConfig,
): Promise<EndpointRow & { secret: string }> {
  const url = await assertDeliverable(input.url, config);
  const secret = newSecret();
  try {
    const row = await asOwner(owner, async (tx) => {
      const endpoint = await insertEndpoint(tx, {
        url: url.href,
        description: input.description,
        eventTypes: input.event_types,
      });
      await ownerKnown(owner);
      if (owner.kind === "user") await serviceTurn(tx);
      await setSecret(tx, ownerId(owner), endpoint.id, secret, 0);
      return endpoint;
    });
    return { ...row, secret };
  } catch (err) {
    if ((err as { code?: unknown })?.code === ENDPOINT_CAP_REACHED) {
      throw new AppError(
        "conflict",
        "you already have 10 webhook endpoints, the most allowed: delete one first",
        { limit: 10 },
      );
    }
    throw err;
  }
}

export async function changeEndpoint(
  owner: Owner,
  id: string,
  input: { description?: string; event_types?: EventType[]; enabled?: boolean },
): Promise<EndpointRow> {
  const [[row]] = await queryAsOwner(
    owner,
    updateEndpoint(ownerSql(owner), id, {
      description: input.description,
      eventTypes: input.event_types,
      enabled: input.enabled,
    }),
  );
  if (!row) throw notFound("webhook endpoint");
  return row as EndpointRow;
}

export async function removeEndpoint(owner: Owner, id: string): Promise<void> {
  const [removed] = await queryAsOwner(owner, deleteEndpoint(ownerSql(owner), id));
  if (removed.length === 0) throw notFound("webhook endpoint");
}

// A new secret; the old one keeps signing beside it for the grace period, so
// receivers can switch without missing a delivery.
export async function rotateSecret(
  owner: Owner,
  id: string,
  graceSeconds: number,
): Promise<{ secret: string; previous_secret_expires_at: string | null }> {
  const secret = newSecret();
  const ref = ownerRef(owner); // before asOwner takes the key's check
  try {
    const expires = await asOwner(owner, async (tx) => {
      // Under RLS for a user: someone else's endpoint is not found.
      if (!await getEndpoint(tx, ref, id, { lock: true })) return undefined;
      await ownerKnown(owner);
      if (owner.kind === "user") await serviceTurn(tx);
      return { at: await setSecret(tx, ownerId(owner), id, secret, graceSeconds) };
    });
    if (!expires) throw notFound("webhook endpoint");
    return {
      secret,
      previous_secret_expires_at: expires.at && new Date(expires.at).toISOString(),
    };
  } catch (err) {
    if ((err as { code?: unknown })?.code === NO_SUCH_ENDPOINT) throw notFound("webhook endpoint");
    throw err;
  }
}
