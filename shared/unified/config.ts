// The unified API's environment, parsed once per isolate: where the provider
// APIs are (the real hosts by default; the local stand-ins in the local
// stacks) and how long one provider call may take. A malformed value stops the
// function at start with the variable's name.
import { z } from "zod";
import { isSafeEndpoint } from "../providers/config.ts";
import { OUTBOUND_BUDGET_MS } from "../platform.ts";

const base = z.string().refine(isSafeEndpoint, "https, or http to this machine")
  .transform((s) => s.replace(/\/+$/, ""));

const schema = z.object({
  // Google Calendar v3 (/calendar/v3) and Gmail v1 (/gmail/v1) both answer on
  // www.googleapis.com; Microsoft Graph v1.0 on graph.microsoft.com.
  GOOGLE_API_URL: base.default("https://www.googleapis.com"),
  GRAPH_API_URL: base.default("https://graph.microsoft.com"),
  // One provider call. A request makes at most a refresh and two calls per
  // connection in a row (a 401, then the retry); reads of several
  // connections run side by side, so three calls must fit in the budget.
  UNIFIED_HTTP_TIMEOUT_MS: z.coerce.number().int().min(100)
    .max(Math.floor(OUTBOUND_BUDGET_MS / 4)).default(15_000),
});

export type UnifiedConfig = z.infer<typeof schema>;

export function parseUnifiedConfig(env: Record<string, string | undefined>): UnifiedConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new Error(`invalid configuration: ${problems.join("; ")}`);
  }
  return parsed.data;
}

let cached: UnifiedConfig | undefined;

export function unifiedConfig(): UnifiedConfig {
  return cached ??= parseUnifiedConfig(Deno.env.toObject());
}
