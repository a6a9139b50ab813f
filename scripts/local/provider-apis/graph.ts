// Microsoft Graph v1.0 as the local stand-in serves it: the documented paths,
// OData query options ($top, $skip, $skiptoken, $search, $filter, $expand),
// @odata.nextLink paging, resource shapes, the Prefer headers
// (outlook.timezone, outlook.body-content-type) and the error format
// ({"error":{"code","message","innerError"}}).
//   GET  /v1.0/me/calendarView                      startDateTime endDateTime $top $skip
//   GET  /v1.0/me/events/{id}
//   POST /v1.0/me/events
//   POST /v1.0/me/calendar/getSchedule
//   GET  /v1.0/me/messages, /v1.0/me/mailFolders/{id}/messages   $search $filter $top $skip
//   GET  /v1.0/me/messages/{id}                     $expand=attachments
//   POST /v1.0/me/messages                          a draft
//   POST /v1.0/me/messages/{id}/send                202, no body
import type { Ctx, ErrorKind, ProviderApi, Route } from "./http.ts";
import { json, offsetOf, pageToken, readJson } from "./http.ts";
import type { Mailbox, Person, StoredEvent, StoredMessage } from "./store.ts";
import { eventsBetween, hexId, isoInstant, newestFirst } from "./store.ts";

const GRAPH = "https://graph.microsoft.com/";
const normalizeScope = (s: string) =>
  (s.toLowerCase().startsWith(GRAPH) ? s.slice(GRAPH.length) : s).toLowerCase();

const CALENDAR_READ = ["Calendars.Read", "Calendars.ReadWrite"];
const SCHEDULE = ["Calendars.ReadBasic", ...CALENDAR_READ];
const MAIL_READ = ["Mail.Read", "Mail.ReadWrite"];

const ERRORS: Record<ErrorKind, [number, string, string]> = {
  unauthorized: [
    401,
    "InvalidAuthenticationToken",
    "Access token has expired or is not yet valid.",
  ],
  insufficient_scope: [
    403,
    "ErrorAccessDenied",
    "Access is denied. Check credentials and try again.",
  ],
  forbidden: [403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."],
  rate_limited: [429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit."],
  not_found: [404, "ErrorItemNotFound", "The specified object was not found in the store."],
  bad_request: [400, "ErrorInvalidParameter", "The request is invalid."],
  server_error: [500, "generalException", "General exception while processing."],
  unavailable: [503, "serviceNotAvailable", "The service is temporarily unavailable."],
};

function error(kind: ErrorKind, message?: string, o: { retryAfter?: number } = {}): Response {
  const [status, code, text] = ERRORS[kind];
  const headers: Record<string, string> = {};
  if (kind === "unauthorized") {
    headers["WWW-Authenticate"] = 'Bearer realm="", authorization_uri=' +
      '"https://login.microsoftonline.com/common/oauth2/authorize", ' +
      'client_id="00000003-0000-0000-c000-000000000000"';
  }
  if (o.retryAfter !== undefined) headers["Retry-After"] = String(o.retryAfter);
  return json(
    {
      error: {
        code,
        message: message ?? text,
        innerError: {
          date: isoInstant(Date.now()),
          "request-id": crypto.randomUUID(),
          "client-request-id": crypto.randomUUID(),
        },
      },
    },
    status,
    headers,
  );
}

// Ids: Graph's look like base64 (AAMk…=); they map one to one onto the store's.
const gid = (id: string) => `AAMkAD${id}AAA=`;
const sid = (graphId: string) => decodeURIComponent(graphId).replace(/^AAMkAD(.*)AAA=$/, "$1");

// "2026-12-01T10:00:00.0000000" in the zone Prefer: outlook.timezone names (UTC by default).
function preferredZone(req: Request): string {
  const tz = req.headers.get("Prefer")?.match(/outlook\.timezone="([^"]+)"/)?.[1];
  if (!tz) return "UTC";
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return tz;
  } catch {
    return "UTC";
  }
}

