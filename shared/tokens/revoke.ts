// Disconnecting: revoke the grant at the provider (RFC 7009; Google has an
// endpoint, Microsoft has none), then mark the connection revoked and destroy
// its ciphertext. A provider that fails or times out is reported, and the
// local revocation happens anyway: the tokens are gone from here either way.
import type { z } from "@hono/zod-openapi";
import type { UserPrincipal } from "../auth/principal.ts";
import { asService, queryAsUser } from "../db/client.ts";
import { notFound } from "../core/errors.ts";
import { log } from "../core/log.ts";
import { ProviderError } from "../providers/client.ts";
import { providerClient } from "../providers/registry.ts";
import { secretWork } from "./access.ts";
import { tokensConfig } from "./config.ts";
import {
  activeTokenIds,
  destroySecrets,
  lockToken,
  markRevoked,
  readSecrets,
  rowOf,
  tokenById,
} from "./store.ts";
import type { ProviderRevocation, RevokeResult } from "./schemas.ts";

type Revocation = z.infer<typeof RevokeResult>;

export async function revokeConnection(user: UserPrincipal, id: string): Promise<Revocation> {
  // Ownership as the user (RLS decides), in one round trip.
  const [[own]] = await queryAsUser(user, tokenById(id));
  if (!own) throw notFound("connection");
  const result = await revokeAsService(id, user.userId, "user_request");
  if (!result) throw notFound("connection");
  return result;
}

// Every live connection of a user, for account deletion (DELETE /account/me).
export async function revokeAllForUser(userId: string, reason: string): Promise<Revocation[]> {
  const ids = await asService((tx) => activeTokenIds(tx, userId));
  const results: Revocation[] = [];
  for (const id of ids) {
    const r = await revokeAsService(id, userId, reason);
    if (r) results.push(r);
  }
  return results;
}

async function revokeAsService(
  id: string,
  userId: string,
  reason: string,
): Promise<Revocation | undefined> {
  const window = tokensConfig().TOKEN_REFRESH_WINDOW_SECONDS;
  return await secretWork(() =>
    asService(async (tx) => {
      const token = await lockToken(tx, id, userId, window);
      if (!token) return undefined;
      if (token.status === "revoked") {
        return { token: rowOf(token), provider_revocation: "skipped" as const };
      }
      const client = providerClient(token.provider);
      const secrets = await readSecrets(tx, id, true);
      let outcome: z.infer<typeof ProviderRevocation> = "skipped";
      if (client && secrets) {
        try {
          // Revoking the refresh token ends the whole grant at Google.
          outcome = await client.revoke(secrets.refresh_token ?? secrets.access_token);
        } catch (err) {
          if (!(err instanceof ProviderError)) throw err;
          outcome = "failed";
          log("warn", "provider revocation failed; revoking locally", {
            connection_id: id,
            provider: token.provider,
            error_kind: err.kind,
            error_code: err.oauthError,
          });
        }
      }
      await destroySecrets(tx, id);
      const revoked = await markRevoked(tx, id, reason, outcome);
      return { token: revoked, provider_revocation: outcome };
    })
  );
}
