// Postgres access. Every user request is one transaction that first assumes
// the API's user role with the caller's claims, as PostgREST assumes
// `authenticated`, so row-level security decides what the request can see.
import postgres from "postgres";
import { config } from "../config.ts";
import { isDatabaseUnavailable } from "../core/errors.ts";
import { log } from "../core/log.ts";
import { lit, sql, type SqlText, textOf } from "./literal.ts";

// The connection a request's transaction runs on.
export type Tx = postgres.ReservedSql;
export type Sql = postgres.Sql;
export type Row = Record<string, postgres.ParameterOrJSON<never>>;

// Seconds one connection attempt may take; also how long a transaction waits
// for a connection before the pool is judged wedged.
const CONNECT_TIMEOUT = 5;

// A pool and the requests waiting on it for a connection (told when it is
// replaced). Waiters register and leave one by one: racing every request
// against one long-lived promise would keep a reaction per request alive.
type Pool = { sql: Sql; waiters: Set<() => void> };
let pool: Pool | undefined;

function currentPool(): Pool {
  if (pool) return pool;
  const sql = postgres(config().DB_URL, {
    prepare: false, // Supavisor's transaction mode cannot keep prepared statements.
    max: config().DB_POOL_SIZE,
    idle_timeout: 30,
    connect_timeout: CONNECT_TIMEOUT,
    // postgres.js's default backoff grows with every failed connect across
    // the pool, to 20 s: after a database restart, requests queued for a
    // connection would wait that long. A short, flat one keeps them failing
    // fast (503) while it is down and resuming as soon as it is back.
    backoff: () => 0.1 + Math.random() * 0.1,
    onnotice: () => {},
    types: jsonSafeTypes,
  });
  return pool = { sql, waiters: new Set() };
}

export function db(): Sql {
  return currentPool().sql;
}

// Rows go straight to JSON responses: counters as numbers (bigint and numeric
// values here stay far below 2^53), timestamps as ISO strings.
const jsonSafeTypes = {
  bigint: { to: 20, from: [20], serialize: String, parse: Number },
  numeric: { to: 0, from: [1700], serialize: String, parse: Number },
  date: {
    to: 1184,
    from: [1082, 1114, 1184],
    serialize: (x: Date | string) => (x instanceof Date ? x.toISOString() : x),
    parse: (x: string) => new Date(x).toISOString(),
  },
};

// A connection for one transaction, or a 503 in bounded time. A pool that
// cannot hand one out within a connect timeout is judged wedged and replaced:
// its waiters move to the new pool, and statements running on it get that
// long to finish. (Replacing a pool on every failed connect instead left the
// old pools reconnecting for their queued waiters once the database was back:
// 120 connections after one restart, where 4 belong.)
async function reserve(deadline = Date.now() + CONNECT_TIMEOUT * 1000): Promise<Tx> {
  const current = currentPool();
  const reserving = current.sql.reserve();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onRetired = () => {};
  const interrupted = new Promise<"retired" | "expired">((resolve) => {
    timer = setTimeout(() => resolve("expired"), Math.max(0, deadline - Date.now()));
    onRetired = () => resolve("retired");
    current.waiters.add(onRetired);
  });
  let outcome: Tx | "retired" | "expired";
  try {
    outcome = await Promise.race([reserving, interrupted]);
  } finally {
    clearTimeout(timer);
    current.waiters.delete(onRetired);
  }
  if (typeof outcome !== "string") return outcome;
  reserving.then((late) => late.release(), () => {});
  if (outcome === "retired") return reserve(deadline);
  retire(current);
  throw Object.assign(new Error("no database connection in time"), { code: "CONNECT_TIMEOUT" });
}

function retire(old: Pool): void {
  if (pool !== old) return;
  log("warn", "database pool replaced: no connection within the connect timeout");
  pool = undefined;
  for (const waiter of old.waiters) waiter();
  old.sql.end({ timeout: CONNECT_TIMEOUT }).catch(() => {});
}

