// The account domain's environment, parsed once per isolate; a malformed
// value stops the function at start with the variable's name.
import { z } from "zod";

const schema = z.object({
  // Live (not revoked, not expired) API keys one user may hold. The database
  // enforces it too (private.api_keys_cap), with 25 when no value is passed.
  API_KEYS_MAX_LIVE: z.coerce.number().int().min(1).max(1000).default(25),
});

export type AccountConfig = { maxLiveApiKeys: number };

export function parseAccountConfig(env: Record<string, string | undefined>): AccountConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new Error(`invalid configuration: ${problems.join("; ")}`);
  }
  return { maxLiveApiKeys: parsed.data.API_KEYS_MAX_LIVE };
}

let cached: AccountConfig | undefined;

export function accountConfig(): AccountConfig {
  return cached ??= parseAccountConfig(Deno.env.toObject());
}