function dateTimeIn(isoTime: string, timeZone: string) {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }).formatToParts(new Date(isoTime));
  const v = (t: string) => parts.find((p) => p.type === t)?.value;
  return {
    dateTime: `${v("year")}-${v("month")}-${v("day")}T${v("hour")}:${v("minute")}:${
      v("second")
    }.0000000`,
    timeZone,
  };
}

// A Graph dateTimeTimeZone as an instant; only UTC and offsets are understood here.
function instantOf(t: unknown): string | null {
  const v = t as { dateTime?: string; timeZone?: string } | undefined;
  if (!v?.dateTime || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(v.dateTime)) {
    return null;
  }
  if (v.timeZone && !["UTC", "Etc/UTC", "GMT"].includes(v.timeZone)) return null;
  const ms = Date.parse(`${v.dateTime.slice(0, 19)}Z`);
  return Number.isNaN(ms) ? null : isoInstant(ms);
}

const emailAddress = (p: Person) => ({
  emailAddress: { name: p.name ?? p.email, address: p.email },
});

const RESPONSE: Record<string, string> = {
  accepted: "accepted",
  declined: "declined",
  tentative: "tentativelyAccepted",
  needsAction: "notResponded",
};

function eventResource(req: Request, box: Mailbox, e: StoredEvent) {
  const tz = preferredZone(req);
  return {
    "@odata.etag": `W/"${hexId(e.id + e.title, 20)}"`,
    id: gid(e.id),
    createdDateTime: e.created,
    lastModifiedDateTime: e.created,
    iCalUId: `040000008200E00074C5B7101A82E008${e.id.toUpperCase()}`,
    subject: e.title,
    bodyPreview: (e.description ?? "").slice(0, 255),
    body: {
      contentType: "html",
      content: e.description ? `<html><body>${e.description}</body></html>` : "",
    },
    importance: "normal",
    sensitivity: "normal",
    isAllDay: !!e.allDay,
    isCancelled: false,
    isOrganizer: e.organizer.email === box.email,
    showAs: "busy",
    type: "singleInstance",
    webLink: `https://outlook.office365.com/owa/?itemid=${encodeURIComponent(gid(e.id))}&exvsurl=1`,
    isOnlineMeeting: !!e.meetingLink,
    onlineMeetingProvider: e.meetingLink ? "teamsForBusiness" : "unknown",
    onlineMeeting: e.meetingLink ? { joinUrl: e.meetingLink } : null,
    onlineMeetingUrl: null,
    start: dateTimeIn(e.start, tz),
    end: dateTimeIn(e.end, tz),
    location: { displayName: e.location ?? "", locationType: "default" },
    locations: e.location ? [{ displayName: e.location, locationType: "default" }] : [],
    attendees: e.attendees.map((a) => ({
      type: "required",
      status: { response: RESPONSE[a.response ?? "needsAction"], time: "0001-01-01T00:00:00Z" },
      ...emailAddress(a),
    })),
    organizer: emailAddress(e.organizer),
  };
}

// The page that follows, as Graph links it: the same request with the next offset.
function nextLink(ctx: Ctx, total: number, offset: number, size: number, skipToken: boolean) {
  if (offset + size >= total) return {};
  const next = new URL(ctx.url);
  next.searchParams.delete("$skip");
  next.searchParams.delete("$skiptoken");
  next.searchParams.set("$top", String(size));
  if (skipToken) next.searchParams.set("$skiptoken", pageToken(offset + size));
  else next.searchParams.set("$skip", String(offset + size));
  return { "@odata.nextLink": next.href };
}

function paging(q: URLSearchParams, defaultTop: number, maxTop: number) {
  const top = Number(q.get("$top") ?? defaultTop);
  const skip = q.has("$skiptoken") ? offsetOf(q.get("$skiptoken")) : Number(q.get("$skip") ?? 0);
  if (!Number.isInteger(top) || top < 1 || skip === null || !Number.isInteger(skip) || skip < 0) {
    return null;
  }
  return { size: Math.min(top, maxTop), offset: skip };
}

