// A key's usage per UTC day: every outcome's count, from the rolled-up days
// and the events not rolled up yet (private.api_key_usage_of).
import type { z } from "@hono/zod-openapi";
import type { UserPrincipal } from "../auth/principal.ts";
import { queryAsUser } from "../db/client.ts";
import { notFound } from "../core/errors.ts";
import type { ApiKeyUsage, ApiKeyUsageDay } from "./schemas.ts";
import { UsageOutcome } from "./schemas.ts";
import { keyUsage } from "./store.ts";

type UsageRow = { day: string; outcome: string; requests: number };
type Day = z.infer<typeof ApiKeyUsageDay>;

export async function usageOf(
  user: UserPrincipal,
  id: string,
  days: number,
): Promise<z.infer<typeof ApiKeyUsage>> {
  const [[key], , rows] = await queryAsUser(user, ...keyUsage(id, days)) as [
    unknown[],
    unknown[],
    UsageRow[],
  ];
  if (!key) throw notFound("API key");
  const byDay = new Map<string, Day>();
  for (const r of rows) {
    const outcome = UsageOutcome.safeParse(r.outcome);
    if (!outcome.success) continue;
    const day = byDay.get(r.day) ??
      Object.fromEntries([
        ["day", r.day],
        ...UsageOutcome.options.map((o) => [o, 0]),
        ["total", 0],
      ]) as Day;
    day[outcome.data] += r.requests;
    day.total += r.requests;
    byDay.set(r.day, day);
  }
  return { key_id: id, days: [...byDay.values()].sort((a, b) => a.day.localeCompare(b.day)) };
}
