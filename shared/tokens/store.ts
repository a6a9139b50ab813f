// SQL of the tokens domain. Functions taking a user transaction (asUser) rely
// on RLS for visibility; functions taking a service transaction (asService)
// always name the token, and the user where one is acting. Secrets go in and
// out only through the private.*token_secrets functions: this file never sees
// ciphertext, and plaintext only as parameters and results of those calls.
import type { z } from "@hono/zod-openapi";
import { columnsOf } from "../db/columns.ts";
import type { Tx } from "../db/client.ts";
import type { AccessMap, ProviderId, Service } from "../providers/definitions.ts";
import {
  type CleanupResult,
  type ProviderRevocation,
  ServiceToken,
  type TokenStats,
} from "./schemas.ts";
import { idents, lit, sql, type SqlText, textOf } from "../db/literal.ts";

// A connection as every statement below returns it: the ServiceToken schema is
// the one declaration, of the type and of the columns read.
export type TokenRow = z.infer<typeof ServiceToken>;
const TOKEN_COLUMNS = columnsOf(ServiceToken);

// A locked row with what the refresh decision needs, computed on the
// database's clock. Internal: answered only through rowOf.
export type LockedToken = TokenRow & { due: boolean; seconds_left: number };

export function rowOf({ due: _, seconds_left: _left, ...row }: LockedToken): TokenRow {
  return row;
}

// Due at vend time: expiring within the window, or within half the token's
// lifetime when that is shorter (so short-lived tokens are not refreshed on
// every call). The scheduler has its own rule, refresh_due_at (kept by the
// database, see claimDueToken).
const due = (tx: Tx, windowSeconds: number) =>
  tx`expires_at - least(make_interval(secs => ${windowSeconds}), (expires_at - issued_at) / 2) <= now()`;

// The same condition as literal SQL, for statements sent in one round trip.
const dueText = (windowSeconds: number) =>
  sql`t.expires_at - least(make_interval(secs => ${lit.int(windowSeconds)}::int),
                           (t.expires_at - t.issued_at) / 2) <= now()`;

export type FreshGrant = TokenRow & { access_token: string };

// The connections whose access token is served while it is valid: a
// refresh_failing one still works (the agent can too), and an exhausted one
// hands out what it has without calling the provider (also markUsedIfFresh).
const SERVABLE = sql`('active', 'refresh_failing', 'exhausted')`;

// Which connection a vend means, healthy ones first (as findForAccess).
const ACCESS_ORDER = sql`status in ('active', 'refresh_failing') desc,
                         last_used_at desc nulls last, connected_at desc`;

// The common case of access-token in one statement (and one round trip, as
// the service): the user's connection, chosen as findForAccess chooses,
// locked, counted as used and read with its access token, only when servable
// and not due. No row: not found, needs reauthorization or due, which the
// caller sorts out on the slower path that can refresh.
export function freshAccessToken(
  userId: string,
  provider: ProviderId,
  o: { tokenId?: string; service?: Service },
  windowSeconds: number,
  askedBy: string,
): SqlText {
  const byId = o.tokenId ? sql`and id = ${lit.uuid(o.tokenId)}` : sql``;
  const byService = o.service ? sql`and services @> ${lit.textArray([o.service])}` : sql``;
  return sql`
    with found as (
      select id from public.service_tokens
       where user_id = ${lit.uuid(userId)} and provider = ${lit.text(provider)}
         and status <> 'revoked' ${byId} ${byService}
       order by ${ACCESS_ORDER}
       limit 1
         for update
    ), used as (
      update public.service_tokens t set use_count = t.use_count + 1, last_used_at = now()
        from found
       where t.id = found.id and t.status in ${SERVABLE} and not (${dueText(windowSeconds)})
      returning ${idents(TOKEN_COLUMNS.map((c) => `t.${c}`))}
    )
    select used.*, s.access_token, ${vendedActivity(sql`used`, false, askedBy)} as logged
      from used cross join lateral private.read_token_secrets(used.id, false) s`;
}

// Every vend is an activity of the token's owner, saying who asked (the user,
// one of their keys, or the service) and whether it refreshed. No secret.
function vendedActivity(row: SqlText, refreshed: boolean, askedBy: string): SqlText {
  return sql`private.record_activity(${row}.user_id, 'token.vended', jsonb_build_object(
    'connection_id', ${row}.id, 'provider', ${row}.provider,
    'refreshed', ${lit.bool(refreshed)}, 'asked_by', ${lit.text(askedBy)}))`;
}

