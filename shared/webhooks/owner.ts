// Whose endpoints a request manages: a signed-in user's (or their API key's),
// or the service's own, which receive every user's events.
import type { Principal } from "../auth/principal.ts";
import {
  asService,
  asUser,
  keyPending,
  queryAsService,
  queryAsUser,
  type Row,
  type Tx,
} from "../db/client.ts";
import { lit, sql, type SqlText } from "../db/literal.ts";

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

// A user's work runs as the API's user role under RLS; the service's as
// service_role. Either way the SQL also names the owner (store.ts).
export function asOwner<T>(owner: Owner, work: (tx: Tx) => Promise<T>): Promise<T> {
  return owner.kind === "user" ? asUser(owner.principal, work) : asService(work);
}

// The owner's statements in one round trip (shared/db/client.ts): as the API's
// user role under RLS, or as service_role. Returns each statement's rows.
export function queryAsOwner(owner: Owner, ...statements: SqlText[]): Promise<Row[][]> {
  return owner.kind === "user"
    ? queryAsUser(owner.principal, ...statements)
    : queryAsService(...statements);
}
