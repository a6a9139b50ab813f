// Google Calendar v3 and Gmail v1 as the local stand-in serves them: the
// documented paths, query parameters, page tokens, resource shapes and error
// format ({"error":{"code","message","errors":[{domain,reason,message}],"status"}}).
//   GET  /calendar/v3/calendars/{calendarId}/events        timeMin timeMax singleEvents orderBy
//                                                          maxResults pageToken q
//   GET  /calendar/v3/calendars/{calendarId}/events/{id}
//   POST /calendar/v3/calendars/{calendarId}/events        conferenceDataVersion sendUpdates
//   POST /calendar/v3/freeBusy
//   GET  /gmail/v1/users/me/messages                       q labelIds maxResults pageToken
//   GET  /gmail/v1/users/me/messages/{id}                  format=full|metadata|minimal
//   POST /gmail/v1/users/me/drafts                         {message:{raw, threadId?}}
//   POST /gmail/v1/users/me/drafts/send                    {id}
import type { Ctx, ErrorKind, ProviderApi, Route } from "./http.ts";
import { b64url, fromB64url, json, offsetOf, pageToken, readJson } from "./http.ts";
import type { Mailbox, Person, StoredEvent, StoredMessage } from "./store.ts";
import { eventsBetween, hexId, isoInstant, newestFirst } from "./store.ts";

const AUTH = "https://www.googleapis.com/auth/";
const CALENDAR_READ = [
  "calendar",
  "calendar.readonly",
  "calendar.events",
  "calendar.events.readonly",
]
  .map((s) => AUTH + s);
const CALENDAR_WRITE = ["calendar", "calendar.events"].map((s) => AUTH + s);
const FREEBUSY = [...CALENDAR_READ, `${AUTH}calendar.freebusy`];
const GMAIL_READ = [`${AUTH}gmail.readonly`, `${AUTH}gmail.modify`, "https://mail.google.com/"];
const GMAIL_COMPOSE = [`${AUTH}gmail.compose`, `${AUTH}gmail.modify`, "https://mail.google.com/"];

const STATUS: Record<ErrorKind, [number, string, string, string]> = {
  unauthorized: [
    401,
    "UNAUTHENTICATED",
    "authError",
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login " +
    "cookie or other valid authentication credential.",
  ],
  insufficient_scope: [
    403,
    "PERMISSION_DENIED",
    "insufficientPermissions",
    "Request had insufficient authentication scopes.",
  ],
  forbidden: [403, "PERMISSION_DENIED", "forbidden", "The caller does not have permission"],
  rate_limited: [
    429,
    "RESOURCE_EXHAUSTED",
    "rateLimitExceeded",
    "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user'.",
  ],
  not_found: [404, "NOT_FOUND", "notFound", "Not Found"],
  bad_request: [400, "INVALID_ARGUMENT", "badRequest", "Bad Request"],
  server_error: [500, "INTERNAL", "backendError", "Internal error encountered."],
  unavailable: [503, "UNAVAILABLE", "backendError", "The service is currently unavailable."],
};

function error(
  kind: ErrorKind,
  message?: string,
  o: { retryAfter?: number; scopes?: string[] } = {},
): Response {
  const [code, status, reason, text] = STATUS[kind];
  const headers: Record<string, string> = {};
  if (kind === "unauthorized") {
    headers["WWW-Authenticate"] =
      'Bearer realm="https://accounts.google.com/", error="invalid_token"';
  }
  if (kind === "insufficient_scope") {
    headers["WWW-Authenticate"] = `Bearer realm="https://accounts.google.com/", ` +
      `error="insufficient_scope", scope="${(o.scopes ?? []).join(" ")}"`;
  }
  if (o.retryAfter !== undefined) headers["Retry-After"] = String(o.retryAfter);
  const domain = kind === "rate_limited" ? "usageLimits" : "global";
  return json(
    {
      error: {
        code,
        message: message ?? text,
        errors: [{ message: message ?? text, domain, reason }],
        status,
      },
    },
    code,
    headers,
  );
}

// Times --------------------------------------------------------------------------------------

