// Microsoft Graph v1.0 behind the unified shapes. Times are asked for in UTC
// (Prefer: outlook.timezone), bodies as text (Prefer: outlook.body-content-type).
// A next page is named by the $skip or $skiptoken of @odata.nextLink only: the
// link itself is never followed, so a cursor cannot send a token elsewhere.
import { AppError } from "../../core/errors.ts";
import { unifiedConfig } from "../config.ts";
import type { Connection } from "../connections.ts";
import { callProvider } from "../provider-call.ts";
import type { EventT, MailSummaryT, MailT } from "../schemas.ts";
import { htmlToText, utc } from "../text.ts";
import { kept, type ProviderAdapter } from "./api.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const PREFER = { Prefer: 'outlook.timezone="UTC", outlook.body-content-type="text"' };

const url = (path: string, query: Record<string, string | undefined> = {}) => {
  const u = new URL(`${unifiedConfig().GRAPH_API_URL}/v1.0${path}`);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, v);
  return u;
};

// "skip:20" or "skiptoken:…", from a nextLink; back into query options.
function tokenOf(nextLink: unknown): string | null {
  if (typeof nextLink !== "string") return null;
  try {
    const q = new URL(nextLink).searchParams;
    if (q.has("$skiptoken")) return `skiptoken:${q.get("$skiptoken")}`;
    if (q.has("$skip")) return `skip:${q.get("$skip")}`;
  } catch {
    // fall through: a link we cannot read ends the listing
  }
  return null;
}

function pageOptions(token: string | null): Record<string, string> {
  if (!token) return {};
  const m = token.match(/^(skip|skiptoken):(.{1,2000})$/);
  if (!m || (m[1] === "skip" && !/^\d{1,9}$/.test(m[2]))) {
    throw new AppError("validation_failed", "the cursor is invalid", {
      issues: [{ path: "cursor", message: "not a cursor returned by this API" }],
    });
  }
  return { [`$${m[1]}`]: m[2] };
}

// Graph's dateTimeTimeZone, asked for in UTC: "2026-12-01T10:00:00.0000000".
const instant = (t: Json) => utc(`${String(t?.dateTime ?? "1970-01-01T00:00:00").slice(0, 19)}Z`);
const graphTime = (t: string) => ({ dateTime: utc(t).slice(0, 19), timeZone: "UTC" });
const person = (r: Json) =>
  r?.emailAddress?.address
    ? { email: r.emailAddress.address, name: r.emailAddress.name ?? null }
    : null;

const RESPONSES: Record<string, EventT["attendees"][number]["response"]> = {
  accepted: "accepted",
  organizer: "accepted",
  declined: "declined",
  tentativelyAccepted: "tentative",
};

function eventOf(c: Connection, e: Json): EventT {
  const organizer = person(e.organizer);
  return {
    id: `${c.id}:${e.id}`,
    connection_id: c.id,
    provider: "microsoft",
    title: e.subject ?? "",
    description: e.body?.content
      ? (e.body.contentType === "html" ? htmlToText(e.body.content) : e.body.content) || null
      : null,
    start: instant(e.start),
    end: instant(e.end),
    all_day: e.isAllDay === true,
    time_zone: e.originalStartTimeZone ?? null,
    location: e.location?.displayName || null,
    meeting_link: e.onlineMeeting?.joinUrl ?? e.onlineMeetingUrl ?? null,
    organizer,
    attendees: (e.attendees ?? []).map((a: Json) => ({
      email: a.emailAddress?.address ?? "",
      name: a.emailAddress?.name ?? null,
      response: RESPONSES[a.status?.response] ?? "needs_action",
      organizer: !!organizer && a.emailAddress?.address === organizer.email,
    })),
    status: e.isCancelled ? "cancelled" : e.showAs === "tentative" ? "tentative" : "confirmed",
    web_link: e.webLink ?? null,
  };
}