function calendarView(ctx: Ctx): Response {
  const q = ctx.url.searchParams;
  const start = Date.parse(q.get("startDateTime") ?? ""),
    end = Date.parse(q.get("endDateTime") ?? "");
  if (Number.isNaN(start) || Number.isNaN(end)) {
    return error(
      "bad_request",
      "This request requires a time window specified by the query string parameters " +
        "StartDateTime and EndDateTime.",
    );
  }
  const page = paging(q, 10, 1000);
  if (!page) return error("bad_request", "Invalid paging parameters.");
  const all = eventsBetween(ctx.box, start, end);
  return json({
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('me')/calendarView",
    value: all.slice(page.offset, page.offset + page.size).map((e) =>
      eventResource(ctx.req, ctx.box, e)
    ),
    ...nextLink(ctx, all.length, page.offset, page.size, false),
  });
}

function getEvent(ctx: Ctx): Response {
  const e = ctx.box.events.find((x) => x.id === sid(ctx.match[1]));
  return e ? json(eventResource(ctx.req, ctx.box, e)) : error("not_found");
}

async function createEvent(ctx: Ctx): Promise<Response> {
  const body = await readJson(ctx.req);
  if (!body) return error("bad_request", "Empty Payload. JSON content expected.");
  const start = instantOf(body.start), end = instantOf(body.end);
  if (!start || !end) return error("bad_request", "Start and end are required, in UTC.");
  if (Date.parse(end) < Date.parse(start)) {
    return error("bad_request", "The end time must be after the start time.");
  }
  const attendees = Array.isArray(body.attendees) ? body.attendees : [];
  // deno-lint-ignore no-explicit-any
  const addressOf = (a: any) => a?.emailAddress?.address;
  if (attendees.some((a) => typeof addressOf(a) !== "string" || !addressOf(a).includes("@"))) {
    return error("bad_request", "An attendee's e-mail address is invalid.");
  }
  const id = hexId(`${ctx.box.email}|created|${crypto.randomUUID()}`, 26);
  // deno-lint-ignore no-explicit-any
  const b = body as any;
  const e: StoredEvent = {
    id,
    title: typeof b.subject === "string" ? b.subject : "",
    ...(typeof b.body?.content === "string" && b.body.content
      ? { description: b.body.content }
      : {}),
    ...(typeof b.location?.displayName === "string" && b.location.displayName
      ? { location: b.location.displayName }
      : {}),
    start,
    end,
    allDay: b.isAllDay === true,
    timeZone: "UTC",
    organizer: { email: ctx.box.email },
    attendees: attendees.map((a) => ({
      email: addressOf(a),
      ...(a.emailAddress.name ? { name: a.emailAddress.name } : {}),
      response: "needsAction" as const,
    })),
    created: isoInstant(Date.now()),
    ...(b.isOnlineMeeting
      ? { meetingLink: `https://teams.microsoft.com/l/meetup-join/${id}` }
      : {}),
  };
  ctx.box.events.push(e);
  return json(eventResource(ctx.req, ctx.box, e), 201);
}

async function getSchedule(ctx: Ctx): Promise<Response> {
  const body = await readJson(ctx.req);
  const schedules = body?.schedules;
  const start = instantOf(body?.startTime), end = instantOf(body?.endTime);
  if (!Array.isArray(schedules) || !schedules.length || !start || !end) {
    return error("bad_request", "Schedules, StartTime and EndTime are required.");
  }
  const interval = Number(body!.availabilityViewInterval ?? 30);
  if (!Number.isInteger(interval) || interval < 5 || interval > 1440) {
    return error("bad_request", "AvailabilityViewInterval must be between 5 and 1440.");
  }
  const s = Date.parse(start), e = Date.parse(end);
  const busy = eventsBetween(ctx.box, s, e);
  let view = "";
  for (let t = s; t < e; t += interval * 60_000) {
    view += busy.some((x) => Date.parse(x.start) < t + interval * 60_000 && Date.parse(x.end) > t)
      ? "2"
      : "0";
  }
  return json({
    "@odata.context":
      "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.scheduleInformation)",
    value: schedules.map((id: unknown) =>
      String(id).toLowerCase() === ctx.box.email
        ? {
          scheduleId: id,
          availabilityView: view,
          scheduleItems: busy.map((x) => ({
            isPrivate: false,
            status: "busy",
            subject: x.title,
            location: x.location ?? "",
            start: dateTimeIn(x.start, "UTC"),
            end: dateTimeIn(x.end, "UTC"),
          })),
          workingHours: {
            daysOfWeek: ["monday", "tuesday", "wednesday", "thursday", "friday"],
            startTime: "08:00:00.0000000",
            endTime: "17:00:00.0000000",
            timeZone: { name: "UTC" },
          },
        }
        : {
          scheduleId: id,
          error: {
            message: "The mailbox was not found.",
            responseCode: "ErrorMailRecipientNotFound",
          },
        }
    ),
  });
}