export async function recordVend(
  tx: Tx,
  id: string,
  refreshed: boolean,
  askedBy: string,
): Promise<void> {
  await tx.unsafe(textOf(sql`select ${vendedActivity(sql`t`, refreshed, askedBy)}
                               from public.service_tokens t where t.id = ${lit.uuid(id)}`));
}

// User reads (RLS) ------------------------------------------------------------------------

export type TokenListOptions = {
  provider?: string;
  status?: TokenRow["status"];
  includeRevoked: boolean;
  limit: number;
  after?: { createdUs: string; id: string };
};

// A page of the caller's connections: a statement for queryAsUser (one round trip).
export function tokensPage(o: TokenListOptions): SqlText {
  const provider = o.provider ? sql`and provider = ${lit.text(o.provider)}` : sql``;
  const status = o.status
    ? sql`and status = ${lit.text(o.status)}`
    : o.includeRevoked
    ? sql``
    : sql`and status <> 'revoked'`;
  const after = o.after
    ? sql`and (created_at, id) < (timestamptz 'epoch' + ${
      lit.int(BigInt(o.after.createdUs))
    } * interval '1 microsecond', ${lit.uuid(o.after.id)})`
    : sql``;
  return sql`
    select ${idents(TOKEN_COLUMNS)},
           (extract(epoch from created_at) * 1000000)::int8::text as created_us
      from public.service_tokens
     where user_id = (select auth.uid()) ${provider} ${status} ${after}
     order by created_at desc, id desc
     limit ${lit.int(o.limit + 1)}`;
}

export type TokenPageRow = TokenRow & { created_us: string };

export function tokenById(id: string): SqlText {
  return sql`select ${idents(TOKEN_COLUMNS)} from public.service_tokens where id = ${lit.uuid(id)}`;
}

// The connection an access-token request means: the given one, or the active
// one for the provider (and service) used most recently.
export async function findForAccess(
  tx: Tx,
  userId: string,
  provider: ProviderId,
  o: { tokenId?: string; service?: Service },
): Promise<Pick<TokenRow, "id" | "status"> | undefined> {
  const byId = o.tokenId ? tx`and id = ${o.tokenId}` : tx``;
  const byService = o.service ? tx`and services @> array[${o.service}]::text[]` : tx``;
  const [row] = await tx<Pick<TokenRow, "id" | "status">[]>`
    select id, status from public.service_tokens
     where user_id = ${userId} and provider = ${provider} and status <> 'revoked'
       ${byId} ${byService}
     order by status in ('active', 'refresh_failing') desc,
              last_used_at desc nulls last, connected_at desc
     limit 1`;
  return row;
}

type Stats = z.infer<typeof TokenStats>;

// The TokenStats answer, folded in SQL: each statement's columns are the
// schema's fields, so nothing between here and the response restates them.
export async function tokenStats(tx: Tx, windowSeconds: number): Promise<Stats> {
  const connections = tx<Omit<Stats, "refresh">[]>`
    with per_provider as (
      select provider,
             count(*) filter (where status = 'active')::int as active,
             count(*) filter (where status = 'refresh_failing')::int as refresh_failing,
             count(*) filter (where status = 'needs_reauth')::int as needs_reauth,
             count(*) filter (where status = 'exhausted')::int as exhausted,
             count(*) filter (where status = 'revoked')::int as revoked,
             count(*)::int as total,
             count(*) filter (where status in ('active', 'refresh_failing')
                                and expires_at <= now() + make_interval(secs => ${windowSeconds}))::int
               as expiring_soon
        from public.service_tokens
       where user_id = (select auth.uid())
       group by provider)
    select coalesce(sum(total), 0)::int as total,
           jsonb_build_object('active', coalesce(sum(active), 0),
                              'refresh_failing', coalesce(sum(refresh_failing), 0),
                              'needs_reauth', coalesce(sum(needs_reauth), 0),
                              'exhausted', coalesce(sum(exhausted), 0),
                              'revoked', coalesce(sum(revoked), 0)) as by_status,
           coalesce(jsonb_object_agg(provider, jsonb_build_object(
             'active', active, 'refresh_failing', refresh_failing, 'needs_reauth', needs_reauth,
             'exhausted', exhausted, 'revoked', revoked, 'total', total)),
             '{}') as by_provider,
           coalesce(sum(expiring_soon), 0)::int as expiring_soon
      from per_provider`;
  const refresh = tx<Stats["refresh"][]>`
    select count(*) filter (where created_at > now() - interval '24 hours')::int as attempts_24h,
           count(*) filter (where created_at > now() - interval '24 hours'
                              and status = 'success')::int as succeeded_24h,
           count(*) filter (where created_at > now() - interval '24 hours'
                              and status <> 'success')::int as failed_24h,
           (count(*) filter (where created_at > now() - interval '24 hours'
                               and status = 'success'))::float8
             / nullif(count(*) filter (where created_at > now() - interval '24 hours'), 0)
             as success_rate_24h,
           max(created_at) filter (where status = 'success') as last_refresh_at
      from public.token_refresh_logs
     where user_id = (select auth.uid())`;
  const [[counts], [totals]] = await Promise.all([connections, refresh]);
  return { ...counts, refresh: totals };
}

