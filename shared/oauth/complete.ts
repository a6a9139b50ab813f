// Completing a connection (POST /oauth/complete): the app redeems the code the
// callback handed its browser, with the session of the user who started the
// authorization. Any other user gets the same 404 as an unknown code, and
// the grant is revoked: a victim lured into authorizing an attacker's flow
// ends up connecting nothing for anybody (RFC 6749 §10.12, RFC 9700 §4.7).
import type { UserPrincipal } from "../auth/principal.ts";
import { asServiceFor, verifyKeyFirst } from "../db/client.ts";
import { AppError, notFound } from "../core/errors.ts";
import { log } from "../core/log.ts";
import { secretWork } from "../tokens/access.ts";
import { accessReport, PROVIDERS } from "../providers/definitions.ts";
import { priorAccess, saveConnection, type TokenRow } from "../tokens/store.ts";
import { disposeGrant } from "./grants.ts";
import { hashState } from "./state.ts";
import { mayConnect, type TakenGrant, takeParkedGrant } from "./store.ts";

type Outcome =
  | { ok: true; token: TokenRow }
  | { ok: false; grant: TakenGrant; why: "other_user" | "expired" | "account_closed" };

export async function completeConnection(user: UserPrincipal, code: string): Promise<TokenRow> {
  const outcome = await secretWork(() =>
    asServiceFor<Outcome | undefined>(user, async (tx) => {
      const grant = await takeParkedGrant(tx, hashState(code));
      // An API key is verified in this transaction's first write: whose it
      // is is known from here on (a refused key has failed the take above).
      await verifyKeyFirst(user);
      if (!grant) return undefined;
      if (grant.user_id !== user.userId) return { ok: false, grant, why: "other_user" };
      if (grant.expired) return { ok: false, grant, why: "expired" };
      // Holds the profile's share lock until commit: a deletion that began
      // first is seen here, one that begins now waits and then revokes this.
      if (!await mayConnect(tx, user.userId)) return { ok: false, grant, why: "account_closed" };
      // Derived again here, not trusted from the callback: the account's live
      // connection may have changed in between.
      const report = accessReport(
        PROVIDERS[grant.provider],
        grant.granted_scopes,
        grant.access ?? {},
        await priorAccess(tx, user.userId, grant.provider, grant.provider_user_id),
      );
      const token = await saveConnection(tx, {
        userId: user.userId,
        provider: grant.provider,
        services: report.services,
        serviceAccess: report.access,
        missingAccess: report.missing,
        accountId: grant.provider_user_id,
        email: grant.provider_email,
        grantedScopes: grant.granted_scopes,
        expiresAt: new Date(grant.expires_at ?? Date.now()),
        accessToken: grant.access_token,
        refreshToken: grant.refresh_token,
      });
      return { ok: true, token };
    })
  );
  if (!outcome) throw notFound("pending connection");
  if (outcome.ok) {
    log("info", "provider connected", {
      provider: outcome.token.provider,
      connection_id: outcome.token.id,
      user_id: user.userId,
    });
    return outcome.token;
  }
  // Taken in the transaction above, so nobody can redeem it any more.
  await disposeGrant(outcome.grant, outcome.why);
  if (outcome.why === "other_user") {
    log("warn", "completion by another user refused", {
      provider: outcome.grant.provider,
      user_id: user.userId,
    });
    throw notFound("pending connection");
  }
  throw outcome.why === "expired"
    ? new AppError("invalid_state", "the completion code has expired; connect again", {
      reason: "expired",
    })
    : new AppError("conflict", "the account is being deleted");
}