function summaryOf(c: Connection, m: Json): MailSummaryT {
  return {
    id: `${c.id}:${m.id}`,
    connection_id: c.id,
    provider: "microsoft",
    thread_id: m.conversationId ? `${c.id}:${m.conversationId}` : null,
    from: person(m.from),
    to: (m.toRecipients ?? []).map(person).filter(Boolean),
    cc: (m.ccRecipients ?? []).map(person).filter(Boolean),
    subject: m.subject ?? "",
    snippet: m.bodyPreview ?? "",
    received_at: utc(m.receivedDateTime ?? m.createdDateTime),
    labels: [...(m.categories ?? []), ...(m.isDraft ? ["drafts"] : [])],
    unread: m.isRead === false,
    has_attachments: m.hasAttachments === true,
  };
}

function mailOf(c: Connection, m: Json): MailT {
  const content = m.body?.content ?? "";
  return {
    ...summaryOf(c, m),
    body_text: m.body?.contentType === "html" ? htmlToText(content) : content,
    attachments: (m.attachments ?? []).map((a: Json) => ({
      id: a.id ?? null,
      filename: a.name ?? "",
      mime_type: a.contentType ?? "application/octet-stream",
      size: typeof a.size === "number" ? a.size : null,
    })),
    message_id_header: m.internetMessageId ?? null,
  };
}

// Well-known folder names; anything else is a folder id.
const FOLDERS: Record<string, string> = {
  inbox: "inbox",
  sent: "sentitems",
  sentitems: "sentitems",
  drafts: "drafts",
  trash: "deleteditems",
  deleteditems: "deleteditems",
  spam: "junkemail",
  junkemail: "junkemail",
  archive: "archive",
};

