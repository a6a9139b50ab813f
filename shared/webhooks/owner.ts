// Whose endpoints a request manages: a signed-in user's (or their API key's),
// or the service's own, which receive every user's events.
import type { Principal } from "../auth/principal.ts";
import {
  asService,
  asUserWithKey,
  keyPending,
  queryAsService,
  queryAsUser,
  type Row,
  type Tx,
  verifyKeyFirst,
} from "../db/client.ts";
import { lit, sql, type SqlText } from "../db/literal.ts";
import type { OwnerRef } from "./store.ts";

export type Owner =
  | { kind: "user"; principal: Extract<Principal, { kind: "user" }> }
  | { kind: "service" };

export function ownerOf(principal: Principal): Owner {
  return principal.kind === "user" ? { kind: "user", principal } : { kind: "service" };
}

// The owner's id as stored in user_id: null for the service.
export function ownerId(owner: Owner): string | null {
  return owner.kind === "user" ? owner.principal.userId : null;
}

// The owner's id as SQL, for statements sent with queryAsOwner: null for the
// service, the user's id, or for an API key still to be verified (one-trip
// routes) the owner its verification sets in the claims, first in the same
// message: nobody knows whose key it is before that message runs.
export function ownerSql(owner: Owner): SqlText {
  if (owner.kind === "service") return lit.uuid(null);
  return keyPending(owner.principal) ? sql`(select auth.uid())` : lit.uuid(owner.principal.userId);
}

// The owner in a transaction's statements (store.ts getEndpoint), as ownerSql;
// taken before asOwner, which takes the key's pending check.
export function ownerRef(owner: Owner): OwnerRef {
  if (owner.kind === "service") return null;
  return keyPending(owner.principal) ? { claims: true } : owner.principal.userId;
}

// A user's work runs as the API's user role under RLS; the service's as
// service_role. Either way the SQL also names the owner (store.ts). An API
// key still to be verified rides in the transaction's first write: the work
// names the owner by ownerRef in its first statement, and awaits ownerKnown
// before anything reads ownerId.
export function asOwner<T>(owner: Owner, work: (tx: Tx) => Promise<T>): Promise<T> {
  return owner.kind === "user" ? asUserWithKey(owner.principal, work) : asService(work);
}

// Once the transaction's first statement has answered: the key (if any) is
// verified, or its refusal is thrown.
export async function ownerKnown(owner: Owner): Promise<void> {
  if (owner.kind === "user") await verifyKeyFirst(owner.principal);
}

// The owner's statements in one round trip (shared/db/client.ts): as the API's
// user role under RLS, or as service_role. Returns each statement's rows.
export function queryAsOwner(owner: Owner, ...statements: SqlText[]): Promise<Row[][]> {
  return owner.kind === "user"
    ? queryAsUser(owner.principal, ...statements)
    : queryAsService(...statements);
}
