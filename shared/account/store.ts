// SQL of the account domain; every function runs in the caller's transaction.
import type { z } from "@hono/zod-openapi";
import { columnsOf } from "../db/columns.ts";
import { ident, idents, join, lit, sql, type SqlText } from "../db/literal.ts";
import { table } from "../db/columns.ts";
import {
  Activity,
  ApiKey,
  type ApiKeyCredits,
  ApiKeyRole,
  Profile,
  type UpdateApiKeyInput,
  type UpdateProfileInput,
} from "./schemas.ts";

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
    sql: sql`case when revoked_at is not null then 'revoked'
                  when expires_at <= now() then 'expired'
                  else 'active' end`,
  },
} satisfies { [K in keyof ApiKeyRow]?: { why: string; sql: SqlText } };

const API_KEY_COLUMNS = columnsOf(ApiKey).filter((f) => !Object.hasOwn(API_KEY_COMPUTED, f));

const API_KEY_FIELDS = join([
  idents(API_KEY_COLUMNS),
  ...Object.entries(API_KEY_COMPUTED).map(([name, field]) => sql`${field.sql} as ${ident(name)}`),
], ", ");

export function listApiKeys(): SqlText {
  return sql`select ${API_KEY_FIELDS} from public.api_keys
              where user_id = (select auth.uid())
              order by created_at desc`;
}

// SQLSTATE of private.api_keys_cap's refusal: the user holds the most live keys allowed.
export const API_KEY_CAP_REACHED = "AK409";

// The columns a key's credits input sets: none given is unlimited.
function creditColumns(credits: z.infer<typeof ApiKeyCredits> | null): [string, SqlText][] {
  return [
    ["credits_remaining", lit.int(credits?.remaining ?? null)],
    ["credits_refill_interval", lit.text(credits?.refill?.interval ?? null)],
    ["credits_refill_amount", lit.int(credits?.refill?.amount ?? null)],
    [
      "credits_refill_day",
      lit.int(credits?.refill?.interval === "monthly" ? credits.refill.day ?? 1 : null),
    ],
  ];
}

type KeyFields = Omit<UpdateApiKeyInput, "credits"> & {
  credits?: z.infer<typeof ApiKeyCredits> | null;
};

// The client's fields as column literals (zod has refused anything else).
function keyColumns(input: KeyFields): [string, SqlText][] {
  const columns: [string, SqlText][] = [];
  const text = (name: string, v: string | null | undefined) => {
    if (v !== undefined) columns.push([name, lit.text(v)]);
  };
  text("name", input.name);
  if (input.scopes !== undefined) columns.push(["scopes", lit.textArray(input.scopes)]);
  if (input.role_id !== undefined) columns.push(["role_id", lit.uuid(input.role_id)]);
  if (input.expires_at !== undefined) {
    columns.push(["expires_at", lit.timestamptz(input.expires_at)]);
  }
  if (input.meta !== undefined) columns.push(["meta", lit.jsonb(input.meta)]);
  text("external_id", input.external_id);
  if (input.limits !== undefined) columns.push(["limits", lit.jsonb(input.limits)]);
  if (input.credits !== undefined) columns.push(...creditColumns(input.credits));
  return columns;
}

// The trigger private.api_keys_cap enforces maxLive, which it reads from the
// transaction's app.api_keys_max_live: set first, in the same message.
export function insertApiKey(
  k: KeyFields & { prefix: string; hash: Uint8Array },
  maxLive: number,
): SqlText[] {
  const columns: [string, SqlText][] = [
    ...keyColumns(k),
    ["prefix", lit.text(k.prefix)],
    ["key_hash", lit.bytea(k.hash)],
  ];
  return [
    sql`select set_config('app.api_keys_max_live', ${lit.int(maxLive)}::text, true)`,
    sql`insert into public.api_keys (${idents(columns.map(([c]) => c))})
        values (${join(columns.map(([, v]) => v), ", ")})
        returning ${API_KEY_FIELDS}`,
  ];
}

// Revoking twice keeps the first revocation time; no row: no such key.
export function revokeApiKey(id: string): SqlText {
  return sql`update public.api_keys set revoked_at = coalesce(revoked_at, now())
              where id = ${lit.uuid(id)} returning id`;
}