// Service work ----------------------------------------------------------------------------

export async function lockToken(
  tx: Tx,
  id: string,
  userId: string | null,
  windowSeconds: number,
): Promise<LockedToken | undefined> {
  const owner = userId ? tx`and user_id = ${userId}` : tx``;
  const [row] = await tx<LockedToken[]>`
    select ${tx(TOKEN_COLUMNS)}, ${due(tx, windowSeconds)} as due,
           greatest(extract(epoch from expires_at - now()), 0)::int as seconds_left
      from public.service_tokens
     where id = ${id} ${owner}
       for update`;
  return row;
}

// The scheduler's claim: up to `limit` due connections no other worker holds,
// in due order. refresh_due_at is kept by the database (the trigger
// private.service_tokens_schedule: proactive for recently used connections,
// keep-alive for dormant ones, backoff after failures, null when not to be
// refreshed), so this walks the partial index service_tokens_refresh_due and
// stops after `limit` rows, however many connections there are.
export function dueClaim(limit: number): SqlText {
  return sql`
    select ${idents(TOKEN_COLUMNS)}, true as due,
           greatest(extract(epoch from expires_at - now()), 0)::int as seconds_left
      from public.service_tokens
     where refresh_due_at <= now()
     order by refresh_due_at
     limit ${lit.int(limit)}
       for update skip locked`;
}

// Claims one due token; the caller refreshes it in the same transaction, so
// the lock lasts exactly as long as the refresh.
export async function claimDueToken(tx: Tx): Promise<LockedToken | undefined> {
  const [row] = await tx.unsafe<LockedToken[]>(textOf(dueClaim(1)));
  return row;
}

export type NewConnection = {
  userId: string;
  provider: ProviderId;
  services: Service[];
  accountId: string;
  email: string | null;
  grantedScopes: string[];
  serviceAccess: AccessMap;
  missingAccess: AccessMap;
  expiresAt: Date;
  accessToken: string;
  refreshToken: string | null;
};

// Creates or renews the connection for (user, provider, provider account) and
// stores its tokens, in the caller's transaction. A renewal keeps the services
// granted before (Google's include_granted_scopes) while that grant may still
// be alive (active, or failing for a passing reason), and revives a revoked,
// needs_reauth or exhausted row. service_access and missing_access are the
// caller's, merged with priorAccess (shared/oauth/complete.ts).
export async function saveConnection(tx: Tx, c: NewConnection): Promise<TokenRow> {
  const [row] = await tx<TokenRow[]>`
    insert into public.service_tokens as t
      (user_id, provider, services, provider_account_id, provider_email, granted_scopes,
       service_access, missing_access, expires_at, issued_at)
    values (${c.userId}, ${c.provider}, ${c.services}::text[], ${c.accountId}, ${c.email},
            ${c.grantedScopes}::text[], ${tx.json(c.serviceAccess)},
            ${tx.json(c.missingAccess)}, ${c.expiresAt.toISOString()}, now())
    on conflict (user_id, provider, provider_account_id) do update set
      services = array(select distinct s from unnest(
                   case when t.status in ('active', 'refresh_failing', 'exhausted')
                        then t.services else '{}' end
                   || excluded.services) s order by s),
      service_access = excluded.service_access,
      missing_access = excluded.missing_access,
      provider_email = coalesce(excluded.provider_email, t.provider_email),
      granted_scopes = excluded.granted_scopes,
      expires_at = excluded.expires_at,
      issued_at = now(),
      status = 'active',
      refresh_failures = 0,
      next_refresh_at = null,
      failing_since = null,
      last_error_code = null,
      revoked_at = null,
      revoked_reason = null,
      provider_revocation = null,
      connected_at = now()
    returning ${tx(TOKEN_COLUMNS)}`;
  await storeSecrets(tx, row.id, c.accessToken, c.refreshToken);
  const [fresh] = await tx<TokenRow[]>`
    select ${tx(TOKEN_COLUMNS)} from public.service_tokens where id = ${row.id}`;
  return fresh;
}

