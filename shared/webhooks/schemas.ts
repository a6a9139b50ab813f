// Wire shapes of the webhooks domain. A signing secret appears only in the
// answers to registering an endpoint and rotating its secret.
import { z } from "@hono/zod-openapi";
import { EventTypeSchema } from "../events/schemas.ts";
import { pageQuery } from "../http/pagination.ts";

export const EndpointId = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, description: "Webhook endpoint id" }),
});

const eventTypes = z.array(EventTypeSchema).max(16)
  .refine((types) => new Set(types).size === types.length, "event types must not repeat");

export const WebhookEndpoint = z.object({
  id: z.uuid(),
  user_id: z.uuid().nullable().openapi({ description: "null: the service's endpoint" }),
  url: z.string(),
  description: z.string(),
  event_types: z.array(EventTypeSchema).openapi({ description: "Empty: every type." }),
  enabled: z.boolean(),
  disabled_reason: z.enum(["user", "gone"]).nullable().openapi({
    description: "user: disabled by its owner; gone: it answered 410 Gone, so delivery stopped.",
  }),
  secret_rotated_at: z.string().nullable(),
  previous_secret_expires_at: z.string().nullable().openapi({
    description: "Until then deliveries carry a second signature, made with the previous secret.",
  }),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("WebhookEndpoint");

export type EndpointRow = z.infer<typeof WebhookEndpoint>;

export const ENDPOINT_COLUMNS = Object.keys(WebhookEndpoint.shape);

export const EndpointList = z.object({ data: z.array(WebhookEndpoint) })
  .openapi("WebhookEndpointList");

export const CreateEndpoint = z.strictObject({
  url: z.string().trim().min(1).max(2048).openapi({
    format: "uri",
    description: "https, on a host that resolves to public addresses only (no private, " +
      "link-local or loopback address). Checked again before every delivery.",
  }),
  description: z.string().trim().max(200).default(""),
  event_types: eventTypes.default([]).openapi({ description: "Empty (the default): every type." }),
}).openapi("CreateWebhookEndpoint");

export const CreatedEndpoint = WebhookEndpoint.extend({
  secret: z.string().openapi({
    description: "whsec_…: the signing secret, shown in this answer only. Verify deliveries " +
      "with it (Standard Webhooks); lost, rotate it.",
  }),
}).openapi("CreatedWebhookEndpoint");

export const UpdateEndpoint = z.strictObject({
  description: z.string().trim().max(200).optional(),
  event_types: eventTypes.optional(),
  enabled: z.boolean().optional().openapi({
    description: "false stops deliveries (pending ones wait); true resumes them.",
  }),
}).refine((b) => Object.keys(b).length > 0, "nothing to change")
  .openapi("UpdateWebhookEndpoint");

export const RotateSecret = z.strictObject({
  grace_seconds: z.number().int().min(0).max(604_800).optional().openapi({
    description: "How long the previous secret keeps signing beside the new one (0: not at " +
      "all); default WEBHOOK_SECRET_GRACE_SECONDS, 86400.",
  }),
}).openapi("RotateWebhookSecret");

export const RotatedSecret = z.object({
  secret: z.string().openapi({ description: "The new whsec_ secret, shown in this answer only." }),
  previous_secret_expires_at: z.string().nullable(),
}).openapi("RotatedWebhookSecret");

export const SendResult = z.object({
  webhook_id: z.string(),
  delivered: z.boolean(),
  status_code: z.number().int().nullable(),
  error: z.enum([
    "http_status",
    "timeout",
    "unreachable",
    "url_refused",
    "redirect",
    "gone",
    "no_secret",
  ]).nullable(),
  duration_ms: z.number().int(),
}).openapi("WebhookTestResult");

export const WebhookDelivery = z.object({
  id: z.uuid(),
  event_id: z.uuid(),
  event_type: EventTypeSchema,
  endpoint_id: z.uuid(),
  status: z.enum(["pending", "delivered", "failed"]),
  attempts: z.number().int(),
  next_attempt_at: z.string(),
  last_attempt_at: z.string().nullable(),
  last_status_code: z.number().int().nullable(),
  last_error: z.string().nullable(),
  delivered_at: z.string().nullable(),
  created_at: z.string(),
}).openapi("WebhookDelivery");

export type DeliveryRow = z.infer<typeof WebhookDelivery>;

export const ListDeliveriesQuery = z.object({
  status: z.enum(["pending", "delivered", "failed"]).optional(),
  ...pageQuery,
});

export const DeliveryPage = z.object({
  data: z.array(WebhookDelivery),
  next_cursor: z.string().nullable(),
}).openapi("WebhookDeliveryPage");

export const DeliveryCursor = z.tuple([z.string().regex(/^-?\d{1,19}$/), z.uuid()]);

export const DeliverRequest = z.object({
  source: z.string().max(64).optional(),
  limit: z.number().int().min(1).max(5_000).optional(),
  concurrency: z.number().int().min(1).max(32).optional(),
}).openapi("DeliverRequest");

export const DeliverResult = z.object({
  claimed: z.number().int(),
  delivered: z.number().int(),
  retrying: z.number().int(),
  failed: z.number().int().openapi({ description: "Given up: attempts exhausted, or 410 Gone." }),
  errors: z.number().int().openapi({ description: "Slots stopped by a database error." }),
  ms: z.number().int(),
}).openapi("DeliverResult");

export const serviceAuth = [{ bearer: [] }];