const day = (t: string) => utc(t).slice(0, 10);
const words = (q: string) => q.replace(/["\\]/g, " ").trim();

export const graph: ProviderAdapter = {
  async listEvents(s, c, q) {
    const res = await callProvider(s, c, {
      method: "GET",
      url: url("/me/calendarView", {
        startDateTime: utc(q.timeMin),
        endDateTime: utc(q.timeMax),
        $top: String(q.size),
        $orderby: "start/dateTime",
        ...pageOptions(q.token),
      }),
      headers: PREFER,
    });
    const items: Json[] = res.body?.value ?? [];
    // calendarView has no $search: words are matched here.
    const needle = q.query?.toLowerCase();
    const events = items.map((e) => eventOf(c, e));
    return {
      items: kept(events, (e) =>
        !needle ||
        `${e.title} ${e.description ?? ""} ${e.location ?? ""}`.toLowerCase().includes(needle)),
      length: items.length,
      next: tokenOf(res.body?.["@odata.nextLink"]),
    };
  },

  async getEvent(s, c, id) {
    const res = await callProvider(s, c, {
      method: "GET",
      url: url(`/me/events/${encodeURIComponent(id)}`),
      headers: PREFER,
    });
    return eventOf(c, res.body);
  },

  async createEvent(s, c, input) {
    const res = await callProvider(s, c, {
      method: "POST",
      url: url("/me/events"),
      headers: PREFER,
      body: {
        subject: input.title,
        ...(input.description ? { body: { contentType: "text", content: input.description } } : {}),
        start: graphTime(input.start),
        end: graphTime(input.end),
        ...(input.location ? { location: { displayName: input.location } } : {}),
        ...(input.attendees?.length
          ? {
            attendees: input.attendees.map((address) => ({
              emailAddress: { address },
              type: "required",
            })),
          }
          : {}),
        ...(input.add_meeting_link
          ? { isOnlineMeeting: true, onlineMeetingProvider: "teamsForBusiness" }
          : {}),
      },
    });
    return eventOf(c, res.body);
  },

  async busy(s, c, timeMin, timeMax) {
    if (!c.email) {
      throw new AppError("provider_error", "the Microsoft connection has no mailbox address", {
        provider: "microsoft",
      });
    }
    const res = await callProvider(s, c, {
      method: "POST",
      url: url("/me/calendar/getSchedule"),
      headers: PREFER,
      body: {
        schedules: [c.email],
        startTime: graphTime(timeMin),
        endTime: graphTime(timeMax),
        availabilityViewInterval: 30,
      },
    });
    const info = res.body?.value?.[0];
    if (!info || info.error) {
      throw new AppError("provider_error", "Microsoft Graph did not answer for the calendar", {
        provider: "microsoft",
      });
    }
    return (info.scheduleItems ?? [])
      .filter((i: Json) => i.status !== "free")
      .map((i: Json) => ({ start: instant(i.start), end: instant(i.end) }));
  },

  async searchMail(s, c, q) {
    const label = q.label?.toLowerCase();
    const unreadOnly = label === "unread";
    const folder = label && !unreadOnly ? FOLDERS[label] ?? q.label : undefined;
    const path = folder ? `/me/mailFolders/${encodeURIComponent(folder)}/messages` : "/me/messages";
    let query: Record<string, string>;
    if (q.query) {
      // $search takes no $filter on messages: the range goes in as KQL days,
      // and the exact instants are applied to the page below.
      const kql = [
        words(q.query),
        q.after ? `received>=${day(q.after)}` : "",
        q.before ? `received<=${day(q.before)}` : "",
      ].filter(Boolean).join(" ");
      query = { $search: `"${kql}"` };
    } else {
      const filter = [
        q.after ? `receivedDateTime ge ${utc(q.after)}` : "",
        q.before ? `receivedDateTime lt ${utc(q.before)}` : "",
        unreadOnly ? "isRead eq false" : "",
      ].filter(Boolean).join(" and ");
      query = { ...(filter ? { $filter: filter } : {}), $orderby: "receivedDateTime desc" };
    }
    const res = await callProvider(s, c, {
      method: "GET",
      url: url(path, { ...query, $top: String(q.size), ...pageOptions(q.token) }),
      headers: PREFER,
    });
    const items: Json[] = res.body?.value ?? [];
    const after = q.after ? Date.parse(q.after) : -Infinity;
    const before = q.before ? Date.parse(q.before) : Infinity;
    return {
      items: kept(items.map((m) => summaryOf(c, m)), (m) => {
        const at = Date.parse(m.received_at);
        return at >= after && at < before && (!unreadOnly || m.unread);
      }),
      length: items.length,
      next: tokenOf(res.body?.["@odata.nextLink"]),
    };
  },

  async readMail(s, c, id) {
    const res = await callProvider(s, c, {
      method: "GET",
      url: url(`/me/messages/${encodeURIComponent(id)}`, {
        $expand: "attachments($select=id,name,contentType,size)",
      }),
      headers: PREFER,
    });
    return mailOf(c, res.body);
  },

  async createDraft(s, c, input) {
    const cc = input.cc ?? [];
    const recipients = (list: string[]) => list.map((address) => ({ emailAddress: { address } }));
    const res = await callProvider(s, c, {
      method: "POST",
      url: url("/me/messages"),
      headers: PREFER,
      body: {
        subject: input.subject,
        body: { contentType: "Text", content: input.body_text },
        toRecipients: recipients(input.to),
        ...(cc.length ? { ccRecipients: recipients(cc) } : {}),
      },
    });
    const m = res.body;
    return {
      id: `${c.id}:${m.id}`,
      connection_id: c.id,
      provider: "microsoft",
      message_id: `${c.id}:${m.id}`,
      thread_id: m.conversationId ? `${c.id}:${m.conversationId}` : null,
      to: input.to,
      cc,
      subject: input.subject,
    };
  },

  async sendDraft(s, c, id) {
    await callProvider(s, c, {
      method: "POST",
      url: url(`/me/messages/${encodeURIComponent(id)}/send`),
    });
    return {
      draft_id: `${c.id}:${id}`,
      connection_id: c.id,
      provider: "microsoft",
      message_id: null,
      thread_id: null,
      status: "sent",
    };
  },
};
