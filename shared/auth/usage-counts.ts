// Usage of API keys, counted in this isolate and written in batches: each
// verification adds one to its key's count for its outcome, and about once a
// second the counts leave as one statement (private.api_key_record_usage),
// outside any request. No request writes a usage row, and a busy key costs
// one row per second per isolate, not one per request. An isolate that dies
// loses at most its last second of counts; a batch the database refuses is
// kept for the next one.
import { db } from "../db/client.ts";
import { lit, sql, textOf } from "../db/literal.ts";
import { log } from "../core/log.ts";

export type Outcome =
  | "valid"
  | "rate_limited"
  | "usage_exceeded"
  | "insufficient_scope"
  | "expired"
  | "revoked";

const FLUSH_MS = Number(Deno.env.get("API_KEY_USAGE_FLUSH_MS") ?? 1000);

// "<key id> <user id> <outcome>" → requests.
const counts = new Map<string, number>();
let timer: number | undefined;

export function countUse(keyId: string, userId: string, outcome: Outcome): void {
  const key = `${keyId} ${userId} ${outcome}`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
  timer ??= scheduleFlush();
}

function scheduleFlush(): number {
  let done = () => {};
  const flushed = new Promise<void>((resolve) => (done = resolve));
  const id = setTimeout(() => {
    timer = undefined;
    flushUsage().catch(() => {}).finally(done);
  }, FLUSH_MS);
  // Never what keeps an isolate (or a test process) alive; a runtime without
  // unrefTimer (an edge worker ends by its own rules) just keeps the timer.
  (Deno as { unrefTimer?: (id: number) => void }).unrefTimer?.(id);
  // On Supabase's edge runtime a worker may be stopped once its responses
  // are sent: waitUntil keeps it until the batch is written.
  edgeRuntime()?.waitUntil(flushed);
  return id;
}

function edgeRuntime(): { waitUntil: (p: Promise<unknown>) => void } | undefined {
  const runtime = (globalThis as { EdgeRuntime?: { waitUntil?: unknown } }).EdgeRuntime;
  return typeof runtime?.waitUntil === "function"
    ? runtime as { waitUntil: (p: Promise<unknown>) => void }
    : undefined;
}

// Writes what has been counted; on failure the counts stay for the next try.
export async function flushUsage(): Promise<number> {
  if (counts.size === 0) return 0;
  const batch = [...counts].map(([key, requests]) => {
    const [key_id, user_id, outcome] = key.split(" ");
    return { key_id, user_id, outcome, requests };
  });
  counts.clear();
  try {
    await db().unsafe(textOf(sql`select private.api_key_record_usage(${lit.jsonb(batch)})`));
    return batch.length;
  } catch (err) {
    for (const r of batch) {
      countBack(`${r.key_id} ${r.user_id} ${r.outcome}`, r.requests);
    }
    log("warn", "API key usage batch not written; kept for the next", {
      rows: batch.length,
      error: (err as Error)?.message,
    });
    timer ??= scheduleFlush();
    throw err;
  }
}

function countBack(key: string, requests: number): void {
  counts.set(key, (counts.get(key) ?? 0) + requests);
}
