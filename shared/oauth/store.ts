// SQL of the oauth domain: pending authorization states. Connections are the
// tokens domain's (shared/tokens/store.ts saveConnection).
import type { Tx } from "../db/client.ts";
import type { ProviderId, Service } from "./providers.ts";

export type NewState = {
  stateHash: string;
  userId: string;
  provider: ProviderId;
  services: Service[];
  scopes: string[];
  codeVerifier: string;
  redirectTo: string | null;
};

// As the service, with the user taken from the verified token: clients have no
// privilege on oauth_states, so nobody can plant a state or a redirect_to.
export async function createState(tx: Tx, s: NewState): Promise<{ expires_at: string }> {
  const [row] = await tx<{ expires_at: string }[]>`
    insert into public.oauth_states
      (state_hash, user_id, provider, services, scopes, code_verifier, redirect_to)
    values (${s.stateHash}, ${s.userId}, ${s.provider}, ${s.services}::text[], ${s.scopes}::text[],
            ${s.codeVerifier}, ${s.redirectTo})
    returning expires_at`;
  return row;
}

export type ConsumedState = {
  user_id: string;
  provider: ProviderId;
  services: Service[];
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
    returning user_id, provider, services, scopes, code_verifier, redirect_to,
              expires_at <= now() as expired`;
  return row;
}

// As the user (RLS): authorizations still in flight, to cap them.
export async function pendingStates(tx: Tx): Promise<number> {
  const [row] = await tx<{ n: number }[]>`
    select count(*)::int as n from public.oauth_states
     where user_id = (select auth.uid()) and expires_at > now()`;
  return row.n;
}