// RFC 3339 with an offset: Calendar refuses timeMin/timeMax without one.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function offsetIn(ms: number, timeZone: string): string {
  const part = new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "longOffset" })
    .formatToParts(new Date(ms)).find((p) => p.type === "timeZoneName")?.value ?? "GMT";
  const m = part.match(/GMT([+-]\d{2}):?(\d{2})?/);
  return m ? `${m[1]}:${m[2] ?? "00"}` : "+00:00";
}

// An instant as Calendar writes it: local wall time in the event's zone, with its offset.
function localDateTime(isoTime: string, timeZone: string): string {
  const ms = Date.parse(isoTime);
  const offset = offsetIn(ms, timeZone);
  const sign = offset.startsWith("-") ? -1 : 1;
  const [h, m] = offset.slice(1).split(":").map(Number);
  const local = new Date(ms + sign * (h * 60 + m) * 60_000).toISOString().slice(0, 19);
  return `${local}${offset === "+00:00" ? "Z" : offset}`;
}

const rfc2822 = (isoTime: string) => new Date(isoTime).toUTCString().replace("GMT", "+0000");

// Calendar -----------------------------------------------------------------------------------

function eventResource(box: Mailbox, e: StoredEvent) {
  const tz = e.timeZone ?? "UTC";
  const when = (t: string) =>
    e.allDay ? { date: t.slice(0, 10) } : { dateTime: localDateTime(t, tz), timeZone: tz };
  const person = (p: Person) => ({
    email: p.email,
    ...(p.name ? { displayName: p.name } : {}),
    ...(p.email === box.email ? { self: true } : {}),
  });
  return {
    kind: "calendar#event",
    etag: `"${hexId(e.id + e.title, 16)}"`,
    id: e.id,
    status: "confirmed",
    htmlLink: `https://www.google.com/calendar/event?eid=${b64url(`${e.id} ${box.email}`)}`,
    created: e.created,
    updated: e.created,
    summary: e.title,
    ...(e.description ? { description: e.description } : {}),
    ...(e.location ? { location: e.location } : {}),
    creator: person(e.organizer),
    organizer: person(e.organizer),
    start: when(e.start),
    end: when(e.end),
    iCalUID: `${e.id}@google.com`,
    sequence: 0,
    ...(e.attendees.length
      ? {
        attendees: e.attendees.map((a) => ({
          ...person(a),
          responseStatus: a.response ?? "needsAction",
          ...(a.email === e.organizer.email ? { organizer: true } : {}),
        })),
      }
      : {}),
    ...(e.meetingLink
      ? {
        hangoutLink: e.meetingLink,
        conferenceData: {
          entryPoints: [{ entryPointType: "video", uri: e.meetingLink, label: e.meetingLink }],
          conferenceSolution: { key: { type: "hangoutsMeet" }, name: "Google Meet" },
          conferenceId: e.meetingLink.split("/").pop(),
        },
      }
      : {}),
    eventType: "default",
  };
}

const calendarOf = (ctx: Ctx) => {
  const id = decodeURIComponent(ctx.match[1]);
  return id === "primary" || id.toLowerCase() === ctx.box.email;
};

function listEvents(ctx: Ctx): Response {
  if (!calendarOf(ctx)) return error("not_found");
  const q = ctx.url.searchParams;
  const timeMin = q.get("timeMin"), timeMax = q.get("timeMax");
  for (const t of [timeMin, timeMax]) {
    if (t !== null && !RFC3339.test(t)) return error("bad_request", "Bad Request");
  }
  if (q.get("orderBy") === "startTime" && q.get("singleEvents") !== "true") {
    return error(
      "bad_request",
      "The requested ordering is not available for the particular query.",
    );
  }
  const max = Number(q.get("maxResults") ?? 250);
  if (!Number.isInteger(max) || max < 1) {
    return error("bad_request", "Invalid value for maxResults");
  }
  const offset = offsetOf(q.get("pageToken"));
  if (offset === null) return error("bad_request", "Invalid page token");
  const words = q.get("q")?.toLowerCase();
  const all = eventsBetween(
    ctx.box,
    timeMin ? Date.parse(timeMin) : undefined,
    timeMax ? Date.parse(timeMax) : undefined,
  ).filter((e) =>
    !words || `${e.title} ${e.description ?? ""} ${e.location ?? ""}`
      .toLowerCase().includes(words)
  );
  const size = Math.min(max, 2500);
  const items = all.slice(offset, offset + size);
  return json({
    kind: "calendar#events",
    etag: `"${hexId(String(all.length), 12)}"`,
    summary: ctx.box.email,
    updated: isoInstant(Date.now()),
    timeZone: "UTC",
    accessRole: "owner",
    defaultReminders: [],
    ...(offset + size < all.length ? { nextPageToken: pageToken(offset + size) } : {}),
    items: items.map((e) => eventResource(ctx.box, e)),
  });
}

