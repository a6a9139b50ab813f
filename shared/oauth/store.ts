// SQL of the oauth domain: pending authorization states and parked grants.
// Connections are the tokens domain's (shared/tokens/store.ts saveConnection).
import type { Tx } from "../db/client.ts";
import { lit, sql, type SqlText } from "../db/literal.ts";
import type { NewConnection, TokenRow } from "../tokens/store.ts";
import type { AccessMap, ProviderId, Service } from "../providers/definitions.ts";

export type NewState = {
  stateHash: string;
  userId: string;
  provider: ProviderId;
  services: Service[];
  access: AccessMap;
  connectionId: string | null;
  scopes: string[];
  codeVerifier: string;
  redirectTo: string | null;
};

// As the service, with the user taken from the verified token: clients have no
// privilege on oauth_states, so nobody can plant a state or a redirect_to.
export async function createState(tx: Tx, s: NewState): Promise<{ expires_at: string }> {
  const [row] = await tx<{ expires_at: string }[]>`
    insert into public.oauth_states
      (state_hash, user_id, provider, services, access, connection_id, scopes, code_verifier,
       redirect_to)
    values (${s.stateHash}, ${s.userId}, ${s.provider}, ${s.services}::text[], ${tx.json(s.access)},
            ${s.connectionId}, ${s.scopes}::text[], ${s.codeVerifier}, ${s.redirectTo})
    returning expires_at`;
  return row;
}

export type ConsumedState = {
  user_id: string;
  provider: ProviderId;
  services: Service[];
  access: AccessMap;
  connection_id: string | null;
  scopes: string[];
  code_verifier: string;
  redirect_to: string | null;
  expired: boolean;
};

// Single use: the row is deleted by the statement that reads it, so of two
// callbacks racing with one state exactly one gets it. Expired and
// wrong-provider states are consumed too, and then refused by the caller.
export async function consumeState(tx: Tx, stateHash: string): Promise<ConsumedState | undefined> {
  const [row] = await tx<ConsumedState[]>`
    delete from public.oauth_states where state_hash = ${stateHash}
    returning user_id, provider, services, access, connection_id, scopes, code_verifier,
              redirect_to, expires_at <= now() as expired`;
  return row;
}

// As the user (RLS): authorizations still in flight, to cap them (rows: n).
// Statements sent with queryAsUser, so an API key is verified in their message.
export function pendingStates(): SqlText {
  return sql`select count(*)::int as n from public.oauth_states
              where user_id = (select auth.uid()) and expires_at > now()`;
}

export type Extensible = Pick<TokenRow, "provider" | "status" | "service_access">;

// As the user (RLS): the connection an authorization extends (rows:
// Extensible); another user's is not found.
export function connectionToExtend(id: string): SqlText {
  return sql`select provider, status, service_access from public.service_tokens
              where id = ${lit.uuid(id)}`;
}

// A connection to be, what its authorization asked for, and the hash of the
// code that completes it.
export type GrantToPark = Omit<NewConnection, "serviceAccess" | "missingAccess"> & {
  completionHash: string;
  requested: AccessMap;
};

// Encrypted by the database under the token key; null when the user is gone
// or being deleted (the caller revokes the grant then).
export async function parkGrant(tx: Tx, g: GrantToPark): Promise<string | null> {
  const [row] = await tx<{ id: string | null }[]>`
    select private.park_grant(${g.completionHash}, ${g.userId}, ${g.provider},
                              ${g.services}::text[], ${g.accountId}, ${g.email},
                              ${g.grantedScopes}::text[], ${g.expiresAt}, ${g.accessToken},
                              ${g.refreshToken}, ${tx.json(g.requested)}) as id`;
  return row.id;
}

export type TakenGrant = {
  id: string;
  user_id: string;
  provider: ProviderId;
  services: Service[];
  provider_user_id: string;
  provider_email: string | null;
  granted_scopes: string[];
  expires_at: string | null;
  expired: boolean;
  access_token: string;
  refresh_token: string | null;
  access: AccessMap;
};

// Each of these removes what it returns: a parked grant is taken once.
export async function takeParkedGrant(tx: Tx, hash: string): Promise<TakenGrant | undefined> {
  const [row] = await tx<TakenGrant[]>`select * from private.take_parked_grant(${hash})`;
  return row;
}

export function takeParkedGrantsOf(tx: Tx, userId: string): Promise<TakenGrant[]> {
  return tx<TakenGrant[]>`select * from private.take_parked_grants_of(${userId})`;
}

export function takeExpiredParkedGrants(tx: Tx, limit: number): Promise<TakenGrant[]> {
  return tx<TakenGrant[]>`select * from private.take_expired_parked_grants(${limit})`;
}

// Whether a connection may be stored for the user; holds the profile's share
// lock to the end of the transaction, which account deletion's mark waits for.
export async function mayConnect(tx: Tx, userId: string): Promise<boolean> {
  const [row] = await tx<{ ok: boolean }[]>`select private.may_connect(${userId}) as ok`;
  return row.ok;
}