// The transaction runs on a reserved connection. With `prepare: false`
// postgres.js describes every parameterized statement before running it (one
// extra round trip each) and stops pipelining behind it, so the request's
// setup carries no parameters: BEGIN, the setup and the work's first statement
// leave in one write.
// A key to verify (asServiceFor, asUserWithKey) goes between BEGIN and the
// setup, as the login role, in the same write.
async function inRole<T>(
  role: string,
  claims: object | null,
  work: (tx: Tx) => Promise<T>,
  key?: { user: DbUser; check: KeyCheck },
): Promise<T> {
  const reserved = await reserve();
  const link = new Link(reserved);
  let pending: Promise<unknown> | undefined;
  let verifying: Promise<void> | undefined;
  try {
    const begin = reserved.unsafe("begin", [], link.watch).execute();
    verifying = key && verifyInTransaction(reserved, key.user, key.check);
    const setup = reserved.unsafe(setupStatement(role, claims)).execute();
    const running = work(link.tx);
    pending = running;
    const [, , , result] = await link.race(Promise.all([begin, verifying, setup, running]));
    await link.race(reserved`commit`.execute());
    return result;
  } catch (err) {
    // The work must be finished before the connection leaves this
    // transaction: a statement sent after ROLLBACK would run without the
    // role and claims. A lost connection ends both waits; one the server is
    // dropping (it said so) has nothing left to roll back.
    await link.race(Promise.resolve(pending)).catch(() => {});
    // A refused key aborted the transaction: the statements after it failed
    // too, and may have been heard first; the refusal is the answer.
    const refused = verifying && await link.race(verifying).then(() => undefined, (e) => e);
    if (!link.lost && !isDatabaseUnavailable(err)) {
      await link.race(reserved`rollback`.execute()).catch(() => {});
    }
    throw refused ?? err;
  } finally {
    link.end();
  }
}

// One transaction's hold on its connection. postgres.js settles a reserved
// connection's statements when the server errs or the socket breaks, but a
// statement written after the server closed the connection (a restart, a
// terminated backend) waits forever, its bytes are left to prefix the next
// connection's startup message, and release() would file the dead connection
// as open. So the transaction races the connection's close (as postgres.js's
// own begin() does, through the same `onexecute` hook; postgres 3.4.9 is
// pinned), the work's statements are refused once the connection is lost or
// the transaction is over, and a lost connection is never released: the pool
// already holds it as closed and reconnects it on demand.
type PgConnection = { onclose: ((err: Error) => void) | null };
type PgQuery = Promise<unknown> & { handler: (q: PgQuery) => void; reject: (e: Error) => void };

class Link {
  lost = false;
  #ended = false;
  #connection?: PgConnection;
  #closed: Promise<never>;
  #onClose: (err: Error) => void = () => {};
  readonly tx: Tx;
  readonly watch = {
    onexecute: (c: PgConnection) => {
      this.#connection = c;
      c.onclose = (err) => {
        this.lost = true;
        this.#onClose(err);
      };
      return true; // more statements may be pipelined behind this one
    },
  } as postgres.UnsafeQueryOptions;

  constructor(private readonly reserved: Tx) {
    this.#closed = new Promise<never>((_, reject) => (this.#onClose = reject));
    this.#closed.catch(() => {});
    this.tx = this.#fenced(reserved);
  }

  race<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.#closed]);
  }

  end(): void {
    this.#ended = true;
    if (this.#connection) this.#connection.onclose = null;
    if (!this.lost) this.reserved.release();
  }

  // The work's view of the connection: statements run only while the
  // transaction holds a live connection, checked when they are sent.
  #fenced(reserved: Tx): Tx {
    const fence = <Q>(q: Q): Q => {
      if (!(q instanceof Promise)) return q; // a fragment or helper, not a statement
      const query = q as unknown as PgQuery;
      const send = query.handler;
      query.handler = (x) =>
        this.lost || this.#ended
          ? x.reject(Object.assign(new Error("the transaction's connection is gone"), {
            code: "CONNECTION_CLOSED",
          }))
          : send(x);
      return q;
    };
    return new Proxy(reserved, {
      apply: (target, self, args) => fence(Reflect.apply(target, self, args)),
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver);
        return prop === "unsafe"
          ? (...args: Parameters<Tx["unsafe"]>) => fence(target.unsafe(...args))
          : value;
      },
    });
  }
}

// One statement of literals: the claims come from a verified token and the
// role is ours. Claims null: a key's verification earlier in the same
// transaction has set them (asUserWithKey).
function setupStatement(role: string, claims: object | null): string {
  if (claims === null) {
    return textOf(sql`select set_config('role', ${lit.text(role)}, true) as role`);
  }
  return textOf(sql`select set_config('role', ${lit.text(role)}, true) as role,
    set_config('request.jwt.claims', ${lit.text(JSON.stringify(claims))}, true) as claims`);
}

// The user's work runs as `oprina_api_user`: a member of `authenticated` (its
// reads and RLS policies) that also holds the writes the API makes, which
// `authenticated`, the Data API's role, no longer has. PostgREST cannot switch
// to it (it is not granted to `authenticator`), so writes go through the API.
export const API_USER_ROLE = "oprina_api_user";

export async function asUser<T>(user: DbUser, work: (tx: Tx) => Promise<T>): Promise<T> {
  await verifyKeyFirst(user);
  return inRole(API_USER_ROLE, user.claims, work);
}

