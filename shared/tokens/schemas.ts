// Wire shapes of the tokens domain, each declared once: the store's row types
// are z.infer of them and its column lists derive from them. A token's
// secrets never appear here except in AccessToken, the answer to its owner's
// access-token request. Timestamps are ISO strings and counters numbers, as
// shared/db/client.ts parses them.
import { z } from "@hono/zod-openapi";
import { pageQuery } from "../http/pagination.ts";
import { ErrorEnvelope } from "../http/openapi.ts";
import { ACCESS_LEVELS, PROVIDER_IDS, SERVICES } from "../providers/definitions.ts";

export const Provider = z.enum(PROVIDER_IDS).openapi({ description: "Provider id" });
export const ServiceName = z.enum(SERVICES);
export const AccessLevel = z.enum(ACCESS_LEVELS);
// Per service, the level: {"gmail": "read", "calendar": "write"}.
// "read": the read-only scopes; "write": read and write (the full scopes).
export const ServiceAccess = z.partialRecord(ServiceName, AccessLevel);
export const TokenStatus = z.enum([
  "active",
  "refresh_failing",
  "needs_reauth",
  "exhausted",
  "revoked",
]).openapi({
  description: "active: healthy. refresh_failing: refreshes fail for a passing reason (provider " +
    "outage) since failing_since; the access token is still served while valid and retried with " +
    "backoff. needs_reauth: the provider refused the refresh token; the user must reconnect. " +
    "exhausted: refreshes failed for longer than TOKEN_EXHAUSTED_AFTER_HOURS; no more scheduled " +
    "retries until the user reconnects or asks for a refresh (POST /tokens/{id}/refresh). " +
    "revoked: disconnected.",
});

export const ProviderRevocation = z.enum(["revoked", "not_supported", "failed", "skipped"]);

// A timestamp as the driver hands it over (shared/db/client.ts): an ISO string in UTC.
const timestamp = () => z.iso.datetime();

export const TokenId = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, description: "Connection id" }),
});

export const ProviderParam = z.object({
  provider: Provider.openapi({ param: { name: "provider", in: "path" } }),
});

export const ServiceToken = z.object({
  id: z.uuid(),
  user_id: z.uuid(),
  provider: Provider,
  services: z.array(ServiceName),
  provider_account_id: z.string(),
  provider_email: z.string().nullable(),
  granted_scopes: z.array(z.string()),
  service_access: ServiceAccess.openapi({
    description: "What the granted scopes cover, per service: read (read-only scopes) or " +
      "write (read and write: the full scopes).",
    example: { gmail: "read", calendar: "write" },
  }),
  missing_access: ServiceAccess.openapi({
    description: "Asked for at the last authorization and not granted (the user unticked it " +
      "at consent); empty when everything asked for was granted.",
  }),
  status: TokenStatus,
  expires_at: timestamp().openapi({ description: "When the current access token expires." }),
  has_refresh_token: z.boolean(),
  use_count: z.number().int(),
  last_used_at: timestamp().nullable(),
  last_refreshed_at: timestamp().nullable(),
  refresh_failures: z.number().int(),
  next_refresh_at: timestamp().nullable().openapi({
    description: "After a failure: no retry before then (exponential backoff).",
  }),
  refresh_due_at: timestamp().nullable().openapi({
    description: "When the scheduled refresh takes this connection next: shortly before expiry " +
      "when used recently, at its keep-alive when dormant; null when it is not refreshed " +
      "(needs_reauth, exhausted, revoked).",
  }),
  failing_since: timestamp().nullable().openapi({
    description: "Start of the current run of failed refreshes (refresh_failing, exhausted).",
  }),
  last_error_code: z.string().nullable(),
  connected_at: timestamp(),
  revoked_at: timestamp().nullable(),
  revoked_reason: z.string().nullable(),
  provider_revocation: ProviderRevocation.nullable(),
  created_at: timestamp(),
  updated_at: timestamp(),
}).openapi("ServiceToken");

export const ListTokensQuery = z.object({
  provider: Provider.optional(),
  status: TokenStatus.optional().openapi({ description: "Only connections in this status." }),
  include_revoked: z.enum(["true", "false"]).default("false")
    .openapi({ description: "Include revoked connections when no status is given." }),
  ...pageQuery,
});