// Mail ---------------------------------------------------------------------------------------

const FOLDERS: Record<string, string> = {
  INBOX: "inbox",
  SENT: "sentitems",
  DRAFT: "drafts",
  TRASH: "deleteditems",
  SPAM: "junkemail",
};
const folderOf = (m: StoredMessage) =>
  FOLDERS[m.labels.find((l) => FOLDERS[l]) ?? "INBOX"] ?? "inbox";
const folderId = (name: string) => `AQMkAD${name}AAA=`;

function messageResource(req: Request, m: StoredMessage, expandAttachments: boolean) {
  const asText = /outlook\.body-content-type="?text"?/i.test(req.headers.get("Prefer") ?? "");
  return {
    "@odata.etag": `W/"${hexId(m.id, 20)}"`,
    id: gid(m.id),
    createdDateTime: m.date,
    lastModifiedDateTime: m.date,
    changeKey: hexId(m.id, 12),
    categories: [],
    receivedDateTime: m.date,
    sentDateTime: m.date,
    hasAttachments: m.attachments.length > 0,
    internetMessageId: m.messageIdHeader,
    subject: m.subject,
    bodyPreview: m.text.replace(/\s+/g, " ").slice(0, 255),
    importance: m.labels.includes("IMPORTANT") ? "high" : "normal",
    parentFolderId: folderId(folderOf(m)),
    conversationId: `AAQkAD${m.threadId}=`,
    isRead: !m.labels.includes("UNREAD"),
    isDraft: m.labels.includes("DRAFT"),
    webLink: `https://outlook.office365.com/owa/?ItemID=${encodeURIComponent(gid(m.id))}`,
    inferenceClassification: "focused",
    body: asText || !m.html
      ? { contentType: "text", content: m.text }
      : { contentType: "html", content: `<html><body>${m.html}</body></html>` },
    sender: emailAddress(m.from),
    from: emailAddress(m.from),
    toRecipients: m.to.map(emailAddress),
    ccRecipients: m.cc.map(emailAddress),
    bccRecipients: [],
    replyTo: [],
    flag: { flagStatus: "notFlagged" },
    ...(expandAttachments
      ? {
        attachments: m.attachments.map((a) => ({
          "@odata.type": "#microsoft.graph.fileAttachment",
          id: `AAMkAtt${a.id}=`,
          name: a.filename,
          contentType: a.mimeType,
          size: a.size,
          isInline: false,
          lastModifiedDateTime: m.date,
        })),
      }
      : {}),
  };
}

type Clause = (m: StoredMessage) => boolean;