// As asUser, for work written to take a key still to be verified (the
// webhook transactions): its verification rides in the transaction's first
// write and sets the owner's claims, which RLS then reads. The work names the
// owner in its first statement only by those claims (auth.uid()), and reads
// the caller only after that statement and `await verifyKeyFirst(user)`.
export async function asUserWithKey<T>(user: DbUser, work: (tx: Tx) => Promise<T>): Promise<T> {
  const check = takeCheck(user);
  if (check) return await inRole(API_USER_ROLE, null, work, { user, check });
  await (user as PendingKeyPrincipal).verifying;
  return await inRole(API_USER_ROLE, user.claims, work);
}

// An API key's verification that has not run yet (shared/auth/key-check.ts):
// its statement (which sets the owner's claims or raises the refusal), how
// to read its answer, and how to read a refusal it raised.
export type KeyCheck = {
  prelude: SqlText;
  settle: (verdictRow: Row | undefined) => void;
  refusal: (err: unknown) => Error | undefined;
};

// Whom a user's message runs for, as far as this layer needs to know: the
// claims RLS reads (shared/auth/principal.ts's UserPrincipal is one). The
// database layer sits below auth, so it names no principal type of its own.
export type DbUser = { readonly claims: object };

// An API key whose verification rides on the request's first message: the
// middleware of a one-trip route sets keyCheck, the first message takes it.
export type KeyPending = { keyCheck?: KeyCheck; verifying?: Promise<void> };
type PendingKeyPrincipal = DbUser & KeyPending;

function takeCheck(user: DbUser): KeyCheck | undefined {
  const pending = user as PendingKeyPrincipal;
  const check = pending.keyCheck;
  pending.keyCheck = undefined;
  return check;
}

// A transaction on a reserved connection cannot carry the check in its
// message: the key is verified alone first (one more round trip).
export async function verifyKeyFirst(user: DbUser): Promise<void> {
  const pending = user as PendingKeyPrincipal;
  const check = takeCheck(user);
  if (check) {
    pending.verifying = (async () => {
      try {
        const [row] = await db().unsafe(textOf(check.prelude));
        check.settle(row);
      } catch (err) {
        throw check.refusal(err) ?? err;
      }
    })();
  }
  await pending.verifying;
}

// Service work (cron, workers, callbacks after their own checks): bypasses RLS
// as service_role, and never carries a user's claims.
export function asService<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
  return inRole("service_role", { role: "service_role" }, work);
}

// Service work a user asked for, as a transaction (the OAuth completion,
// which takes a parked grant only the service may read): with a key still to
// be verified, its verification rides in the transaction's first write, and
// the service's claims then replace the owner's it set (the work names the
// user itself). The work reads the caller only after its first statement and
// `await verifyKeyFirst(user)`, which by then waits for that answer only; a
// refusal aborts the transaction, so the work's statements change nothing.
export function asServiceFor<T>(user: DbUser, work: (tx: Tx) => Promise<T>): Promise<T> {
  const check = takeCheck(user);
  return inRole("service_role", { role: "service_role" }, work, check && { user, check });
}

// The verification as a statement of a transaction: the caller's principal
// waits on it (verifyKeyFirst), settled or refused.
function verifyInTransaction(reserved: Tx, user: DbUser, check: KeyCheck): Promise<void> {
  const verifying = reserved.unsafe(textOf(check.prelude)).execute().then(
    ([row]) => check.settle(row),
    (err) => {
      throw check.refusal(err) ?? err;
    },
  );
  verifying.catch(() => {}); // awaited by inRole; nobody else need wait for it
  (user as PendingKeyPrincipal).verifying = verifying;
  return verifying;
}

// A request in one round trip (see literal.ts): the role, the claims and the
// statements leave in one simple-protocol message. Postgres runs a message of
// several statements as one implicit transaction, all or nothing, and ends it
// with the message, so the local settings end with it and the pooled
// connection goes back clean: no BEGIN, no COMMIT, no reserved connection.
// Returns each statement's rows, in order.
export async function queryAsUser(user: DbUser, ...statements: SqlText[]): Promise<Row[][]> {
  const check = takeCheck(user);
  if (check) return await keyTrip(user, check, statements);
  await (user as PendingKeyPrincipal).verifying;
  return oneTrip(API_USER_ROLE, user.claims, statements);
}

