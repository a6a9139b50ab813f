// Wire shapes of the account domain.
import { z } from "@hono/zod-openapi";
import { SCOPES } from "../auth/scopes.ts";
import { timestamp } from "../db/columns.ts";
import { jsonObjectField } from "../http/json-field.ts";
import { pageQuery } from "../http/pagination.ts";
import { httpUrl } from "../http/url.ts";

const jsonObject = z.record(z.string(), z.unknown());

export const Profile = z.object({
  id: z.uuid(),
  email: z.string().nullable(),
  display_name: z.string().nullable(),
  avatar_url: z.string().nullable(),
  timezone: z.string(),
  preferences: jsonObject,
  created_at: timestamp(),
  updated_at: timestamp(),
}).openapi("Profile");
export type Profile = z.infer<typeof Profile>;

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const UpdateProfile = z.strictObject({
  display_name: z.string().trim().min(1).max(100).nullable().optional(),
  avatar_url: httpUrl().nullable().optional(),
  timezone: z.string().max(64).refine(isTimeZone, "must be an IANA time zone, e.g. Europe/Berlin")
    .optional(),
  preferences: jsonObjectField({
    maxBytes: 16 * 1024,
    description: "The user's preferences, kept for the client.",
  }).optional(),
}).refine((b) => Object.keys(b).length > 0, { message: "give at least one field to change" })
  .openapi("UpdateProfile");

export const Activity = z.object({
  id: z.number().int(),
  activity_type: z.string(),
  details: jsonObject,
  created_at: timestamp(),
}).openapi("Activity");
export type Activity = z.infer<typeof Activity>;

export const ListActivityQuery = z.object({
  type: z.string().regex(/^[a-z_]+\.[a-z_]+$/, "an activity type such as session.created")
    .optional(),
  ...pageQuery,
});

export const ActivityPage = z.object({
  data: z.array(Activity),
  next_cursor: z.string().nullable(),
}).openapi("ActivityPage");

export const Scope = z.enum(SCOPES);

// An API key as shared/account/store.ts reads it: the one declaration of its
// row type and columns (status is computed there). Timestamps are ISO strings
// in UTC, as shared/db/client.ts parses them.
// A key's own limit on top of its owner's: `name` is a route class (default,
// auth, chat, heygen, provider) or "all" (every request); `limit` requests per
// `window` seconds.
export const ApiKeyLimit = z.strictObject({
  name: z.enum(["all", "default", "auth", "chat", "heygen", "provider"]),
  limit: z.number().int().min(1).max(999_999_999),
  window: z.number().int().min(1).max(86_400).openapi({ description: "Seconds." }),
}).openapi("ApiKeyLimit");

const limitsField = z.array(ApiKeyLimit).max(8)
  .refine((l) => new Set(l.map((x) => x.name)).size === l.length, "limit names must not repeat");

const scopesField = z.array(Scope).max(SCOPES.length)
  .refine((s) => new Set(s).size === s.length, "scopes must not repeat");

// Credits: `remaining` uses; with `refill`, reset to `amount` every day (at
// 00:00 UTC) or every month on `day` (the month's last day when shorter).
export const ApiKeyCredits = z.strictObject({
  remaining: z.number().int().min(0).max(999_999_999),
  refill: z.strictObject({
    interval: z.enum(["daily", "monthly"]),
    amount: z.number().int().min(1).max(999_999_999),
    day: z.number().int().min(1).max(31).optional()
      .openapi({ description: "Monthly only: the day of the month (default 1)." }),
  }).refine((r) => r.interval === "monthly" || r.day === undefined, {
    message: "day applies to monthly refills only",
    path: ["day"],
  }).optional(),
}).openapi("ApiKeyCredits");

const metaField = () =>
  jsonObjectField({
    maxBytes: 4 * 1024,
    description: "The owner's own data about the key, returned as given.",
  });

const futureTime = () =>
  z.iso.datetime({ offset: true }).refine(
    (t) => Date.parse(t) > Date.now(),
    "must be in the future",
  );

// An API key as shared/account/store.ts reads it: the one declaration of its
// row type and columns (status is computed there). Timestamps are ISO strings
// in UTC, as shared/db/client.ts parses them.
export const ApiKey = z.object({
  id: z.uuid(),
  name: z.string(),
  prefix: z.string().openapi({ description: "The key's first characters, to recognise it." }),
  scopes: z.array(Scope).openapi({ description: "The key's own scopes; its role adds its own." }),
  role_id: z.uuid().nullable(),
  status: z.enum(["active", "expired", "revoked"]),
  meta: z.record(z.string(), z.unknown()),
  external_id: z.string().nullable(),
  limits: z.array(ApiKeyLimit),
  credits_remaining: z.number().int().nullable()
    .openapi({ description: "Uses left; null: unlimited." }),
  credits_refill_interval: z.enum(["daily", "monthly"]).nullable(),
  credits_refill_amount: z.number().int().nullable(),
  credits_refill_day: z.number().int().nullable(),
  credits_refilled_at: z.iso.datetime(),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
  last_used_at: z.iso.datetime().nullable()
    .openapi({ description: "Written at most once a minute; GET …/usage counts every use." }),
  expires_at: z.iso.datetime().nullable(),
  previous_expires_at: z.iso.datetime().nullable()
    .openapi({ description: "After a reroll with a grace period: when the old secret stops." }),
  revoked_at: z.iso.datetime().nullable(),
}).openapi("ApiKey");