function getEvent(ctx: Ctx): Response {
  const id = decodeURIComponent(ctx.match[2]);
  const e = calendarOf(ctx) && ctx.box.events.find((x) => x.id === id);
  return e ? json(eventResource(ctx.box, e)) : error("not_found");
}

type GoogleTime = { dateTime?: string; date?: string; timeZone?: string };

function instantOf(t: unknown): { iso: string; allDay: boolean; tz?: string } | null {
  const v = t as GoogleTime | undefined;
  if (v?.dateTime && RFC3339.test(v.dateTime)) {
    return { iso: isoInstant(Date.parse(v.dateTime)), allDay: false, tz: v.timeZone };
  }
  if (v?.date && /^\d{4}-\d{2}-\d{2}$/.test(v.date)) {
    return { iso: `${v.date}T00:00:00Z`, allDay: true };
  }
  return null;
}

async function insertEvent(ctx: Ctx): Promise<Response> {
  if (!calendarOf(ctx)) return error("not_found");
  const body = await readJson(ctx.req);
  if (!body) return error("bad_request", "Parse Error");
  const start = instantOf(body.start), end = instantOf(body.end);
  if (!start) return error("bad_request", "Missing start time.");
  if (!end) return error("bad_request", "Missing end time.");
  if (Date.parse(end.iso) <= Date.parse(start.iso)) {
    return error("bad_request", "The specified time range is empty.");
  }
  const attendees = Array.isArray(body.attendees) ? body.attendees : [];
  if (attendees.some((a) => typeof a?.email !== "string" || !a.email.includes("@"))) {
    return error("bad_request", "Invalid attendee email.");
  }
  const wantsMeet = ctx.url.searchParams.get("conferenceDataVersion") === "1" &&
    // deno-lint-ignore no-explicit-any
    (body.conferenceData as any)?.createRequest;
  const id = hexId(`${ctx.box.email}|inserted|${crypto.randomUUID()}`, 26);
  const e: StoredEvent = {
    id,
    title: typeof body.summary === "string" ? body.summary : "(No title)",
    ...(typeof body.description === "string" ? { description: body.description } : {}),
    ...(typeof body.location === "string" ? { location: body.location } : {}),
    start: start.iso,
    end: end.iso,
    allDay: start.allDay,
    timeZone: start.tz ?? "UTC",
    organizer: { email: ctx.box.email },
    attendees: attendees.map((a) => ({
      email: a.email,
      ...(a.displayName ? { name: a.displayName } : {}),
      response: "needsAction" as const,
    })),
    created: isoInstant(Date.now()),
    ...(wantsMeet
      ? {
        meetingLink: `https://meet.google.com/${id.slice(0, 3)}-${id.slice(3, 7)}-${
          id.slice(7, 10)
        }`,
      }
      : {}),
  };
  ctx.box.events.push(e);
  return json(eventResource(ctx.box, e));
}

async function freeBusy(ctx: Ctx): Promise<Response> {
  const body = await readJson(ctx.req);
  if (!body) return error("bad_request", "Parse Error");
  const { timeMin, timeMax } = body as { timeMin?: string; timeMax?: string };
  if (!timeMin || !timeMax || !RFC3339.test(timeMin) || !RFC3339.test(timeMax)) {
    return error("bad_request", "Missing timeMin or timeMax.");
  }
  if (Date.parse(timeMax) <= Date.parse(timeMin)) {
    return error("bad_request", "The specified time range is empty.");
  }
  const items = Array.isArray(body.items) ? body.items as { id?: string }[] : [];
  const calendars: Record<string, unknown> = {};
  for (const { id } of items) {
    if (typeof id !== "string") continue;
    calendars[id] = id === "primary" || id.toLowerCase() === ctx.box.email
      ? {
        busy: eventsBetween(ctx.box, Date.parse(timeMin), Date.parse(timeMax))
          .map((e) => ({ start: e.start, end: e.end })),
      }
      : { errors: [{ domain: "global", reason: "notFound" }], busy: [] };
  }
  return json({ kind: "calendar#freeBusy", timeMin, timeMax, calendars });
}

