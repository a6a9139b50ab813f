// Users as GoTrue writes them: GoTrue makes the id itself (auth.users.id has
// no default), sets aud and role, and keeps e-mail unique only among non-SSO
// users (a partial index). The local stack, the tests and the benchmarks all
// create users through here, as `postgres` may on a project.
import type postgres from "postgres";

export type NewUser = {
  email: string;
  appMetadata?: Record<string, unknown>;
  // An anonymous sign-in, as GoTrue stores one: is_anonymous, no e-mail.
  anonymous?: boolean;
};

// Inserts a user and returns its id.
export async function insertAuthUser(sql: postgres.Sql, u: NewUser): Promise<string> {
  const meta = { provider: "email", providers: ["email"], ...u.appMetadata };
  const anonymous = u.anonymous ?? false;
  const [row] = await sql<{ id: string }[]>`
    insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data,
                            email_confirmed_at, created_at, updated_at, is_anonymous)
    values (gen_random_uuid(), 'authenticated', 'authenticated', ${anonymous ? null : u.email},
            ${sql.json(meta as postgres.JSONValue)}, '{}', ${anonymous ? null : sql`now()`},
            now(), now(), ${anonymous})
    returning id`;
  return row.id;
}

// The user with this e-mail, its app metadata replaced; created when missing.
export async function upsertAuthUser(sql: postgres.Sql, u: NewUser): Promise<string> {
  const meta = { provider: "email", providers: ["email"], ...u.appMetadata };
  const [found] = await sql<{ id: string }[]>`
    update auth.users set raw_app_meta_data = ${sql.json(meta)}, updated_at = now()
     where email = ${u.email} and not is_sso_user returning id`;
  return found?.id ?? await insertAuthUser(sql, u);
}
