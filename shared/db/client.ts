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

// The transaction runs on a reserved connection so that BEGIN, the rate-limit
// hit, the role and claims, and the work's first query leave in one write:
// a single-query request costs two round trips (that batch, then COMMIT).
async function inRole<T>(
  role: string,
  claims: object,
  work: (tx: Tx) => Promise<T>,
  user?: UserPrincipal,
): Promise<T> {
  const tx = await db().reserve();
  try {
    const begin = tx`begin`.execute();
    // Raises when the window is exhausted, aborting everything after it.
    const counted = user && countRequest(tx, user);
    const setup = tx`select set_config('role', ${role}, true),
                            set_config('request.jwt.claims', ${JSON.stringify(claims)}, true),
                            set_config('synchronous_commit', ${durability(user)}, true)`.execute();
    const [, , , result] = await Promise.all([begin, counted, setup, work(tx)]);
    await tx`commit`;
    return result;
  } catch (err) {
    await tx`rollback`.catch(() => {});
    throw err;
  } finally {
    tx.release();
  }
}

// A read route writes nothing but its rate-limit counter; losing the last few
// counter increments in a crash is harmless, so it need not wait for the WAL
// flush. Anything that may write user data keeps the server's durability.
function durability(user?: UserPrincipal): string {
  return user?.scope?.endsWith(":read") ? "off" : "on";
}

// Counts the request once, on its first transaction.
function countRequest(tx: Tx, user: UserPrincipal): Promise<void> | undefined {
  if (!user.rateClass || user.rate) return undefined;
  const { limit, windowSeconds } = rateLimits()[user.rateClass];
  const query = tx<{ rate_limit: number; remaining: number; reset_seconds: number }[]>`
    select rate_limit, remaining, reset_seconds
      from private.rate_limit_hit(${bucketOf(user)}, ${user.rateClass}, ${limit}, ${windowSeconds})`
    .execute();
  return query.then(([r]) => {
    user.rate = { limit: r.rate_limit, remaining: r.remaining, reset: r.reset_seconds };
  });
}

export function asUser<T>(user: UserPrincipal, work: (tx: Tx) => Promise<T>): Promise<T> {
  return inRole("authenticated", user.claims, work, user);
}

// Service work (cron, workers, callbacks after their own checks): bypasses RLS
// as service_role, and never carries a user's claims.
export function asService<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
  return inRole("service_role", { role: "service_role" }, work);
}

export async function closeDb(): Promise<void> {
  await pool?.end({ timeout: 5 });
  pool = undefined;
}