export async function storeSecrets(
  tx: Tx,
  id: string,
  accessToken: string,
  refreshToken: string | null,
): Promise<void> {
  await tx`select private.store_token_secrets(${id}::uuid, ${accessToken}, ${refreshToken})`;
}

export type Secrets = { access_token: string; refresh_token: string | null };

export async function readSecrets(
  tx: Tx,
  id: string,
  withRefresh: boolean,
): Promise<Secrets | undefined> {
  const [row] = await tx<Secrets[]>`
    select access_token, refresh_token from private.read_token_secrets(${id}::uuid, ${withRefresh})`;
  return row;
}

export async function destroySecrets(tx: Tx, id: string): Promise<boolean> {
  const [row] = await tx<{ destroyed: boolean }[]>`
    select private.destroy_token_secrets(${id}::uuid) as destroyed`;
  return row.destroyed;
}

export async function markRefreshed(
  tx: Tx,
  id: string,
  expiresAt: Date,
  scopes: string[] | null,
): Promise<TokenRow> {
  const [row] = await tx<TokenRow[]>`
    update public.service_tokens set
      expires_at = ${expiresAt.toISOString()},
      issued_at = now(),
      last_refreshed_at = now(),
      granted_scopes = coalesce(${scopes}::text[], granted_scopes),
      status = 'active',
      refresh_failures = 0,
      next_refresh_at = null,
      failing_since = null,
      last_error_code = null
     where id = ${id}
    returning ${tx(TOKEN_COLUMNS)}`;
  return row;
}

export async function markNeedsReauth(tx: Tx, id: string, errorCode: string): Promise<TokenRow> {
  const [row] = await tx<TokenRow[]>`
    update public.service_tokens set
      status = 'needs_reauth',
      last_error_code = ${errorCode},
      next_refresh_at = null,
      failing_since = null
     where id = ${id}
    returning ${tx(TOKEN_COLUMNS)}`;
  return row;
}

// A transient failure: refresh_failing from the first one (failing_since
// marks when), exhausted once failing for `exhaustedAfterHours` (the schedule
// then leaves it alone); an exhausted connection stays exhausted.
export async function markRefreshFailed(
  tx: Tx,
  id: string,
  errorCode: string,
  backoffSeconds: number,
  exhaustedAfterHours: number,
): Promise<TokenRow> {
  const [row] = await tx<TokenRow[]>`
    update public.service_tokens set
      refresh_failures = refresh_failures + 1,
      next_refresh_at = now() + make_interval(secs => ${backoffSeconds}),
      last_error_code = ${errorCode},
      failing_since = coalesce(failing_since, now()),
      status = case when status = 'exhausted'
                      or failing_since <= now() - make_interval(hours => ${exhaustedAfterHours})
                    then 'exhausted' else 'refresh_failing' end
     where id = ${id}
    returning ${tx(TOKEN_COLUMNS)}`;
  return row;
}

// Counts a use only when the token is servable and not due: pipelined with the
// lock, so the common case (a fresh token) needs no second round trip.
export async function markUsedIfFresh(
  tx: Tx,
  id: string,
  userId: string,
  windowSeconds: number,
): Promise<TokenRow | undefined> {
  const [row] = await tx<TokenRow[]>`
    update public.service_tokens set use_count = use_count + 1, last_used_at = now()
     where id = ${id} and user_id = ${userId} and status in ('active', 'refresh_failing', 'exhausted')
       and not (${due(tx, windowSeconds)})
    returning ${tx(TOKEN_COLUMNS)}`;
  return row;
}