// Gmail --------------------------------------------------------------------------------------

const address = (p: Person) => (p.name ? `"${p.name}" <${p.email}>` : p.email);
const escapeSnippet = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");

function headersOf(m: StoredMessage) {
  return [
    { name: "From", value: address(m.from) },
    { name: "To", value: m.to.map(address).join(", ") },
    ...(m.cc.length ? [{ name: "Cc", value: m.cc.map(address).join(", ") }] : []),
    { name: "Subject", value: m.subject },
    { name: "Date", value: rfc2822(m.date) },
    { name: "Message-ID", value: m.messageIdHeader },
  ];
}

const textPart = (partId: string, mimeType: string, text: string) => ({
  partId,
  mimeType,
  filename: "",
  headers: [{ name: "Content-Type", value: `${mimeType}; charset="UTF-8"` }],
  body: { size: new TextEncoder().encode(text).length, data: b64url(text) },
});

function payloadOf(m: StoredMessage) {
  const headers = headersOf(m);
  const content = m.html
    ? {
      mimeType: "multipart/alternative",
      parts: [textPart("0", "text/plain", m.text), textPart("1", "text/html", m.html)],
    }
    : textPart("0", "text/plain", m.text);
  if (!m.attachments.length) return { partId: "", filename: "", ...content, headers };
  const first = m.html
    ? {
      partId: "0",
      filename: "",
      mimeType: "multipart/alternative",
      headers: [],
      body: { size: 0 },
      parts: [textPart("0.0", "text/plain", m.text), textPart("0.1", "text/html", m.html)],
    }
    : textPart("0", "text/plain", m.text);
  return {
    partId: "",
    mimeType: "multipart/mixed",
    filename: "",
    headers,
    body: { size: 0 },
    parts: [
      first,
      ...m.attachments.map((a, i) => ({
        partId: String(i + 1),
        mimeType: a.mimeType,
        filename: a.filename,
        headers: [
          { name: "Content-Type", value: `${a.mimeType}; name="${a.filename}"` },
          { name: "Content-Disposition", value: `attachment; filename="${a.filename}"` },
        ],
        body: { attachmentId: a.id, size: a.size },
      })),
    ],
  };
}

function messageResource(m: StoredMessage, format: string, only: string[]) {
  const base = {
    id: m.id,
    threadId: m.threadId,
    labelIds: m.labels,
    snippet: escapeSnippet(m.text.replace(/\s+/g, " ").slice(0, 200)),
    historyId: String(100000 + Number.parseInt(m.id.slice(0, 6), 16) % 100000),
    internalDate: String(Date.parse(m.date)),
    sizeEstimate: m.text.length + (m.html?.length ?? 0) + 800,
  };
  if (format === "minimal") return base;
  if (format === "metadata") {
    const wanted = only.map((h) => h.toLowerCase());
    const headers = headersOf(m).filter((h) =>
      !wanted.length || wanted.includes(h.name.toLowerCase())
    );
    return {
      ...base,
      payload: {
        partId: "",
        mimeType: m.attachments.length ? "multipart/mixed" : "text/plain",
        filename: "",
        headers,
      },
    };
  }
  return { ...base, payload: payloadOf(m) };
}

