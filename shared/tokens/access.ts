// Handing a fresh access token to the agent, and refreshing on request.
//
// Both first find the connection as the user (RLS decides: another user's id
// is not found), then do the secret work as the service under the row lock,
// naming the user again. Failures are committed (backoff, needs_reauth, the
// log) before the request answers with an error.
import type { z } from "@hono/zod-openapi";
import type { Principal, UserPrincipal } from "../auth/principal.ts";
import {
  asService,
  keyPending,
  queryAsService,
  queryAsServiceFor,
  queryAsUser,
  verifyKeyFirst,
} from "../db/client.ts";
import { lit } from "../db/literal.ts";
import { AppError, notFound } from "../core/errors.ts";
import type { ProviderId, Service } from "../providers/definitions.ts";
import { tokensConfig } from "./config.ts";
import {
  connectionExhausted,
  needsReauth,
  outcomeError,
  refreshLocked,
  type RefreshOutcome,
} from "./refresh.ts";
import {
  CLAIMED_KEY,
  CLAIMED_USER,
  findForAccess,
  freshAccessToken,
  type FreshGrant,
  lockToken,
  markUsed,
  markUsedIfFresh,
  readSecrets,
  recordVend,
  tokenById,
  type TokenRow,
} from "./store.ts";
import type { AccessToken } from "./schemas.ts";
import { isMissingKey, missingKeyError } from "./vault.ts";

type Grant = z.infer<typeof AccessToken>;

// A token that still has this long to live is served even when its refresh
// failed for a passing reason: the agent can work, the scheduler retries.
const STILL_USABLE_SECONDS = 60;

type Result<T> = { ok: true; value: T } | { ok: false; error: AppError };

function grantOf(used: TokenRow, accessToken: string, refreshed: boolean): Grant {
  const expiresIn = Math.max(0, Math.floor((Date.parse(used.expires_at) - Date.now()) / 1000));
  return {
    access_token: accessToken,
    token_type: "Bearer",
    expires_at: used.expires_at,
    expires_in: expiresIn,
    refreshed,
    token_id: used.id,
    provider: used.provider,
    provider_email: used.provider_email,
    services: used.services,
    service_access: used.service_access,
    scopes: used.granted_scopes,
  };
}

// Who a vend is for, and who asked. The service names the user (a
// server-side agent acting for them); a user, or one of their keys, may only
// name themselves: another user's id is the same 404 as a missing connection.
export type VendRequest = {
  tokenId?: string;
  service?: Service;
  userId?: string;
  forceRefresh?: boolean;
};

function vendFor(caller: Principal, userId: string | undefined, provider: ProviderId) {
  if (caller.kind === "service") {
    if (!userId) {
      throw new AppError("validation_failed", "the service must name the user", {
        issues: [{ path: "user_id", message: "required with the service key" }],
      });
    }
    return { subject: userId, askedBy: "service" };
  }
  if (userId !== undefined && userId !== caller.userId) {
    throw notFound(`an active ${provider} connection`);
  }
  return {
    subject: caller.userId,
    askedBy: caller.apiKeyId ? `api_key:${caller.apiKeyId}` : "user",
  };
}

