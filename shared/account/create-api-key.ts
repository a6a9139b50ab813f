// Creating an API key: the key is made here and shown once; the database
// holds the cap on live keys (private.api_keys_cap), answered here as 409.
import type { z } from "@hono/zod-openapi";
import { generateApiKey } from "../auth/api-keys.ts";
import type { UserPrincipal } from "../auth/principal.ts";
import { queryAsUser } from "../db/client.ts";
import { AppError } from "../core/errors.ts";
import type { AccountConfig } from "./config.ts";
import type { CreateApiKeyInput, CreatedApiKey } from "./schemas.ts";
import { API_KEY_CAP_REACHED, type ApiKeyRow, insertApiKey } from "./store.ts";

export async function createApiKey(
  user: UserPrincipal,
  input: CreateApiKeyInput,
  config: AccountConfig,
): Promise<z.infer<typeof CreatedApiKey>> {
  const { key, prefix, hash } = generateApiKey();
  try {
    const [, [row]] = await queryAsUser(
      user,
      ...insertApiKey({ ...input, prefix, hash }, config.maxLiveApiKeys),
    ) as [unknown[], ApiKeyRow[]];
    return { ...row, key };
  } catch (err) {
    const { code, detail } = err as { code?: unknown; detail?: unknown };
    if (code === API_KEY_CAP_REACHED) {
      throw keyLimitReached(Number(detail) || config.maxLiveApiKeys);
    }
    if (code === "23503") throw noSuchRole();
    throw err;
  }
}

// A role that is neither built in nor the caller's (private.api_keys_role_owner).
export const noSuchRole = () =>
  new AppError("validation_failed", "role_id names no role of yours and no built-in role", {
    issues: [{ path: "role_id", message: "no such role" }],
  });

function keyLimitReached(cap: number): AppError {
  return new AppError(
    "api_key_limit",
    `you already have ${cap} live API keys, the most allowed: revoke one you no longer use ` +
      "(DELETE /account/api-keys/{id}; GET /account/api-keys lists them) or let one expire, " +
      "then create this one",
    { limit: cap },
  );
}