// The message of a request made with an API key not verified yet: its
// verification first, as the login role (it sets the owner's claims, or
// raises the refusal, which rolls the message back), then the role and the
// work, all one transaction. Returns each statement's rows.
async function keyTrip(
  user: DbUser,
  check: KeyCheck,
  statements: SqlText[],
  role = API_USER_ROLE,
) {
  const pending = user as PendingKeyPrincipal;
  let done = () => {};
  pending.verifying = new Promise<void>((resolve) => (done = resolve));
  try {
    const [verdict, ...rest] = await oneTrip(role, null, statements, [check.prelude]);
    check.settle(verdict[0]);
    return rest;
  } catch (err) {
    throw check.refusal(err) ?? err;
  } finally {
    done();
  }
}

export function queryAsService(...statements: SqlText[]): Promise<Row[][]> {
  return oneTrip("service_role", { role: "service_role" }, statements);
}

// Whether a user's API key is still to be verified by their first message:
// its owner is known to the database (the claims the verification sets), not
// yet to the route.
export function keyPending(user: DbUser): boolean {
  return (user as PendingKeyPrincipal).keyCheck !== undefined;
}

// Service work a user asked for, in one message (the access-token vend, which
// reads a secret only the service may): with a key still to be verified, its
// verification goes first and leaves the owner's claims set, so the
// statements name the subject by those claims (shared/tokens/store.ts
// CLAIMED_USER), one round trip; otherwise as queryAsService.
export async function queryAsServiceFor(
  user: DbUser,
  ...statements: SqlText[]
): Promise<Row[][]> {
  const check = takeCheck(user);
  if (check) return await keyTrip(user, check, statements, "service_role");
  await (user as PendingKeyPrincipal).verifying;
  return await queryAsService(...statements);
}

// As queryAsUser, after a statement that is committed on its own first (as
// the login role, in the same message), so it stands whatever the rest does:
// a rate-limit hit that counts even when the request then fails. Returns the
// prelude's rows, then each statement's.
export async function queryAsUserAfter(
  prelude: SqlText,
  user: DbUser,
  ...statements: SqlText[]
): Promise<[Row[], ...Row[][]]> {
  // The verification cannot precede a prelude that commits (the claims it
  // sets would end with that transaction): it runs alone first.
  await verifyKeyFirst(user);
  const [first, ...rest] = await oneTrip(API_USER_ROLE, user.claims, statements, [
    prelude,
    sql`commit`,
  ]);
  return [first, ...rest];
}

// claims null: the prelude's key verification has set them (keyTrip).
async function oneTrip(
  role: string,
  claims: object | null,
  statements: SqlText[],
  prelude: SqlText[] = [],
): Promise<Row[][]> {
  if (statements.length === 0) throw new TypeError("oneTrip: no statement");
  // standard_conforming_strings decides how a literal is read: every
  // supported Postgres has it on, and a server that does not is refused.
  const setup = claims === null
    ? sql`select set_config('role', ${lit.text(role)}, true),
    current_setting('standard_conforming_strings') as scs`
    : sql`select set_config('role', ${lit.text(role)}, true),
    set_config('request.jwt.claims', ${lit.text(JSON.stringify(claims))}, true),
    current_setting('standard_conforming_strings') as scs`;
  const text = messageText(prelude, setup, statements);
  // On a reserved connection held through a Link, like a transaction: a
  // connection that dies under the message fails it at once (503), instead of
  // leaving it waiting on a socket the server has closed.
  const reserved = await reserve();
  const link = new Link(reserved);
  try {
    const all = await link.race(
      reserved.unsafe(text, [], link.watch).execute(),
    ) as unknown as Row[][];
    // The setup's row marks where the statements' results begin (a COMMIT in
    // the prelude gives no result of its own); what comes before is the
    // prelude's rows.
    const at = all.findIndex((rows) => rows[0] !== undefined && "scs" in rows[0]);
    if (at < 0 || all[at][0].scs !== "on") {
      throw new Error("standard_conforming_strings is off");
    }
    // DURABLE, a SET, gives no result of its own either.
    return [...all.slice(0, at), ...all.slice(at + 1)];
  } finally {
    link.end();
  }
}

// The counters a request writes on the way (rate-limit hits, a key's
// last_used_at) set synchronous_commit off for their transaction: losing one
// in a crash only forgives a request. In one message that transaction is also
// the request's work, so the message ends by putting the server's own setting
// back, and what the request stored is committed as durably as anything else.
// A message that wrote nothing commits without a WAL flush either way.
const DURABLE = sql`set local synchronous_commit to default`;

// The text of one message: the prelude (a key's verification, or a hit
// committed first), the setup (role, claims), the work, and DURABLE last.
export function messageText(prelude: SqlText[], setup: SqlText, statements: SqlText[]): string {
  return [...prelude, setup, ...statements, DURABLE].map(textOf).join(";\n");
}
