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
export const ApiKey = z.object({
  id: z.uuid(),
  name: z.string(),
  prefix: z.string().openapi({ description: "The key's first characters, to recognise it." }),
  scopes: z.array(Scope),
  status: z.enum(["active", "expired", "revoked"]),
  created_at: z.iso.datetime(),
  last_used_at: z.iso.datetime().nullable(),
  expires_at: z.iso.datetime().nullable(),
  revoked_at: z.iso.datetime().nullable(),
}).openapi("ApiKey");

export const CreateApiKey = z.strictObject({
  name: z.string().trim().min(1).max(100),
  scopes: z.array(Scope).min(1).max(SCOPES.length)
    .refine((s) => new Set(s).size === s.length, "scopes must not repeat"),
  expires_at: z.iso.datetime({ offset: true })
    .refine((t) => Date.parse(t) > Date.now(), "must be in the future").optional(),
}).openapi("CreateApiKey");

export const CreatedApiKey = ApiKey.extend({
  key: z.string().openapi({ description: "The full key. Shown once; store it now." }),
}).openapi("CreatedApiKey");

export const ApiKeyList = z.object({ data: z.array(ApiKey) }).openapi("ApiKeyList");

export const ApiKeyId = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, description: "API key id" }),
});

export type UpdateProfileInput = z.infer<typeof UpdateProfile>;
export type CreateApiKeyInput = z.infer<typeof CreateApiKey>;