// Gmail's search operators that the stand-in understands; other words match text.
function matches(m: StoredMessage, q: string): boolean {
  const terms = q.match(/(\w+:)?("[^"]*"|\S+)/g) ?? [];
  return terms.every((term) => {
    const [, op, raw] = term.match(/^(\w+:)?(.*)$/)!;
    const value = raw.replace(/^"|"$/g, "").toLowerCase();
    const who = (ps: Person[]) =>
      ps.some((p) => `${p.name ?? ""} ${p.email}`.toLowerCase().includes(value));
    const when = (v: string) =>
      /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v.replace(/\//g, "-") + "T00:00:00Z");
    switch (op) {
      case "from:":
        return who([m.from]);
      case "to:":
        return who([...m.to, ...m.cc]);
      case "subject:":
        return m.subject.toLowerCase().includes(value);
      case "after:":
        return Date.parse(m.date) >= when(value);
      case "before:":
        return Date.parse(m.date) < when(value);
      case "is:":
        return value === "unread"
          ? m.labels.includes("UNREAD")
          : value === "read"
          ? !m.labels.includes("UNREAD")
          : m.labels.includes(value.toUpperCase());
      case "in:":
      case "label:":
        return value === "anywhere" || m.labels.some((l) => l.toLowerCase() === value);
      case "has:":
        return value === "attachment" ? m.attachments.length > 0 : false;
      default:
        return `${m.subject} ${m.text} ${m.from.name ?? ""} ${m.from.email}`.toLowerCase()
          .includes(value);
    }
  });
}

function listMessages(ctx: Ctx): Response {
  const q = ctx.url.searchParams;
  const max = Number(q.get("maxResults") ?? 100);
  if (!Number.isInteger(max) || max < 1) return error("bad_request", "Invalid maxResults");
  const offset = offsetOf(q.get("pageToken"));
  if (offset === null) return error("bad_request", "Invalid pageToken");
  const labels = q.getAll("labelIds");
  const query = q.get("q") ?? "";
  const all = ctx.box.messages
    .filter((m) => labels.every((l) => m.labels.includes(l)) && matches(m, query))
    .sort(newestFirst);
  const size = Math.min(max, 500);
  const page = all.slice(offset, offset + size);
  return json({
    ...(page.length ? { messages: page.map((m) => ({ id: m.id, threadId: m.threadId })) } : {}),
    ...(offset + size < all.length ? { nextPageToken: pageToken(offset + size) } : {}),
    resultSizeEstimate: all.length,
  });
}

function getMessage(ctx: Ctx): Response {
  const m = ctx.box.messages.find((x) => x.id === decodeURIComponent(ctx.match[1]));
  if (!m) return error("not_found", "Requested entity was not found.");
  const q = ctx.url.searchParams;
  const format = q.get("format") ?? "full";
  if (!["full", "metadata", "minimal"].includes(format)) {
    return error("bad_request", "Invalid format");
  }
  return json(messageResource(m, format, q.getAll("metadataHeaders")));
}

// A raw RFC 2822 message as a client builds one: headers (RFC 2047 encoded
// words allowed), a blank line, a text body (8bit, or base64 if it says so).
function parseRaw(raw: string): { headers: Map<string, string>; body: string } | null {
  let text: string;
  try {
    text = fromB64url(raw);
  } catch {
    return null;
  }
  const split = text.search(/\r?\n\r?\n/);
  if (split < 0) return null;
  const headers = new Map<string, string>();
  for (const line of text.slice(0, split).replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/)) {
    const at = line.indexOf(":");
    if (at > 0) {
      headers.set(line.slice(0, at).trim().toLowerCase(), decodeWords(line.slice(at + 1).trim()));
    }
  }
  let body = text.slice(split).replace(/^\r?\n\r?\n/, "");
  if (headers.get("content-transfer-encoding")?.toLowerCase() === "base64") {
    body = new TextDecoder().decode(
      Uint8Array.from(atob(body.replace(/\s+/g, "")), (c) => c.charCodeAt(0)),
    );
  }
  return { headers, body };
}

function decodeWords(value: string): string {
  return value.replace(
    /=\?utf-8\?b\?([^?]*)\?=/gi,
    (_, b) => new TextDecoder().decode(Uint8Array.from(atob(b), (c) => c.charCodeAt(0))),
  );
}

const people = (v: string | undefined): Person[] =>
  (v ?? "").split(",").map((s) => s.trim()).filter(Boolean).map((s) => {
    const m = s.match(/^(?:"?([^"<]*)"?\s*)?<([^>]+)>$/);
    return m
      ? { email: m[2].trim(), ...(m[1]?.trim() ? { name: m[1].trim() } : {}) }
      : { email: s };
  });

async function createDraft(ctx: Ctx): Promise<Response> {
  const body = await readJson(ctx.req);
  // deno-lint-ignore no-explicit-any
  const message = body?.message as any;
  if (typeof message?.raw !== "string") return error("bad_request", "Missing draft message");
  const parsed = parseRaw(message.raw);
  if (!parsed) return error("bad_request", "Invalid raw message");
  const h = parsed.headers;
  const to = people(h.get("to"));
  if (to.some((p) => !p.email.includes("@"))) return error("bad_request", "Invalid To header");
  const id = hexId(`${ctx.box.email}|draft-message|${crypto.randomUUID()}`);
  const threadId = typeof message.threadId === "string" &&
      ctx.box.messages.some((m) => m.threadId === message.threadId)
    ? message.threadId
    : id;
  const m: StoredMessage = {
    id,
    threadId,
    from: { email: ctx.box.email },
    to,
    cc: people(h.get("cc")),
    subject: h.get("subject") ?? "",
    text: parsed.body,
    date: isoInstant(Date.now()),
    labels: ["DRAFT"],
    attachments: [],
    messageIdHeader: `<${id}@mail.gmail.com>`,
  };
  ctx.box.messages.push(m);
  const draft = { id: `r${hexId(id, 18)}`, messageId: id };
  ctx.box.drafts.push(draft);
  return json({ id: draft.id, message: { id, threadId, labelIds: m.labels } });
}

async function sendDraft(ctx: Ctx): Promise<Response> {
  const body = await readJson(ctx.req);
  const draft = ctx.box.drafts.find((d) => d.id === body?.id);
  if (!draft) return error("not_found", "Requested entity was not found.");
  const m = ctx.box.messages.find((x) => x.id === draft.messageId)!;
  if (!m.to.length) return error("bad_request", "Invalid To header");
  ctx.box.drafts = ctx.box.drafts.filter((d) => d !== draft);
  m.labels = ["SENT"];
  ctx.box.sent.push({ messageId: m.id, to: m.to.map((p) => p.email), subject: m.subject });
  return json({ id: m.id, threadId: m.threadId, labelIds: m.labels });
}

const routes: Route[] = [
  {
    method: "GET",
    path: /^\/calendar\/v3\/calendars\/([^/]+)\/events$/,
    endpoint: "events.list",
    scopes: CALENDAR_READ,
    run: listEvents,
  },
  {
    method: "GET",
    path: /^\/calendar\/v3\/calendars\/([^/]+)\/events\/([^/]+)$/,
    endpoint: "events.get",
    scopes: CALENDAR_READ,
    run: getEvent,
  },
  {
    method: "POST",
    path: /^\/calendar\/v3\/calendars\/([^/]+)\/events$/,
    endpoint: "events.insert",
    scopes: CALENDAR_WRITE,
    run: insertEvent,
  },
  {
    method: "POST",
    path: /^\/calendar\/v3\/freeBusy$/,
    endpoint: "freebusy",
    scopes: FREEBUSY,
    run: freeBusy,
  },
  {
    method: "GET",
    path: /^\/gmail\/v1\/users\/me\/messages$/,
    endpoint: "messages.list",
    scopes: GMAIL_READ,
    run: listMessages,
  },
  {
    method: "GET",
    path: /^\/gmail\/v1\/users\/me\/messages\/([^/]+)$/,
    endpoint: "messages.get",
    scopes: GMAIL_READ,
    run: getMessage,
  },
  {
    method: "POST",
    path: /^\/gmail\/v1\/users\/me\/drafts$/,
    endpoint: "drafts.create",
    scopes: GMAIL_COMPOSE,
    run: createDraft,
  },
  {
    method: "POST",
    path: /^\/gmail\/v1\/users\/me\/drafts\/send$/,
    endpoint: "drafts.send",
    scopes: GMAIL_COMPOSE,
    run: sendDraft,
  },
];

export const google: ProviderApi = {
  name: "google",
  routes,
  normalizeScope: (s) => s,
  error,
};
