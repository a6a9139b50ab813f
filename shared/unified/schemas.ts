// Wire shapes of the unified API, each declared once: the same for Google and
// Microsoft. Ids carry their connection ("<connection uuid>:<provider id>"),
// so a client passes them back without knowing which account they came from.
// Times are RFC 3339 instants in UTC ("Z"), the event's own zone beside them.
import { z } from "@hono/zod-openapi";
import { UNIFIED_PROVIDERS } from "./scopes.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const UnifiedId = z.string().max(600).regex(
  /^[0-9a-fA-F-]{36}:[^\s:]{1,500}$/,
  "an id from this API: <connection_id>:<provider id>",
).refine((s) => UUID.test(s.slice(0, 36)), "an id from this API: <connection_id>:<provider id>")
  .openapi({
    description:
      "<connection_id>:<provider's id>, as this API returned it (URL-encode it in paths).",
    example: "0b9f7c1e-2c1a-4c55-9d1e-8f3a2b1c0d4e:a1b2c3d4e5f6",
  });

export const Provider = z.enum(UNIFIED_PROVIDERS);
const instant = () => z.iso.datetime({ offset: true });
const ConnectionId = z.uuid().openapi({
  description: "Which connection (GET /tokens lists them). Reads without it merge every " +
    "connection that allows them; writes need it when more than one does.",
});

export const Person = z.object({
  email: z.string(),
  name: z.string().nullable(),
}).openapi("UnifiedPerson");

export const Attendee = Person.extend({
  response: z.enum(["accepted", "declined", "tentative", "needs_action"]),
  organizer: z.boolean(),
}).openapi("UnifiedAttendee");

export const Event = z.object({
  id: z.string(),
  connection_id: z.uuid(),
  provider: Provider,
  title: z.string(),
  description: z.string().nullable(),
  start: instant(),
  end: instant(),
  all_day: z.boolean(),
  time_zone: z.string().nullable().openapi({ description: "The event's own IANA zone, if any." }),
  location: z.string().nullable(),
  meeting_link: z.string().nullable(),
  organizer: Person.nullable(),
  attendees: z.array(Attendee),
  status: z.enum(["confirmed", "tentative", "cancelled"]),
  web_link: z.string().nullable(),
}).openapi("UnifiedEvent");

export const EventPage = z.object({
  data: z.array(Event),
  next_cursor: z.string().nullable(),
}).openapi("UnifiedEventPage");

const limit = z.coerce.number().int().min(1).max(50).default(20)
  .openapi({ description: "Page size, 1 to 50." });
const cursor = z.string().max(4096).optional()
  .openapi({ description: "next_cursor from the previous page (the same query)." });

const range = {
  time_min: instant().openapi({ description: "Start of the range (RFC 3339 with offset)." }),
  time_max: instant().openapi({ description: "End of the range, at most 366 days later." }),
};

const MAX_RANGE_MS = 366 * 86_400_000;
const ordered = <T extends { time_min: string; time_max: string }>(v: T) =>
  Date.parse(v.time_max) > Date.parse(v.time_min) &&
  Date.parse(v.time_max) - Date.parse(v.time_min) <= MAX_RANGE_MS;
const orderedIssue = {
  message: "time_max must be after time_min, by at most 366 days",
  path: ["time_max"],
};

export const ListEventsInput = z.object({
  ...range,
  connection_id: ConnectionId.optional(),
  query: z.string().min(1).max(200).optional().openapi({ description: "Words to match." }),
  limit,
  cursor,
}).refine(ordered, orderedIssue).openapi("ListEventsInput");

export const EventIdInput = z.object({
  id: UnifiedId.openapi({ description: "Event id (<connection_id>:<provider id>, URL-encoded)" }),
});

export const CreateEventInput = z.strictObject({
  connection_id: ConnectionId.optional(),
  title: z.string().min(1).max(500),
  start: instant(),
  end: instant(),
  description: z.string().max(8000).optional(),
  location: z.string().max(500).optional(),
  attendees: z.array(z.email().max(254)).max(50).optional().openapi({
    description: "Invited by e-mail; the provider sends the invitations.",
  }),
  add_meeting_link: z.boolean().optional().openapi({
    description: "Ask the provider for an online meeting (Google Meet, Teams).",
  }),
}).refine((v) => Date.parse(v.end) > Date.parse(v.start), {
  message: "end must be after start",
  path: ["end"],
}).openapi("CreateEventInput");

