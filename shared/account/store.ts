// SQL of the account domain; every function runs in the caller's transaction.
import type { z } from "@hono/zod-openapi";
import type postgres from "postgres";
import { columnsOf } from "../db/columns.ts";
import type { Row, Tx } from "../db/client.ts";
import { lit, sql, textOf } from "../db/literal.ts";
import { table } from "../db/columns.ts";
import type { Scope } from "../auth/scopes.ts";
import { Activity, ApiKey, Profile, type UpdateProfileInput } from "./schemas.ts";

// The profile the routes return, as its schema declares it.
export const PROFILES = table("public.profiles", Profile);

export async function getProfile(tx: Tx): Promise<Profile | undefined> {
  const [row] = await tx<Profile[]>`
    select ${tx(PROFILES.columns)} from public.profiles where id = (select auth.uid())`;
  return row;
}

export async function updateProfile(
  tx: Tx,
  patch: UpdateProfileInput,
): Promise<Profile | undefined> {
  const row: Row = {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    row[key] = key === "preferences"
      ? tx.json(value as postgres.JSONValue)
      : value as string | null;
  }
  const [updated] = await tx<Profile[]>`
    update public.profiles set ${tx(row, Object.keys(row))}
     where id = (select auth.uid())
    returning ${tx(PROFILES.columns)}`;
  return updated;
}

export const ACTIVITIES = table("public.user_activities", Activity);

export async function listActivity(tx: Tx, o: { type?: string; limit: number; beforeId?: number }) {
  return await tx<Activity[]>`
    select ${tx(ACTIVITIES.columns)} from public.user_activities
     where user_id = (select auth.uid())
       ${o.type ? tx`and activity_type = ${o.type}` : tx``}
       ${o.beforeId ? tx`and id < ${o.beforeId}` : tx``}
     order by id desc
     limit ${o.limit + 1}`;
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
