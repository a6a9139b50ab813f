// The caller's connections the unified API can use, and which of them an
// operation runs on. One database round trip, as the user (RLS decides: another
// user's connection is not found).
import type { UserPrincipal } from "../auth/principal.ts";
import { queryAsUser } from "../db/client.ts";
import { AppError, notFound } from "../core/errors.ts";
import { connectionExhausted, needsReauth } from "../tokens/refresh.ts";
import { type TokenRow, tokensPage } from "../tokens/store.ts";
import type { SqlText } from "../db/literal.ts";
import {
  allows,
  isUnifiedProvider,
  OPERATION_NAMES,
  type OperationName,
  SCOPE_TABLE,
  type UnifiedProvider,
} from "./scopes.ts";

export type Connection = {
  id: string;
  provider: UnifiedProvider;
  email: string | null;
  scopes: string[];
  status: TokenRow["status"];
  // Why refreshing fails, for an exhausted connection's answer.
  failure: Pick<TokenRow, "id" | "last_error_code" | "failing_since">;
};

// More than anyone connects; the list is read whole, in one statement.
const MAX_CONNECTIONS = 100;

// The statement that reads them: connectionsOf sends it alone, the chat turn
// inside its first round trip (shared/chat/tools/unified.ts).
export const connectionsRead = (): SqlText =>
  tokensPage({ includeRevoked: false, limit: MAX_CONNECTIONS });

export async function connectionsOf(user: UserPrincipal): Promise<Connection[]> {
  const [rows] = await queryAsUser(user, connectionsRead()) as unknown as [TokenRow[]];
  return toConnections(rows);
}

export function toConnections(rows: TokenRow[]): Connection[] {
  return rows.filter((r) => isUnifiedProvider(r.provider)).map((r) => ({
    id: r.id,
    provider: r.provider as UnifiedProvider,
    email: r.provider_email,
    scopes: r.granted_scopes,
    status: r.status,
    failure: { id: r.id, last_error_code: r.last_error_code, failing_since: r.failing_since },
  }));
}

export function scopeError(c: Connection, op: OperationName): AppError {
  const rule = SCOPE_TABLE[op][c.provider];
  const name = c.provider === "google" ? "Google" : "Microsoft";
  return new AppError(
    "insufficient_provider_scope",
    `the ${name} connection was not granted ${rule.service} access for ${op}: reconnect ` +
      `${name} with the ${rule.service} service (POST /oauth/authorize)`,
    {
      connection_id: c.id,
      provider: c.provider,
      service: rule.service,
      operation: op,
      accepted_scopes: rule.anyOf,
    },
  );
}

// The one connection an operation on a known connection (an id, or a given
// connection_id) runs on; its grant must allow the operation.
export function theConnection(all: Connection[], id: string, op: OperationName): Connection {
  const c = all.find((x) => x.id === id.toLowerCase());
  if (!c) throw notFound("connection");
  if (!allows(c.provider, op, c.scopes)) throw scopeError(c, op);
  return c;
}

const AREA: Record<OperationName, string> = {
  list_events: "calendar",
  get_event: "calendar",
  create_event: "calendar",
  free_busy: "calendar",
  search_mail: "mail",
  read_mail: "mail",
  create_draft: "mail",
  send_draft: "mail",
};

// Connections a merged read or an unnamed write uses: healthy, or failing for
// a passing reason (their token is still served). Exhausted and needs_reauth
// ones wait for the user; named by id they answer what the vault says.
const LIVE: ReadonlySet<Connection["status"]> = new Set(["active", "refresh_failing"]);
export const isLive = (c: Connection) => LIVE.has(c.status);

// The operations some live connection's grant allows: what the agent is offered.
export function allowedBy(all: Connection[]): OperationName[] {
  const live = all.filter(isLive);
  return OPERATION_NAMES.filter((op) => live.some((c) => allows(c.provider, op, c.scopes)));
}

// Reads without connection_id: every live connection whose grant allows the
// operation. None allows it but some could (its scope is missing): 403 naming
// what to reconnect. Only connections waiting for the user: 409. None: 404.
export function readable(all: Connection[], op: OperationName): Connection[] {
  const usable = all.filter((c) => isLive(c) && allows(c.provider, op, c.scopes));
  if (usable.length) return usable;
  const lacking = all.find(isLive);
  if (lacking) throw scopeError(lacking, op);
  const stale = all.find((c) => c.status !== "revoked" && allows(c.provider, op, c.scopes));
  if (stale?.status === "exhausted") {
    throw connectionExhausted(stale.failure);
  }
  if (stale) throw needsReauth(null);
  throw notFound(`an active Google or Microsoft connection for ${AREA[op]}`);
}

// Writes without connection_id: the one connection that allows it; with
// several, the caller must choose (400 connection_required, listing them).
export function writable(all: Connection[], op: OperationName): Connection {
  const usable = readable(all, op);
  if (usable.length === 1) return usable[0];
  throw new AppError(
    "connection_required",
    `several connections can ${op.replace("_", " ")}: name one in connection_id`,
    { connections: usable.map((c) => ({ id: c.id, provider: c.provider })) },
  );
}