export const FreeBusyInput = z.object({
  ...range,
  connection_id: ConnectionId.optional(),
}).refine(ordered, orderedIssue).openapi("FreeBusyInput");

const Interval = z.object({ start: instant(), end: instant() });

export const FreeBusy = z.object({
  time_min: instant(),
  time_max: instant(),
  busy: z.array(Interval.extend({ connection_id: z.uuid() })),
  free: z.array(Interval).openapi({ description: "The gaps between the merged busy times." }),
  connections: z.array(z.uuid()),
}).openapi("UnifiedFreeBusy");

export const Attachment = z.object({
  id: z.string().nullable(),
  filename: z.string(),
  mime_type: z.string(),
  size: z.number().int().nullable(),
}).openapi("UnifiedAttachment");

export const MailSummary = z.object({
  id: z.string(),
  connection_id: z.uuid(),
  provider: Provider,
  thread_id: z.string().nullable(),
  from: Person.nullable(),
  to: z.array(Person),
  cc: z.array(Person),
  subject: z.string(),
  snippet: z.string(),
  received_at: instant(),
  labels: z.array(z.string()).openapi({
    description: "Gmail label ids, or the Outlook folder (inbox, sentitems, drafts, …).",
  }),
  unread: z.boolean(),
  has_attachments: z.boolean(),
}).openapi("UnifiedMailSummary");

export const Mail = MailSummary.extend({
  body_text: z.string().openapi({
    description: "The plain-text body (from text/plain, else the HTML's text). Untrusted " +
      "content written by the sender.",
  }),
  attachments: z.array(Attachment),
  message_id_header: z.string().nullable(),
}).openapi("UnifiedMail");

export const MailPage = z.object({
  data: z.array(MailSummary),
  next_cursor: z.string().nullable(),
}).openapi("UnifiedMailPage");

export const SearchMailInput = z.object({
  query: z.string().min(1).max(500).optional().openapi({
    description: "Words to find (Gmail's q, Graph's $search).",
  }),
  label: z.string().regex(/^[A-Za-z0-9_.:=-]{1,100}$/).optional().openapi({
    description: "inbox, sent, drafts, unread, or a provider label/folder id.",
  }),
  after: instant().optional(),
  before: instant().optional(),
  connection_id: ConnectionId.optional(),
  limit,
  cursor,
}).refine((v) => !v.after || !v.before || Date.parse(v.before) > Date.parse(v.after), {
  message: "before must be after after",
  path: ["before"],
}).openapi("SearchMailInput");

export const MailIdInput = z.object({
  id: UnifiedId.openapi({ description: "Mail id (<connection_id>:<provider id>, URL-encoded)" }),
});

export const CreateDraftInput = z.strictObject({
  connection_id: ConnectionId.optional(),
  to: z.array(z.email().max(254)).min(1).max(50),
  cc: z.array(z.email().max(254)).max(50).optional(),
  subject: z.string().max(900).refine((s) => !/[\r\n]/.test(s), "one line"),
  body_text: z.string().max(100_000),
}).openapi("CreateDraftInput");

export const Draft = z.object({
  id: z.string().openapi({
    description: "The draft's id: send it with POST /mail/drafts/{id}/send.",
  }),
  connection_id: z.uuid(),
  provider: Provider,
  message_id: z.string().nullable(),
  thread_id: z.string().nullable(),
  to: z.array(z.string()),
  cc: z.array(z.string()),
  subject: z.string(),
}).openapi("UnifiedDraft");

export const DraftIdInput = z.object({
  id: UnifiedId.openapi({ description: "Draft id (<connection_id>:<provider id>, URL-encoded)" }),
});

export const SentDraft = z.object({
  draft_id: z.string(),
  connection_id: z.uuid(),
  provider: Provider,
  message_id: z.string().nullable().openapi({
    description: "The sent message, when the provider names it (Gmail does; Graph answers 202).",
  }),
  thread_id: z.string().nullable(),
  status: z.literal("sent"),
}).openapi("UnifiedSentDraft");

export type EventT = z.infer<typeof Event>;
export type MailSummaryT = z.infer<typeof MailSummary>;
export type MailT = z.infer<typeof Mail>;
