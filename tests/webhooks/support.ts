// What the webhook tests share: an inbox on the stack's local receiver per
// test (scripts/local/webhook-receiver.ts), endpoints registered through the
// API, the delivery worker run on demand, and rows read as postgres.
import assert from "node:assert/strict";
import { call, SECRET_KEY, sql, type TestUser } from "../helpers/stack.ts";

export const RECEIVER_URL = Deno.env.get("LOCAL_WEBHOOK_RECEIVER_URL")!;

export type Received = {
  at: string;
  headers: Record<string, string | null>;
  body: string;
  signatures: Array<{ signature: string; verifies_with: number | null }>;
  verified: boolean | null;
  timestamp_ok: boolean;
  answered: number;
};

export function newInbox(label: string) {
  const name = `${label}-${crypto.randomUUID()}`;
  return { name, url: `${RECEIVER_URL}/hooks/${name}` };
}

export const receiver = {
  configure: async (
    inbox: string,
    o: { secrets?: string[]; fail?: { count: number; status: number }; retry_after?: string },
  ) => {
    const res = await fetch(`${RECEIVER_URL}/_control/inboxes/${inbox}`, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(o),
    });
    assert.equal(res.status, 200, await res.text());
  },
  received: async (inbox: string): Promise<Received[]> => {
    const res = await fetch(`${RECEIVER_URL}/_control/inboxes/${inbox}`);
    return (await res.json()).received;
  },
};

// An endpoint through the API, its receiver inbox told its secret.
export async function registerEndpoint(
  user: TestUser,
  label: string,
  body: Record<string, unknown> = {},
) {
  const inbox = newInbox(label);
  const res = await call("POST", "/webhooks/endpoints", {
    token: user.token,
    body: { url: inbox.url, ...body },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  await receiver.configure(inbox.name, { secrets: [res.body.secret] });
  return { endpoint: res.body, secret: res.body.secret as string, inbox: inbox.name };
}

export async function deliverNow() {
  const res = await call("POST", "/webhooks/deliver", { token: SECRET_KEY });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

export async function deliveries(endpointId: string) {
  return Array.from(
    await sql`
    select d.*, e.type as event_type, e.connection_id,
           -- A failed attempt whose outcome is recorded: claiming stamps both
           -- in one transaction, recording the outcome moves updated_at on.
           (d.attempts > 0 and d.updated_at > d.last_attempt_at) as settled,
           -- The backoff an outcome chose (recorded with updated_at = its now()).
           extract(epoch from d.next_attempt_at - d.updated_at)::float8 as wait_seconds
      from public.webhook_deliveries d join public.connection_events e on e.id = d.event_id
     where d.endpoint_id = ${endpointId}
     order by e.created_at, e.id`,
  );
}

// Runs the worker until every delivery to the endpoint is settled
// (delivered or failed), at most `rounds` times. Other test files and pg_cron
// run the worker too, so whoever takes a delivery, this waits for its end.
// `onRetry` sees each failed attempt once, after it is recorded; the test may
// then make the retry due at once instead of waiting for the backoff.
export async function settleAll(
  endpointId: string,
  o: { rounds?: number; onRetry?: (row: Record<string, unknown>) => Promise<void> } = {},
) {
  const seen = new Set<string>();
  for (let round = 0; round < (o.rounds ?? 60); round++) {
    const rows = await deliveries(endpointId);
    const pending = rows.filter((r) => r.status === "pending");
    if (pending.length === 0) return rows;
    for (const row of pending) {
      const key = `${row.id}:${row.attempts}`;
      if (row.settled && !seen.has(key)) {
        seen.add(key);
        await o.onRetry?.(row);
      }
    }
    await deliverNow();
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`deliveries to ${endpointId} did not settle`);
}

// Makes a settled failed attempt's retry due now (the backoff is in minutes).
export async function retryNow(row: Record<string, unknown>) {
  await sql`update public.webhook_deliveries set next_attempt_at = now()
             where id = ${row.id as string} and attempts = ${row.attempts as number}
               and status = 'pending'`;
}

export const bodyOf = (r: Received) => JSON.parse(r.body);