export async function getAccessToken(
  caller: Principal,
  provider: ProviderId,
  o: VendRequest,
): Promise<Grant> {
  const window = tokensConfig().TOKEN_REFRESH_WINDOW_SECONDS;
  if (!o.forceRefresh) {
    // The common case, a token that is not due: one round trip, an API key's
    // verification included.
    const [[fresh]] = await secretWork(() => vendFresh(caller, provider, o, window));
    if (fresh) {
      const { access_token, logged: _, ...row } = fresh as FreshGrant & { logged: unknown };
      return grantOf(row, access_token, false);
    }
  }
  // The key (if any) is verified by now, or here: the slow path names its owner.
  if (caller.kind === "user") await verifyKeyFirst(caller);
  const { subject, askedBy } = vendFor(caller, o.userId, provider);
  const found = await asService((tx) => findForAccess(tx, subject, provider, o));
  if (!found) throw notFound(`an active ${provider} connection`);
  if (found.status === "needs_reauth") throw needsReauth(null);

  const result = await secretWork(() =>
    asService<Result<Grant>>(async (tx) => {
      // One flight: lock the row, read the access token, and count the use if
      // the token is fresh (unless a refresh is forced). Each statement runs
      // after the lock is granted, so all three see the same row.
      const [token, stored, fresh] = await Promise.all([
        lockToken(tx, found.id, subject, window),
        readSecrets(tx, found.id, false),
        o.forceRefresh ? undefined : markUsedIfFresh(tx, found.id, subject, window),
      ]);
      if (!token || token.status === "revoked") {
        return { ok: false, error: notFound(`an active ${provider} connection`) };
      }
      if (token.status === "needs_reauth") {
        return { ok: false, error: needsReauth(token.last_error_code) };
      }
      let accessToken = stored?.access_token;
      let refreshed = false;
      let used = fresh;
      if (!used && token.status === "exhausted") {
        // The schedule gave up on it; a vend does not hammer the provider
        // either (an agent may ask every minute). A manual refresh may.
        return { ok: false, error: connectionExhausted(token) };
      }
      if (!used) {
        // Due, or forced. Without a refresh token a still-valid token is served as is.
        if (token.has_refresh_token || token.seconds_left <= 0) {
          const outcome: RefreshOutcome = await refreshLocked(tx, token, "automatic");
          if (outcome.status === "success") {
            accessToken = outcome.accessToken;
            refreshed = true;
          } else if (
            outcome.status === "needs_reauth" || token.seconds_left < STILL_USABLE_SECONDS
          ) {
            return { ok: false, error: outcomeError(outcome) };
          }
        }
        used = await markUsed(tx, token.id);
      }
      // Thrown, not returned: the use just counted rolls back with it.
      if (!accessToken) throw notFound(`an active ${provider} connection`);
      await recordVend(tx, used.id, refreshed, askedBy);
      return { ok: true, value: grantOf(used, accessToken, refreshed) };
    })
  );
  if (!result.ok) throw result.error;
  return result.value;
}

// The fast path's message. A key still to be verified is verified in it, and
// the vend names its owner from the claims that sets; a user it names that is
// not the owner finds nothing here, and the slow path answers 404.
function vendFresh(caller: Principal, provider: ProviderId, o: VendRequest, window: number) {
  if (caller.kind === "user" && keyPending(caller)) {
    return queryAsServiceFor(
      caller,
      freshAccessToken(CLAIMED_USER, provider, o, window, CLAIMED_KEY),
    );
  }
  const { subject, askedBy } = vendFor(caller, o.userId, provider);
  return queryAsService(
    freshAccessToken(lit.uuid(subject), provider, o, window, lit.text(askedBy)),
  );
}

export async function refreshNow(user: UserPrincipal, id: string): Promise<TokenRow> {
  const window = tokensConfig().TOKEN_REFRESH_WINDOW_SECONDS;
  // Ownership as the user (RLS decides), in one round trip.
  const [[own]] = await queryAsUser(user, tokenById(id));
  if (!own) throw notFound("connection");
  const result = await secretWork(() =>
    asService<Result<TokenRow>>(async (tx) => {
      const token = await lockToken(tx, id, user.userId, window);
      if (!token) return { ok: false, error: notFound("connection") };
      if (token.status === "revoked") {
        return { ok: false, error: new AppError("conflict", "the connection is revoked") };
      }
      if (token.status === "needs_reauth") {
        return { ok: false, error: needsReauth(token.last_error_code) };
      }
      const outcome = await refreshLocked(tx, token, "manual");
      return outcome.status === "success"
        ? { ok: true, value: outcome.token }
        : { ok: false, error: outcomeError(outcome) };
    })
  );
  if (!result.ok) throw result.error;
  return result.value;
}

// Maps a missing encryption key (raised inside SQL) to a clear 503.
export async function secretWork<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isMissingKey(err)) throw missingKeyError();
    throw err;
  }
}
