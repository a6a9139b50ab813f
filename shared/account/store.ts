// SQL of the account domain; every function runs in the caller's transaction.
import type { z } from "@hono/zod-openapi";
import type postgres from "postgres";
import { columnsOf } from "../db/columns.ts";
import type { Tx } from "../db/client.ts";
import { ident, idents, join, lit, sql, type SqlText, textOf } from "../db/literal.ts";
import { table } from "../db/columns.ts";
import type { Scope } from "../auth/scopes.ts";
import { Activity, ApiKey, Profile, type UpdateProfileInput } from "./schemas.ts";

// The profile the routes return, as its schema declares it.
export const PROFILES = table("public.profiles", Profile);

// The caller's profile, and its update: statements for queryAsUser (one
// round trip each). RLS and the where clause both name the caller.
export function ownProfile(): SqlText {
  return sql`select ${
    idents(PROFILES.columns)
  } from public.profiles where id = (select auth.uid())`;
}

export function updateProfile(patch: UpdateProfileInput): SqlText {
  const set = Object.entries(patch)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) =>
      sql`${ident(key)} = ${
        key === "preferences" ? lit.jsonb(value) : lit.text(value as string | null)
      }`
    );
  return sql`update public.profiles set ${join(set, ", ")}
              where id = (select auth.uid())
             returning ${idents(PROFILES.columns)}`;
}

export const ACTIVITIES = table("public.user_activities", Activity);

export function activityPage(o: { type?: string; limit: number; beforeId?: number }): SqlText {
  return sql`
    select ${idents(ACTIVITIES.columns)} from public.user_activities
     where user_id = (select auth.uid())
       ${o.type ? sql`and activity_type = ${lit.text(o.type)}` : sql``}
       ${o.beforeId ? sql`and id < ${lit.int(o.beforeId)}` : sql``}
     order by id desc
     limit ${lit.int(o.limit + 1)}`;
}

// An API key as the statements below return it: the ApiKey schema is the one
// declaration of the type and of the fields read.
export type ApiKeyRow = z.infer<typeof ApiKey>;

// ApiKey's fields that no column of public.api_keys holds: why, and the SQL
// computing each. Every other field is read from the column of its name, so
// no field can go unread: one that is neither fails the statement, and
// tests/shared/row-columns.test.ts holds both lists to the table.
export const API_KEY_COMPUTED = {
  status: {
    why: "decided from revoked_at and expires_at on the database's clock",
    sql: (tx: Tx) =>
      tx`case when revoked_at is not null then 'revoked'
              when expires_at <= now() then 'expired'
              else 'active' end`,
  },
} satisfies { [K in keyof ApiKeyRow]?: { why: string; sql: (tx: Tx) => postgres.Fragment } };

const API_KEY_COLUMNS = columnsOf(ApiKey).filter((f) => !Object.hasOwn(API_KEY_COMPUTED, f));

const apiKeyFields = (tx: Tx) =>
  Object.entries(API_KEY_COMPUTED).reduce(
    (fields, [name, field]) => tx`${fields}, ${field.sql(tx)} as ${tx(name)}`,
    tx`${tx(API_KEY_COLUMNS)}`,
  );

export async function listApiKeys(tx: Tx): Promise<ApiKeyRow[]> {
  return await tx<ApiKeyRow[]>`
    select ${apiKeyFields(tx)} from public.api_keys
     where user_id = (select auth.uid())
     order by created_at desc`;
}

// SQLSTATE of private.api_keys_cap's refusal: the user holds the most live keys allowed.
export const API_KEY_CAP_REACHED = "AK409";

// The trigger private.api_keys_cap enforces maxLive, which it reads from the
// transaction's app.api_keys_max_live: set first, in one pipeline with the insert.
export async function insertApiKey(
  tx: Tx,
  k: { name: string; prefix: string; hash: Uint8Array; scopes: Scope[]; expiresAt?: string },
  maxLive: number,
): Promise<ApiKeyRow> {
  const [, [row]] = await Promise.all([
    tx.unsafe(
      textOf(sql`select set_config('app.api_keys_max_live', ${lit.int(maxLive)}::text, true)`),
    )
      .execute(),
    tx<ApiKeyRow[]>`
      insert into public.api_keys (name, prefix, key_hash, scopes, expires_at)
      values (${k.name}, ${k.prefix}, ${k.hash}, ${k.scopes}, ${k.expiresAt ?? null})
      returning ${apiKeyFields(tx)}`,
  ]);
  return row;
}

// Revoking twice keeps the first revocation time; a missing key is false.
export async function revokeApiKey(tx: Tx, id: string): Promise<boolean> {
  const rows = await tx`
    update public.api_keys set revoked_at = coalesce(revoked_at, now())
     where id = ${id} returning id`;
  return rows.length === 1;
}