export const CreateApiKey = z.strictObject({
  name: z.string().trim().min(1).max(100),
  scopes: scopesField,
  role_id: z.uuid().optional()
    .openapi({
      description: "A role (GET /account/api-key-roles) whose scopes the key also holds.",
    }),
  expires_at: futureTime().optional(),
  meta: metaField().optional(),
  external_id: z.string().min(1).max(256).optional(),
  limits: limitsField.optional(),
  credits: ApiKeyCredits.optional(),
}).refine((b) => b.scopes.length > 0 || b.role_id !== undefined, {
  message: "give at least one scope or a role",
  path: ["scopes"],
}).openapi("CreateApiKey");

export const UpdateApiKey = z.strictObject({
  name: z.string().trim().min(1).max(100).optional(),
  scopes: scopesField.optional(),
  role_id: z.uuid().nullable().optional(),
  expires_at: futureTime().nullable().optional(),
  meta: metaField().optional(),
  external_id: z.string().min(1).max(256).nullable().optional(),
  limits: limitsField.optional(),
  credits: ApiKeyCredits.nullable().optional()
    .openapi({
      description: "Sets the credits and restarts the refill schedule; null: unlimited.",
    }),
}).refine((b) => Object.keys(b).length > 0, { message: "give at least one field to change" })
  .openapi("UpdateApiKey");

export const RerollApiKey = z.strictObject({
  grace_seconds: z.number().int().min(0).max(86_400).default(0).openapi({
    description: "How long the old secret keeps working (0 to 24 h); 0: it stops now.",
  }),
}).openapi("RerollApiKey");

export const UsageQuery = z.object({
  days: z.coerce.number().int().min(1).max(90).default(30)
    .openapi({ description: "Days back from today (UTC), today included." }),
});

const OUTCOMES = [
  "valid",
  "rate_limited",
  "usage_exceeded",
  "insufficient_scope",
  "expired",
  "revoked",
] as const;
export const UsageOutcome = z.enum(OUTCOMES);

export const ApiKeyUsageDay = z.object({
  day: z.iso.date(),
  ...Object.fromEntries(OUTCOMES.map((o) => [o, z.number().int()])) as Record<
    (typeof OUTCOMES)[number],
    z.ZodNumber
  >,
  total: z.number().int(),
}).openapi("ApiKeyUsageDay");

export const ApiKeyUsage = z.object({
  key_id: z.uuid(),
  days: z.array(ApiKeyUsageDay).openapi({ description: "Days with requests, oldest first." }),
}).openapi("ApiKeyUsage");

export const ApiKeyRole = z.object({
  id: z.uuid(),
  name: z.string(),
  description: z.string().nullable(),
  scopes: z.array(Scope),
  built_in: z.boolean(),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
}).openapi("ApiKeyRole");

export const ApiKeyRoleList = z.object({ data: z.array(ApiKeyRole) }).openapi("ApiKeyRoleList");

const roleName = z.string().regex(
  /^[a-z][a-z0-9_-]{0,39}$/,
  "lowercase letters, digits, _ and -, starting with a letter, at most 40",
);

export const CreateApiKeyRole = z.strictObject({
  name: roleName,
  description: z.string().max(200).optional(),
  scopes: scopesField.min(1),
}).openapi("CreateApiKeyRole");

export const UpdateApiKeyRole = z.strictObject({
  name: roleName.optional(),
  description: z.string().max(200).nullable().optional(),
  scopes: scopesField.min(1).optional(),
}).refine((b) => Object.keys(b).length > 0, { message: "give at least one field to change" })
  .openapi("UpdateApiKeyRole");

export const ApiKeyRoleId = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, description: "Role id" }),
});

export const CreatedApiKey = ApiKey.extend({
  key: z.string().openapi({ description: "The full key. Shown once; store it now." }),
}).openapi("CreatedApiKey");

export const ApiKeyList = z.object({ data: z.array(ApiKey) }).openapi("ApiKeyList");

export const ApiKeyId = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, description: "API key id" }),
});

export type UpdateProfileInput = z.infer<typeof UpdateProfile>;
export type CreateApiKeyInput = z.infer<typeof CreateApiKey>;
export type UpdateApiKeyInput = z.infer<typeof UpdateApiKey>;
export type ApiKeyRoleRow = z.infer<typeof ApiKeyRole>;