// Only a live key changes: a revoked one stays as it was revoked, and an
// expired one is not brought back past the cap on live keys. The second
// statement tells "no such key" from "not live". Credits set here restart the
// refill schedule.
export function updateApiKey(id: string, patch: UpdateApiKeyInput): SqlText[] {
  const columns = keyColumns(patch);
  if (patch.credits !== undefined) columns.push(["credits_refilled_at", sql`now()`]);
  return [
    sql`update public.api_keys set ${join(columns.map(([c, v]) => sql`${ident(c)} = ${v}`), ", ")}
         where id = ${lit.uuid(id)} and revoked_at is null
           and (expires_at is null or expires_at > now())
        returning ${API_KEY_FIELDS}`,
    keyStatus(id),
  ];
}

function keyStatus(id: string): SqlText {
  return sql`select ${API_KEY_COMPUTED.status.sql} as status from public.api_keys
              where id = ${lit.uuid(id)}`;
}

// A new secret for a live key. With a grace period the old secret's hash
// stays valid until then (a reroll during another's grace ends that one);
// the trigger private.api_keys_reroll moves the old hash.
export function rerollApiKey(
  id: string,
  k: { prefix: string; hash: Uint8Array },
  graceSeconds: number,
): SqlText[] {
  const grace = graceSeconds > 0;
  return [
    sql`update public.api_keys set
          previous_expires_at = ${
      grace ? sql`now() + ${lit.int(graceSeconds)} * interval '1 second'` : sql`null`
    },
          key_hash = ${lit.bytea(k.hash)}, prefix = ${lit.text(k.prefix)}
         where id = ${lit.uuid(id)} and revoked_at is null
           and (expires_at is null or expires_at > now())
        returning ${API_KEY_FIELDS}`,
    keyStatus(id),
  ];
}

// Usage per day and outcome, read as service_role inside the caller's
// message (the claims still name the caller, and the function keeps to the
// caller's keys); the first statement makes another user's key a 404.
export function keyUsage(id: string, days: number): SqlText[] {
  return [
    sql`select id from public.api_keys where id = ${lit.uuid(id)}`,
    sql`select set_config('role', 'service_role', true)`,
    sql`select day::text as day, outcome, requests
          from private.api_key_usage_of(${lit.uuid(id)}, ${lit.int(days)}::int)`,
  ];
}

// Roles ---------------------------------------------------------------------------------

export const API_KEY_ROLES = table("public.api_key_roles", ApiKeyRole, {
  built_in: "a role without an owner (user_id null) is built in",
});

const ROLE_FIELDS = sql`${idents(API_KEY_ROLES.columns)}, user_id is null as built_in`;

export function listRoles(): SqlText {
  return sql`select ${ROLE_FIELDS} from public.api_key_roles
              order by user_id nulls first, name`;
}

type RoleFields = { name?: string; description?: string | null; scopes?: string[] };

function roleColumns(r: RoleFields): [string, SqlText][] {
  const columns: [string, SqlText][] = [];
  if (r.name !== undefined) columns.push(["name", lit.text(r.name)]);
  if (r.description !== undefined) columns.push(["description", lit.text(r.description)]);
  if (r.scopes !== undefined) columns.push(["scopes", lit.textArray(r.scopes)]);
  return columns;
}

export function insertRole(r: RoleFields): SqlText {
  const columns = roleColumns(r);
  return sql`insert into public.api_key_roles (${idents(columns.map(([c]) => c))})
             values (${join(columns.map(([, v]) => v), ", ")})
             returning ${ROLE_FIELDS}`;
}

// RLS lets the owner change only their own roles: a built-in one is not found.
export function updateRole(id: string, r: RoleFields): SqlText {
  return sql`update public.api_key_roles
                set ${join(roleColumns(r).map(([c, v]) => sql`${ident(c)} = ${v}`), ", ")}
              where id = ${lit.uuid(id)}
             returning ${ROLE_FIELDS}`;
}

export function deleteRole(id: string): SqlText {
  return sql`delete from public.api_key_roles where id = ${lit.uuid(id)} returning id`;
}