// The $filter clauses the unified API sends: receivedDateTime ranges, isRead, hasAttachments.
function filterOf(expr: string | null): Clause | null {
  if (!expr) return () => true;
  const clauses: Clause[] = [];
  for (const part of expr.split(/\s+and\s+/i)) {
    const m = part.trim().match(
      /^(receivedDateTime|isRead|hasAttachments)\s+(eq|ne|ge|gt|le|lt)\s+(\S+)$/,
    );
    if (!m) return null;
    const [, field, op, raw] = m;
    if (field === "receivedDateTime") {
      const t = Date.parse(raw);
      if (Number.isNaN(t)) return null;
      const cmp: Record<string, (a: number) => boolean> = {
        eq: (a) => a === t,
        ne: (a) => a !== t,
        ge: (a) => a >= t,
        gt: (a) => a > t,
        le: (a) => a <= t,
        lt: (a) => a < t,
      };
      clauses.push((x) => cmp[op](Date.parse(x.date)));
    } else {
      if (!["true", "false"].includes(raw) || !["eq", "ne"].includes(op)) return null;
      const want = (raw === "true") === (op === "eq");
      clauses.push((x) =>
        (field === "isRead" ? !x.labels.includes("UNREAD") : x.attachments.length > 0) === want
      );
    }
  }
  return (x) => clauses.every((c) => c(x));
}

