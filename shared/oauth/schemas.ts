// Wire shapes of the oauth domain; the same schemas validate and document.
import { z } from "@hono/zod-openapi";
import { PROVIDER_IDS, SERVICE_SPECS, SERVICES } from "../providers/definitions.ts";
import { ServiceAccess, ServiceToken } from "../tokens/schemas.ts";

export const ProviderInfo = z.object({
  id: z.enum(PROVIDER_IDS),
  name: z.string(),
  services: z.array(z.object({
    service: z.enum(SERVICES),
    scopes: z.array(z.string()).openapi({ description: "Full access (level write)." }),
    read_scopes: z.array(z.string()).openapi({ description: "Read-only access (level read)." }),
  })),
  identity_scopes: z.array(z.string()).openapi({ description: "Always requested." }),
  supports_revocation: z.boolean().openapi({
    description: "Whether disconnecting revokes the grant at the provider (RFC 7009).",
  }),
}).openapi("OAuthProvider");

export const ProviderList = z.object({ data: z.array(ProviderInfo) }).openapi("OAuthProviderList");

export const AuthorizeRequest = z.strictObject({
  provider: z.enum(PROVIDER_IDS),
  services: z.array(z.enum(SERVICE_SPECS as [string, ...string[]])).min(1)
    .max(SERVICES.length).optional().openapi({
      description: "Services to connect, each with its access level: `gmail:read` asks for the " +
        "read-only scopes, `gmail` (or `gmail:write`) for the full scopes, as before levels " +
        'existed. Example: ["gmail:read", "calendar"]. The scopes of each are requested.',
      example: ["gmail:read", "calendar"],
    }),
  scopes: z.array(z.string().min(1).max(200)).min(1).max(20).optional()
    .openapi({ description: "Extra scopes, each one the provider lists in GET /providers." }),
  connection_id: z.uuid().optional().openapi({
    description: "Add services to this existing connection (incremental authorization): the " +
      "user is asked for the new scopes, the grant then covers the earlier and the new ones, " +
      "and completing updates the same connection. The user must sign in to the same provider " +
      "account: another account ends in status=error&code=conflict&reason=wrong_account.",
  }),
  redirect_to: z.string().max(2048).optional().openapi({
    description: "Where the browser goes after the callback, with " +
      "status=authorized&provider=...&completion=<code>&services=... (finish with POST " +
      "/oauth/complete), status=partial&...&missing=... when the user granted less than asked, " +
      "or " +
      "status=error&code=...&reason=...; must match OAUTH_REDIRECT_ALLOWLIST: a web page, an " +
      "app's claimed https link, or a native app's private-use scheme (RFC 8252, e.g. " +
      "com.example.app:/oauth). Without it the callback answers JSON with the completion code.",
  }),
}).refine((b) => b.services !== undefined || b.scopes !== undefined, {
  message: "give services or scopes",
}).openapi("AuthorizeRequest");

export const AuthorizeResponse = z.object({
  authorization_url: z.url().openapi({ description: "Send the user's browser here." }),
  provider: z.enum(PROVIDER_IDS),
  services: z.array(z.enum(SERVICES)),
  access: ServiceAccess.openapi({ description: "The level asked for, per service." }),
  connection_id: z.uuid().nullable().openapi({ description: "The connection being extended." }),
  scopes: z.array(z.string()),
  expires_at: z.string().openapi({ description: "The authorization must finish before this." }),
}).openapi("AuthorizeResponse");

export const CallbackParams = z.object({
  provider: z.enum(PROVIDER_IDS).openapi({ param: { name: "provider", in: "path" } }),
});

// Providers add their own parameters (scope, authuser, session_state, iss);
// unknown ones are ignored.
export const CallbackQuery = z.object({
  state: z.string().max(512).optional(),
  code: z.string().max(4096).optional(),
  error: z.string().max(256).optional(),
  error_description: z.string().max(2048).optional(),
});

// A completion code: 32 random bytes, base64url. Single use, ten minutes, and
// only the user who started the authorization can redeem it.
export const COMPLETION_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export const CallbackResult = z.object({
  status: z.enum(["authorized", "partial"]).openapi({
    description: "partial: the user granted less than was asked (see missing_access); the " +
      "grant can still be completed.",
  }),
  provider: z.enum(PROVIDER_IDS),
  completion: z.string().regex(COMPLETION_PATTERN).openapi({
    description: "Redeem with POST /oauth/complete, signed in as the user who started.",
  }),
  complete_by: z.string().openapi({ description: "After this the grant is revoked." }),
  service_access: ServiceAccess.openapi({ description: "What the grant covers, per service." }),
  missing_access: ServiceAccess.openapi({ description: "Asked for and not granted." }),
}).openapi("CallbackResult");

export const CompleteRequest = z.strictObject({
  completion: z.string().regex(COMPLETION_PATTERN, "a completion code from the callback"),
}).openapi("CompleteRequest");

export const CompleteResult = z.object({
  status: z.enum(["connected", "partial"]).openapi({
    description: "partial: connected, but without some of what was asked for " +
      "(token.missing_access says what).",
  }),
  provider: z.enum(PROVIDER_IDS),
  token: ServiceToken,
}).openapi("CompleteResult");

export const CleanupResult = z.object({
  revoked: z.number().int().openapi({ description: "Abandoned grants revoked at the provider." }),
  failed: z.number().int().openapi({ description: "Provider failures (deleted locally anyway)." }),
}).openapi("OAuthCleanupResult");
