// Creating an API key: the key is made here and shown once; the database
// holds the cap on live keys (private.api_keys_cap), answered here as 409.
import type { z } from "@hono/zod-openapi";
import { generateApiKey } from "../auth/api-keys.ts";
import type { UserPrincipal } from "../auth/principal.ts";
import { asUser } from "../db/client.ts";
import { AppError } from "../http/errors.ts";
import type { AccountConfig } from "./config.ts";
import type { CreateApiKeyInput, CreatedApiKey } from "./schemas.ts";
import { API_KEY_CAP_REACHED, insertApiKey } from "./store.ts";

export async function createApiKey(
  user: UserPrincipal,
  input: CreateApiKeyInput,
  config: AccountConfig,
): Promise<z.infer<typeof CreatedApiKey>> {
  const { key, prefix, hash } = generateApiKey();
  try {
    const row = await asUser(user, (tx) =>
      insertApiKey(tx, {
        name: input.name,
        prefix,
        hash,
        scopes: input.scopes,
        expiresAt: input.expires_at,
      }, config.maxLiveApiKeys));
    return { ...row, key };
  } catch (err) {
    const { code, detail } = err as { code?: unknown; detail?: unknown };
    if (code === API_KEY_CAP_REACHED) {
      throw keyLimitReached(Number(detail) || config.maxLiveApiKeys);
    }
    throw err;
  }
}

function keyLimitReached(cap: number): AppError {
  return new AppError(
    "api_key_limit",
    `you already have ${cap} live API keys, the most allowed: revoke one you no longer use ` +
      "(DELETE /account/api-keys/{id}; GET /account/api-keys lists them) or let one expire, " +
      "then create this one",
    { limit: cap },
  );
}
