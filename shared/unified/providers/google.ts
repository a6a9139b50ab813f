// Google Calendar v3 and Gmail v1 behind the unified shapes. Calendar lists
// expanded single events ordered by start; Gmail lists message ids (newest
// first) and each summary is read with format=metadata, side by side.
import { AppError } from "../../core/errors.ts";
import { unifiedConfig } from "../config.ts";
import type { Connection } from "../connections.ts";
import { callProvider } from "../provider-call.ts";
import type { EventT, MailSummaryT, MailT } from "../schemas.ts";
import {
  decodeEntities,
  fromBase64url,
  htmlToText,
  parseAddress,
  parseAddressList,
  rfc2822,
  utc,
} from "../text.ts";
import { kept, type ProviderAdapter } from "./api.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const url = (path: string, query: Record<string, string | string[] | undefined> = {}) => {
  const u = new URL(`${unifiedConfig().GOOGLE_API_URL}${path}`);
  for (const [k, v] of Object.entries(query)) {
    for (const one of v === undefined ? [] : Array.isArray(v) ? v : [v]) {
      u.searchParams.append(k, one);
    }
  }
  return u;
};

const EVENTS = "/calendar/v3/calendars/primary/events";

const RESPONSES: Record<string, EventT["attendees"][number]["response"]> = {
  accepted: "accepted",
  declined: "declined",
  tentative: "tentative",
  needsAction: "needs_action",
};

function timeOf(t: Json): { at: string; allDay: boolean } {
  if (t?.dateTime) return { at: utc(t.dateTime), allDay: false };
  return { at: `${t?.date ?? "1970-01-01"}T00:00:00Z`, allDay: true };
}

export function eventOf(c: Connection, e: Json): EventT {
  const start = timeOf(e.start), end = timeOf(e.end);
  const video = (e.conferenceData?.entryPoints ?? []).find((p: Json) =>
    p.entryPointType === "video"
  );
  const organizerEmail = e.organizer?.email ?? null;
  return {
    id: `${c.id}:${e.id}`,
    connection_id: c.id,
    provider: "google",
    title: e.summary ?? "",
    description: e.description ?? null,
    start: start.at,
    end: end.at,
    all_day: start.allDay,
    time_zone: e.start?.timeZone ?? null,
    location: e.location ?? null,
    meeting_link: e.hangoutLink ?? video?.uri ?? null,
    organizer: organizerEmail
      ? { email: organizerEmail, name: e.organizer.displayName ?? null }
      : null,
    attendees: (e.attendees ?? []).map((a: Json) => ({
      email: a.email,
      name: a.displayName ?? null,
      response: RESPONSES[a.responseStatus] ?? "needs_action",
      organizer: a.organizer === true || a.email === organizerEmail,
    })),
    status: ["confirmed", "tentative", "cancelled"].includes(e.status) ? e.status : "confirmed",
    web_link: e.htmlLink ?? null,
  };
}

// Gmail --------------------------------------------------------------------------------------

const LABELS: Record<string, string> = {
  inbox: "INBOX",
  sent: "SENT",
  drafts: "DRAFT",
  unread: "UNREAD",
  starred: "STARRED",
  important: "IMPORTANT",
  trash: "TRASH",
  spam: "SPAM",
};

const header = (m: Json, name: string): string | undefined =>
  (m.payload?.headers ?? []).find((h: Json) => h.name?.toLowerCase() === name.toLowerCase())?.value;

function summaryOf(c: Connection, m: Json): MailSummaryT {
  const from = header(m, "From");
  const labels: string[] = m.labelIds ?? [];
  return {
    id: `${c.id}:${m.id}`,
    connection_id: c.id,
    provider: "google",
    thread_id: m.threadId ? `${c.id}:${m.threadId}` : null,
    from: from ? parseAddress(from) : null,
    to: parseAddressList(header(m, "To")),
    cc: parseAddressList(header(m, "Cc")),
    subject: header(m, "Subject") ?? "",
    // Gmail writes snippets HTML-escaped.
    snippet: decodeEntities(m.snippet ?? ""),
    received_at: utc(new Date(Number(m.internalDate ?? 0)).toISOString()),
    labels,
    unread: labels.includes("UNREAD"),
    has_attachments: m.payload?.mimeType === "multipart/mixed" || hasFiles(m.payload),
  };
}

const hasFiles = (part: Json): boolean =>
  !!part && (!!part.filename || (part.parts ?? []).some(hasFiles));

// Depth first, as a mail client reads: the first text/plain, else the first text/html.
function findPart(part: Json, mime: string): Json | null {
  if (!part) return null;
  if (part.mimeType === mime && !part.filename && part.body?.data) return part;
  for (const p of part.parts ?? []) {
    const found = findPart(p, mime);
    if (found) return found;
  }
  return null;
}

function files(part: Json, out: Json[] = []): Json[] {
  if (!part) return out;
  if (part.filename) out.push(part);
  for (const p of part.parts ?? []) files(p, out);
  return out;
}

function mailOf(c: Connection, m: Json): MailT {
  const plain = findPart(m.payload, "text/plain");
  const html = plain ? null : findPart(m.payload, "text/html");
  const body = plain
    ? fromBase64url(plain.body.data)
    : html
    ? htmlToText(fromBase64url(html.body.data))
    : "";
  const attachments = files(m.payload).map((p) => ({
    id: p.body?.attachmentId ?? null,
    filename: p.filename,
    mime_type: p.mimeType ?? "application/octet-stream",
    size: typeof p.body?.size === "number" ? p.body.size : null,
  }));
  return {
    ...summaryOf(c, m),
    has_attachments: attachments.length > 0,
    body_text: body,
    attachments,
    message_id_header: header(m, "Message-ID") ?? header(m, "Message-Id") ?? null,
  };
}