// $search="…": KQL-ish from:, to:, subject:, else words in subject, body and sender.
function searchOf(expr: string | null): Clause {
  if (!expr) return () => true;
  const query = expr.replace(/^"|"$/g, "").toLowerCase();
  const terms = query.match(/(\w+:)?("[^"]*"|\S+)/g) ?? [];
  return (m) =>
    terms.every((term) => {
      const [, op, raw] = term.match(/^(\w+:)?(.*)$/)!;
      const v = raw.replace(/^"|"$/g, "");
      const who = (ps: Person[]) =>
        ps.some((p) => `${p.name ?? ""} ${p.email}`.toLowerCase().includes(v));
      if (op === "from:") return who([m.from]);
      if (op === "to:") return who([...m.to, ...m.cc]);
      if (op === "subject:") return m.subject.toLowerCase().includes(v);
      // received>=2026-11-01 / received<=2026-11-30: whole days, inclusive.
      const day = term.match(/^received(>=|<=)(\d{4}-\d{2}-\d{2})$/);
      if (day) {
        const t = Date.parse(`${day[2]}T00:00:00Z`), at = Date.parse(m.date);
        return day[1] === ">=" ? at >= t : at < t + 86_400_000;
      }
      return `${m.subject} ${m.text} ${m.from.name ?? ""} ${m.from.email}`.toLowerCase().includes(
        v,
      );
    });
}

function listMessages(ctx: Ctx): Response {
  const q = ctx.url.searchParams;
  const folder = ctx.match[1] ? decodeURIComponent(ctx.match[1]).toLowerCase() : null;
  if (folder && !Object.values(FOLDERS).includes(folder) && !/^aqmkad(.*)aaa=$/.test(folder)) {
    return error("not_found", "The specified folder could not be found in the store.");
  }
  const wantFolder = folder?.replace(/^aqmkad(.*)aaa=$/, "$1");
  const search = q.get("$search");
  if (search !== null && q.has("$filter")) {
    return error("bad_request", "The query parameter '$filter' is not supported with '$search'.");
  }
  const filter = filterOf(q.get("$filter"));
  if (!filter) return error("bad_request", "Invalid filter clause");
  const page = paging(q, 10, 1000);
  if (!page) return error("bad_request", "Invalid paging parameters.");
  const match = searchOf(search);
  const all = ctx.box.messages
    .filter((m) => (!wantFolder || folderOf(m) === wantFolder) && filter(m) && match(m))
    .sort(newestFirst);
  const expand = /attachments/.test(q.get("$expand") ?? "");
  return json({
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('me')/messages",
    value: all.slice(page.offset, page.offset + page.size).map((m) =>
      messageResource(ctx.req, m, expand)
    ),
    // With $search Graph pages by $skiptoken; otherwise by $skip.
    ...nextLink(ctx, all.length, page.offset, page.size, search !== null),
  });
}

function getMessage(ctx: Ctx): Response {
  const m = ctx.box.messages.find((x) => x.id === sid(ctx.match[1]));
  if (!m) return error("not_found");
  return json(
    messageResource(ctx.req, m, /attachments/.test(ctx.url.searchParams.get("$expand") ?? "")),
  );
}

// deno-lint-ignore no-explicit-any
const recipients = (list: any): Person[] | null => {
  if (list === undefined) return [];
  if (!Array.isArray(list)) return null;
  const out: Person[] = [];
  for (const r of list) {
    const address = r?.emailAddress?.address;
    if (typeof address !== "string" || !address.includes("@")) return null;
    out.push({ email: address, ...(r.emailAddress.name ? { name: r.emailAddress.name } : {}) });
  }
  return out;
};

async function createDraft(ctx: Ctx): Promise<Response> {
  const body = await readJson(ctx.req);
  if (!body) return error("bad_request", "Empty Payload. JSON content expected.");
  const to = recipients(body.toRecipients), cc = recipients(body.ccRecipients);
  if (!to || !cc) return error("bad_request", "At least one recipient is not valid.");
  const id = hexId(`${ctx.box.email}|draft|${crypto.randomUUID()}`);
  // deno-lint-ignore no-explicit-any
  const b = body as any;
  const m: StoredMessage = {
    id,
    threadId: id,
    from: { email: ctx.box.email },
    to,
    cc,
    subject: typeof b.subject === "string" ? b.subject : "",
    text: typeof b.body?.content === "string" ? b.body.content : "",
    date: isoInstant(Date.now()),
    labels: ["DRAFT"],
    attachments: [],
    messageIdHeader: `<${id}@outlook.example.com>`,
  };
  ctx.box.messages.push(m);
  return json(messageResource(ctx.req, m, false), 201);
}

function sendDraft(ctx: Ctx): Response {
  const m = ctx.box.messages.find((x) => x.id === sid(ctx.match[1]));
  if (!m) return error("not_found");
  if (!m.labels.includes("DRAFT")) {
    return error("bad_request", "Only a draft message can be sent.");
  }
  if (!m.to.length && !m.cc.length) {
    return error("bad_request", "At least one recipient is required, but none were found.");
  }
  m.labels = ["SENT"];
  ctx.box.sent.push({
    messageId: m.id,
    to: [...m.to, ...m.cc].map((p) => p.email),
    subject: m.subject,
  });
  return new Response(null, { status: 202 });
}

const routes: Route[] = [
  {
    method: "GET",
    path: /^\/v1\.0\/me\/calendarView$/,
    endpoint: "events.list",
    scopes: CALENDAR_READ,
    run: calendarView,
  },
  {
    method: "GET",
    path: /^\/v1\.0\/me\/events\/([^/]+)$/,
    endpoint: "events.get",
    scopes: CALENDAR_READ,
    run: getEvent,
  },
  {
    method: "POST",
    path: /^\/v1\.0\/me\/events$/,
    endpoint: "events.insert",
    scopes: ["Calendars.ReadWrite"],
    run: createEvent,
  },
  {
    method: "POST",
    path: /^\/v1\.0\/me\/calendar\/getSchedule$/,
    endpoint: "freebusy",
    scopes: SCHEDULE,
    run: getSchedule,
  },
  {
    method: "GET",
    path: /^\/v1\.0\/me\/messages$/,
    endpoint: "messages.list",
    scopes: MAIL_READ,
    run: listMessages,
  },
  {
    method: "GET",
    path: /^\/v1\.0\/me\/mailFolders\/([^/]+)\/messages$/,
    endpoint: "messages.list",
    scopes: MAIL_READ,
    run: listMessages,
  },
  {
    method: "GET",
    path: /^\/v1\.0\/me\/messages\/([^/]+)$/,
    endpoint: "messages.get",
    scopes: MAIL_READ,
    run: getMessage,
  },
  {
    method: "POST",
    path: /^\/v1\.0\/me\/messages$/,
    endpoint: "drafts.create",
    scopes: ["Mail.ReadWrite"],
    run: createDraft,
  },
  {
    method: "POST",
    path: /^\/v1\.0\/me\/messages\/([^/]+)\/send$/,
    endpoint: "drafts.send",
    scopes: ["Mail.Send"],
    run: sendDraft,
  },
];

export const graph: ProviderApi = { name: "microsoft", routes, normalizeScope, error };