export const TokenPage = z.object({
  data: z.array(ServiceToken),
  next_cursor: z.string().nullable(),
}).openapi("ServiceTokenPage");

const statusCounts = z.object({
  active: z.number().int(),
  refresh_failing: z.number().int(),
  needs_reauth: z.number().int(),
  exhausted: z.number().int(),
  revoked: z.number().int(),
});

export const TokenStats = z.object({
  total: z.number().int(),
  by_status: statusCounts,
  by_provider: z.record(z.string(), statusCounts.extend({ total: z.number().int() })),
  expiring_soon: z.number().int().openapi({
    description: "Active or refresh_failing connections whose access token expires within the " +
      "refresh window.",
  }),
  refresh: z.object({
    attempts_24h: z.number().int(),
    succeeded_24h: z.number().int(),
    failed_24h: z.number().int(),
    success_rate_24h: z.number().nullable().openapi({ description: "0..1; null without attempts" }),
    last_refresh_at: timestamp().nullable(),
  }),
}).openapi("ServiceTokenStats");

export const AccessTokenRequest = z.strictObject({
  token_id: z.uuid().optional().openapi({
    description: "A specific connection; by default the most recently used active one.",
  }),
  service: ServiceName.optional().openapi({
    description: "Only a connection whose grant covers this service.",
  }),
  user_id: z.uuid().optional().openapi({
    description: "Whose connection: required with the service key (a server-side agent acting " +
      "for a user); a user or their key may only name themselves.",
  }),
  force_refresh: z.boolean().optional().openapi({
    description: "Refresh at the provider first even when the token is still fresh.",
  }),
}).openapi("AccessTokenRequest");

export const AccessToken = z.object({
  access_token: z.string(),
  token_type: z.literal("Bearer"),
  expires_at: timestamp(),
  expires_in: z.number().int(),
  refreshed: z.boolean().openapi({ description: "Whether this call refreshed the token first." }),
  token_id: z.uuid(),
  provider: Provider,
  provider_email: z.string().nullable(),
  services: z.array(ServiceName),
  service_access: ServiceAccess.openapi({
    description: "Per service, whether the token may only read (read) or also change (write).",
  }),
  scopes: z.array(z.string()),
}).openapi("AccessToken");

export const RevokeResult = z.object({
  token: ServiceToken,
  provider_revocation: ProviderRevocation.openapi({
    description: "revoked: the provider confirmed (RFC 7009); not_supported: the provider has no " +
      "revocation endpoint (Microsoft), revoked locally; failed: the provider did not answer, " +
      "revoked locally anyway; skipped: already revoked or no token to send.",
  }),
}).openapi("RevokeResult");

export const RefreshDueRequest = z.object({
  source: z.string().max(64).optional(),
  limit: z.number().int().min(1).max(10_000).optional(),
  concurrency: z.number().int().min(1).max(32).optional(),
}).openapi("RefreshDueRequest");

export const RefreshDueResult = z.object({
  claimed: z.number().int(),
  refreshed: z.number().int(),
  failed: z.number().int(),
  needs_reauth: z.number().int(),
  errors: z.number().int().openapi({ description: "Runs that stopped on a database error." }),
  ms: z.number().int(),
}).openapi("RefreshDueResult");

export const CleanupResult = z.object({
  expired_states: z.number().int(),
  old_refresh_logs: z.number().int(),
  revoked_tokens: z.number().int(),
  stray_secrets: z.number().int(),
}).openapi("CleanupResult");

// Errors of routes that call a provider; shared/http/openapi.ts documents the rest.
export const providerErrorResponses = {
  409: {
    description: "The connection needs the user to reconnect (needs_reauth), its refreshes have " +
      "failed for too long (connection_exhausted: reconnect or POST /tokens/{id}/refresh) or it " +
      "is revoked",
    content: { "application/json": { schema: ErrorEnvelope } },
  },
  502: {
    description: "The provider failed or refused (provider_error)",
    content: { "application/json": { schema: ErrorEnvelope } },
  },
  504: {
    description: "The provider did not answer in time (provider_timeout)",
    content: { "application/json": { schema: ErrorEnvelope } },
  },
};

export const serviceAuth = [{ bearer: [] }];