const epoch = (t: string) => String(Math.floor(Date.parse(t) / 1000));
const METADATA = ["From", "To", "Cc", "Subject", "Date", "Message-ID"];

export const google: ProviderAdapter = {
  async listEvents(s, c, q) {
    const res = await callProvider(s, c, {
      method: "GET",
      url: url(EVENTS, {
        timeMin: q.timeMin,
        timeMax: q.timeMax,
        singleEvents: "true",
        orderBy: "startTime",
        maxResults: String(q.size),
        pageToken: q.token ?? undefined,
        q: q.query,
      }),
    });
    const items: Json[] = res.body?.items ?? [];
    return {
      items: kept(items.map((e) => eventOf(c, e))),
      length: items.length,
      next: res.body?.nextPageToken ?? null,
    };
  },

  async getEvent(s, c, id) {
    const res = await callProvider(s, c, {
      method: "GET",
      url: url(`${EVENTS}/${encodeURIComponent(id)}`),
    });
    return eventOf(c, res.body);
  },

  async createEvent(s, c, input) {
    const res = await callProvider(s, c, {
      method: "POST",
      url: url(EVENTS, {
        sendUpdates: input.attendees?.length ? "all" : "none",
        conferenceDataVersion: input.add_meeting_link ? "1" : undefined,
      }),
      body: {
        summary: input.title,
        ...(input.description ? { description: input.description } : {}),
        ...(input.location ? { location: input.location } : {}),
        start: { dateTime: utc(input.start), timeZone: "UTC" },
        end: { dateTime: utc(input.end), timeZone: "UTC" },
        ...(input.attendees?.length
          ? { attendees: input.attendees.map((email) => ({ email })) }
          : {}),
        ...(input.add_meeting_link
          ? {
            conferenceData: {
              createRequest: {
                requestId: crypto.randomUUID(),
                conferenceSolutionKey: { type: "hangoutsMeet" },
              },
            },
          }
          : {}),
      },
    });
    return eventOf(c, res.body);
  },

  async busy(s, c, timeMin, timeMax) {
    const res = await callProvider(s, c, {
      method: "POST",
      url: url("/calendar/v3/freeBusy"),
      body: { timeMin, timeMax, items: [{ id: "primary" }] },
    });
    const cal = res.body?.calendars?.primary;
    if (!cal || cal.errors?.length) {
      throw new AppError("provider_error", "Google did not answer for the primary calendar", {
        provider: "google",
      });
    }
    return (cal.busy ?? []).map((b: Json) => ({ start: utc(b.start), end: utc(b.end) }));
  },

  async searchMail(s, c, q) {
    const words = [
      q.query,
      q.after ? `after:${epoch(q.after)}` : undefined,
      q.before ? `before:${epoch(q.before)}` : undefined,
    ].filter(Boolean).join(" ");
    const label = q.label ? LABELS[q.label.toLowerCase()] ?? q.label : undefined;
    const res = await callProvider(s, c, {
      method: "GET",
      url: url("/gmail/v1/users/me/messages", {
        q: words || undefined,
        labelIds: label,
        maxResults: String(q.size),
        pageToken: q.token ?? undefined,
      }),
    });
    const ids: Json[] = res.body?.messages ?? [];
    const full = await Promise.all(ids.map((m) =>
      callProvider(s, c, {
        method: "GET",
        url: url(`/gmail/v1/users/me/messages/${encodeURIComponent(m.id)}`, {
          format: "metadata",
          metadataHeaders: METADATA,
        }),
      })
    ));
    return {
      items: kept(full.map((r) => summaryOf(c, r.body))),
      length: ids.length,
      next: res.body?.nextPageToken ?? null,
    };
  },

  async readMail(s, c, id) {
    const res = await callProvider(s, c, {
      method: "GET",
      url: url(`/gmail/v1/users/me/messages/${encodeURIComponent(id)}`, { format: "full" }),
    });
    return mailOf(c, res.body);
  },

  async createDraft(s, c, input) {
    const cc = input.cc ?? [];
    const raw = rfc2822({ to: input.to, cc, subject: input.subject, body: input.body_text });
    const res = await callProvider(s, c, {
      method: "POST",
      url: url("/gmail/v1/users/me/drafts"),
      body: {
        message: { raw: btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "") },
      },
    });
    const d = res.body;
    return {
      id: `${c.id}:${d.id}`,
      connection_id: c.id,
      provider: "google",
      message_id: d.message?.id ? `${c.id}:${d.message.id}` : null,
      thread_id: d.message?.threadId ? `${c.id}:${d.message.threadId}` : null,
      to: input.to,
      cc,
      subject: input.subject,
    };
  },

  async sendDraft(s, c, id) {
    const res = await callProvider(s, c, {
      method: "POST",
      url: url("/gmail/v1/users/me/drafts/send"),
      body: { id },
    });
    return {
      draft_id: `${c.id}:${id}`,
      connection_id: c.id,
      provider: "google",
      message_id: res.body?.id ? `${c.id}:${res.body.id}` : null,
      thread_id: res.body?.threadId ? `${c.id}:${res.body.threadId}` : null,
      status: "sent",
    };
  },
};
