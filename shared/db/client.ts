// Postgres access. Every user request is one transaction that first assumes
// the `authenticated` role with the caller's claims, exactly as PostgREST does,
// so row-level security decides what the request can see.
import postgres from "postgres";
import { config } from "../config.ts";
import type { UserPrincipal } from "../auth/principal.ts";
import { bucketOf, rateLimits } from "../http/rate-limit.ts";

// The connection a request's transaction runs on.
export type Tx = postgres.ReservedSql;
export type Sql = postgres.Sql;
export type Row = Record<string, postgres.ParameterOrJSON<never>>;

let pool: Sql | undefined;

export function db(): Sql {
  return pool ??= postgres(config().SUPABASE_DB_URL, {
    prepare: false, // Supavisor's transaction mode cannot keep prepared statements.
    max: config().DB_POOL_SIZE,
    idle_timeout: 30,
    connect_timeout: 5,
    onnotice: () => {},
    types: jsonSafeTypes,
  });
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

// The transaction runs on a reserved connection. With `prepare: false`
// postgres.js describes every parameterized statement before running it (one
// extra round trip each) and stops pipelining behind it, so the request's
// setup carries no parameters: BEGIN, the setup and the work's first statement
// leave in one write.
async function inRole<T>(
  role: string,
  claims: object,
  work: (tx: Tx) => Promise<T>,
  user?: UserPrincipal,
): Promise<T> {
  const tx = await db().reserve();
  let pending: Promise<unknown> | undefined;
  try {
    const begin = tx`begin`.execute();
    const setup = tx.unsafe<SetupRow[]>(setupStatement(role, claims, user)).execute();
    const running = work(tx);
    pending = running;
    const [, rows, result] = await Promise.all([begin, setup, running]);
    const hit = rows[0];
    if (user && hit?.rate_limit) {
      user.rate = { limit: hit.rate_limit, remaining: hit.remaining, reset: hit.reset_seconds };
    }
    await tx`commit`;
    return result;
  } catch (err) {
    // The work must be finished before the connection leaves this
    // transaction: a statement sent after ROLLBACK would run without the
    // role and claims.
    await pending?.catch(() => {});
    await tx`rollback`.catch(() => {});
    throw err;
  } finally {
    tx.release();
  }
}

type SetupRow = { rate_limit?: number; remaining: number; reset_seconds: number };

// One statement: the rate-limit hit (it raises when the window is exhausted,
// aborting everything after it) in FROM, so it runs before the projection
// switches role and claims. Values are quoted literals: the claims come from a
// verified token and every other value is ours.
function setupStatement(role: string, claims: object, user?: UserPrincipal): string {
  const config = `set_config('role', ${literal(role)}, true) as role,
    set_config('request.jwt.claims', ${literal(JSON.stringify(claims))}, true) as claims,
    set_config('synchronous_commit', ${literal(durability(user))}, true) as durability`;
  if (!user?.rateClass || user.rate) return `select ${config}`;
  const { limit, windowSeconds } = rateLimits()[user.rateClass];
  return `select r.rate_limit, r.remaining, r.reset_seconds, ${config}
    from private.rate_limit_hit(${literal(bucketOf(user))}, ${literal(user.rateClass)},
                                ${Math.trunc(limit)}, ${Math.trunc(windowSeconds)}) r`;
}

// A standard SQL string literal (standard_conforming_strings is on in every
// supported Postgres): quotes doubled; NUL cannot occur in JSON or our values.
function literal(value: string): string {
  if (value.includes("\u0000")) throw new Error("NUL in an SQL literal");
  return `'${value.replaceAll("'", "''")}'`;
}

// A read route writes nothing but its rate-limit counter; losing the last few
// counter increments in a crash is harmless, so it need not wait for the WAL
// flush. Anything that may write user data keeps the server's durability.
function durability(user?: UserPrincipal): string {
  return user?.scope?.endsWith(":read") ? "off" : "on";
}

export function asUser<T>(user: UserPrincipal, work: (tx: Tx) => Promise<T>): Promise<T> {
  return inRole("authenticated", user.claims, work, user);
}

// Service work (cron, workers, callbacks after their own checks): bypasses RLS
// as service_role, and never carries a user's claims.
export function asService<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
  return inRole("service_role", { role: "service_role" }, work);
}
