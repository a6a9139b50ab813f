// Changing a key (PATCH) and rerolling its secret: both only while the key is
// live. Every change is an activity (the database's private.api_keys_audit).
import type { z } from "@hono/zod-openapi";
import { generateApiKey } from "../auth/api-keys.ts";
import type { UserPrincipal } from "../auth/principal.ts";
import { queryAsUser, type Row } from "../db/client.ts";
import { AppError, notFound } from "../core/errors.ts";
import { noSuchRole } from "./create-api-key.ts";
import type { CreatedApiKey, UpdateApiKeyInput } from "./schemas.ts";
import { type ApiKeyRow, rerollApiKey, updateApiKey } from "./store.ts";

// The changed row, or why there is none: no such key (404) or not live (409).
function changed(results: Row[][]): ApiKeyRow {
  const [[row], [current]] = results as [ApiKeyRow[], { status: string }[]];
  if (row) return row;
  if (!current) throw notFound("API key");
  throw new AppError(
    "conflict",
    `the API key is ${current.status}: only a live key changes (create a new one instead)`,
    { status: current.status },
  );
}

export async function changeApiKey(
  user: UserPrincipal,
  id: string,
  patch: UpdateApiKeyInput,
): Promise<ApiKeyRow> {
  try {
    return changed(await queryAsUser(user, ...updateApiKey(id, patch)));
  } catch (err) {
    if ((err as { code?: unknown })?.code === "23503") throw noSuchRole();
    throw err;
  }
}

export async function rerollKey(
  user: UserPrincipal,
  id: string,
  graceSeconds: number,
): Promise<z.infer<typeof CreatedApiKey>> {
  const { key, prefix, hash } = generateApiKey();
  const row = changed(await queryAsUser(user, ...rerollApiKey(id, { prefix, hash }, graceSeconds)));
  return { ...row, key };
}
