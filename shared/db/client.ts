// Postgres access. Every user request is one transaction that first assumes
// the `authenticated` role with the caller's claims, exactly as PostgREST does,
// so row-level security decides what the request can see. The setup and the
// request's first query are pipelined: one round trip, plus the commit.
import postgres from "postgres";
import { config } from "../config.ts";
import type { UserPrincipal } from "../auth/principal.ts";

export type Tx = postgres.TransactionSql;
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

async function inRole<T>(role: string, claims: object, work: (tx: Tx) => Promise<T>): Promise<T> {
  return await db().begin(async (tx) => {
    const setup = tx`select set_config('role', ${role}, true),
                            set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`
      .execute();
    const [, result] = await Promise.all([setup, work(tx)]);
    return result;
  }) as T;
}

export function asUser<T>(user: UserPrincipal, work: (tx: Tx) => Promise<T>): Promise<T> {
  return inRole("authenticated", user.claims, work);
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