export async function markUsed(tx: Tx, id: string): Promise<TokenRow> {
  const [row] = await tx<TokenRow[]>`
    update public.service_tokens set use_count = use_count + 1, last_used_at = now()
     where id = ${id}
    returning ${tx(TOKEN_COLUMNS)}`;
  return row;
}

export async function markRevoked(
  tx: Tx,
  id: string,
  reason: string,
  providerRevocation: z.infer<typeof ProviderRevocation>,
): Promise<TokenRow> {
  const [row] = await tx<TokenRow[]>`
    update public.service_tokens set
      status = 'revoked',
      revoked_at = now(),
      revoked_reason = ${reason},
      provider_revocation = ${providerRevocation},
      next_refresh_at = null
     where id = ${id}
    returning ${tx(TOKEN_COLUMNS)}`;
  return row;
}

export type RefreshLog = {
  token: TokenRow;
  type: "automatic" | "manual" | "scheduled";
  status: "success" | "failed" | "needs_reauth";
  previousExpiresAt: string;
  newExpiresAt: string | null;
  rotated: boolean;
  errorCode: string | null;
  errorMessage: string | null;
  retryCount: number;
  durationMs: number;
};

export async function logRefresh(tx: Tx, l: RefreshLog): Promise<void> {
  await tx`
    insert into public.token_refresh_logs
      (token_id, user_id, provider, refresh_type, status, previous_expires_at, new_expires_at,
       rotated, error_code, error_message, retry_count, duration_ms)
    values (${l.token.id}, ${l.token.user_id}, ${l.token.provider}, ${l.type}, ${l.status},
            ${l.previousExpiresAt}, ${l.newExpiresAt}, ${l.rotated}, ${l.errorCode},
            ${l.errorMessage?.slice(0, 500) ?? null}, ${l.retryCount}, ${
    Math.round(l.durationMs)
  })`;
}

export async function hasConnection(tx: Tx, userId: string, provider: string): Promise<boolean> {
  const [row] = await tx<{ connected: boolean }[]>`
    select exists (select 1 from public.service_tokens
                    where user_id = ${userId} and provider = ${provider} and status <> 'revoked')
           as connected`;
  return row.connected;
}

// Whether this provider account is a live connection of anyone: new tokens for
// it may belong to the same grant, which revoking them would end too (Google).
export async function accountConnected(
  tx: Tx,
  provider: string,
  accountId: string,
): Promise<boolean> {
  const [row] = await tx<{ connected: boolean }[]>`
    select exists (select 1 from public.service_tokens
                    where provider = ${provider} and provider_account_id = ${accountId}
                      and status <> 'revoked') as connected`;
  return row.connected;
}

export async function activeTokenIds(tx: Tx, userId: string): Promise<string[]> {
  const rows = await tx<{ id: string }[]>`
    select id from public.service_tokens where user_id = ${userId} and status <> 'revoked'`;
  return rows.map((r) => r.id);
}

export async function cleanup(
  tx: Tx,
  logRetentionDays: number,
  revokedRetentionDays: number,
): Promise<z.infer<typeof CleanupResult>> {
  const [row] = await tx<{ result: z.infer<typeof CleanupResult> }[]>`
    select private.cleanup_oauth_data(make_interval(days => ${logRetentionDays}),
                                      make_interval(days => ${revokedRetentionDays})) as result`;
  return row.result;
}

export async function encryptionKeyVersion(tx: Tx): Promise<number> {
  const [row] = await tx<{ version: number }[]>`select private.token_key_version() as version`;
  return row.version;
}

// What a live connection of this provider account covers now (empty when
// there is none, or it is revoked or needs reauthorization): a renewal keeps it.
export async function priorAccess(
  tx: Tx,
  userId: string,
  provider: ProviderId,
  accountId: string,
): Promise<AccessMap> {
  const [row] = await tx<{ service_access: AccessMap }[]>`
    select service_access from public.service_tokens
     where user_id = ${userId} and provider = ${provider} and provider_account_id = ${accountId}
       and status in ('active', 'refresh_failing', 'exhausted')`;
  return row?.service_access ?? {};
}

// The provider account of one of the user's connections (an authorization
// extending it must come back with the same account).
export async function connectionAccount(
  tx: Tx,
  id: string,
  userId: string,
): Promise<string | undefined> {
  const [row] = await tx<{ provider_account_id: string }[]>`
    select provider_account_id from public.service_tokens where id = ${id} and user_id = ${userId}`;
  return row?.provider_account_id;
}
