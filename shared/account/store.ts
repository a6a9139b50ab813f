// SQL of the account domain; every function runs in the caller's transaction.
import type postgres from "postgres";
import type { Row, Tx } from "../db/client.ts";
import { lit, sql, textOf } from "../db/literal.ts";
import type { Scope } from "../auth/scopes.ts";
import type { UpdateProfileInput } from "./schemas.ts";

const PROFILE = [
  "id",
  "email",
  "display_name",
  "avatar_url",
  "timezone",
  "preferences",
  "created_at",
  "updated_at",
];

export type ProfileRow = {
  id: string;
  email: string | null;
  display_name: string | null;
  avatar_url: string | null;
  timezone: string;
  preferences: Record<string, unknown>;
  created_at: string;
  updated_at: string;
};

export async function getProfile(tx: Tx): Promise<ProfileRow | undefined> {
  const [row] = await tx<ProfileRow[]>`
    select ${tx(PROFILE)} from public.profiles where id = (select auth.uid())`;
  return row;
}

export async function updateProfile(
  tx: Tx,
  patch: UpdateProfileInput,
): Promise<ProfileRow | undefined> {
  const row: Row = {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    row[key] = key === "preferences"
      ? tx.json(value as postgres.JSONValue)
      : value as string | null;
  }
  const [updated] = await tx<ProfileRow[]>`
    update public.profiles set ${tx(row, Object.keys(row))}
     where id = (select auth.uid())
    returning ${tx(PROFILE)}`;
  return updated;
}

export type ActivityRow = {
  id: number;
  activity_type: string;
  details: Record<string, unknown>;
  created_at: string;
};

export async function listActivity(tx: Tx, o: { type?: string; limit: number; beforeId?: number }) {
  return await tx<ActivityRow[]>`
    select id, activity_type, details, created_at from public.user_activities
     where user_id = (select auth.uid())
       ${o.type ? tx`and activity_type = ${o.type}` : tx``}
       ${o.beforeId ? tx`and id < ${o.beforeId}` : tx``}
     order by id desc
     limit ${o.limit + 1}`;
}

export type ApiKeyRow = {
  id: string;
  name: string;
  prefix: string;
  scopes: Scope[];
  status: "active" | "expired" | "revoked";
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
};

const API_KEY_FIELDS = (tx: Tx) =>
  tx`id, name, prefix, scopes, created_at, last_used_at, expires_at, revoked_at,
     case when revoked_at is not null then 'revoked'
          when expires_at <= now() then 'expired'
          else 'active' end as status`;

export async function listApiKeys(tx: Tx): Promise<ApiKeyRow[]> {
  return await tx<ApiKeyRow[]>`
    select ${API_KEY_FIELDS(tx)} from public.api_keys
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
      returning ${API_KEY_FIELDS(tx)}`,
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
