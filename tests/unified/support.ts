// What the unified tests share: users with Google and Microsoft connections
// made through the real OAuth flow (tests/oauth/flow.ts) against the local
// OAuth server, and the controls of its provider API stand-ins
// (scripts/local/provider-apis/mod.ts).
import { Draft, EventPage, MailPage } from "../../shared/unified/schemas.ts";
import { parsed } from "../helpers/assert.ts";
import type { Operation } from "../helpers/openapi.ts";
import { type Call, call, createUser, type TestUser } from "../helpers/stack.ts";
import { connect, control, uniqueEmail } from "../oauth/flow.ts";

export type Kind = "google" | "microsoft";
export const KINDS: Kind[] = ["google", "microsoft"];

// Both services of each provider: calendar, and its mail service.
export const SERVICES: Record<Kind, string[]> = {
  google: ["gmail", "calendar"],
  microsoft: ["outlook", "calendar"],
};

// Read-only grants: each service at its read level (shared/providers/definitions.ts).
export const READ_ONLY: Record<Kind, string[]> = {
  google: ["gmail:read", "calendar:read"],
  microsoft: ["outlook:read", "calendar:read"],
};

export type Connected = { id: string; email: string; kind: Kind };

// A connection through the whole OAuth flow (tests/oauth/flow.ts), for the
// services given (levels allowed: "gmail:read") or both of the provider's.
export async function connectTo(
  user: TestUser,
  kind: Kind,
  o: { services?: string[] } = {},
): Promise<Connected> {
  const email = uniqueEmail(kind);
  const { token } = await connect(user, {
    provider: kind,
    services: o.services ?? SERVICES[kind],
    email,
  });
  return { id: token.id, email, kind };
}

export async function userWith(label: string, kind: Kind) {
  const user = await createUser(label);
  return { user, conn: await connectTo(user, kind) };
}

export const apis = {
  state: (email: string) => control("GET", `/apis/accounts/${encodeURIComponent(email)}`),
  reset: (email: string) =>
    control("POST", `/apis/accounts/${encodeURIComponent(email)}/reset`, {}),
  seed: (email: string, data: Record<string, unknown>) =>
    control("POST", `/apis/accounts/${encodeURIComponent(email)}/seed`, data),
  fault: (
    email: string,
    endpoint: string,
    mode: "401" | "403" | "429" | "500" | "503" | "hang",
    o: { count?: number; retry_after?: number; hang_ms?: number } = {},
  ) => control("POST", "/apis/faults", { account: email, endpoint, mode, ...o }),
  clear: (email: string) => control("DELETE", `/apis/faults?account=${encodeURIComponent(email)}`),
  // What the OAuth side saw (refresh grants), from the server's account counters.
  oauth: (email: string) => control("GET", `/accounts/${encodeURIComponent(email)}`),
};

// The API calls the account's tokens made, per endpoint.
export async function calls(email: string): Promise<Record<string, number>> {
  const state = await apis.state(email);
  const out: Record<string, number> = {};
  for (const c of state.calls as { endpoint: string }[]) {
    out[c.endpoint] = (out[c.endpoint] ?? 0) + 1;
  }
  return out;
}

export const enc = encodeURIComponent;

// Today's midnight UTC and a day, as the stand-in seeds its calendar.
export const DAY = 86_400_000;
export const today = () => Math.floor(Date.now() / DAY) * DAY;
export const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

export function range(fromDays: number, toDays: number) {
  return `time_min=${enc(iso(today() + fromDays * DAY))}&time_max=${
    enc(iso(today() + toDays * DAY))
  }`;
}

export async function unified(
  user: TestUser | { token: string },
  method: string,
  path: string,
  body?: unknown,
): Promise<Call> {
  return await call(method, `/unified${path}`, { token: user.token, body });
}

export type RouteRequest = {
  path: string;
  body?: Record<string, unknown>;
  takesConnection: boolean;
};

// For each unified route, a request it accepts from `owner` (who has a Google
// connection): its ids are the owner's. Sending a draft first writes one.
export async function validRequests(owner: TestUser) {
  const eventId = parsed(EventPage, await unified(owner, "GET", `/calendar/events?${range(0, 1)}`))
    .data[0].id;
  const mailId = parsed(MailPage, await unified(owner, "GET", "/mail/messages?limit=1")).data[0].id;
  const event = {
    title: "Matrix",
    start: iso(today() + 60 * DAY),
    end: iso(today() + 60 * DAY + 3_600_000),
  };
  const draft = { to: ["pat@example.com"], subject: "Matrix", body_text: "Hi" };
  return async (op: Operation, user: TestUser = owner): Promise<RouteRequest> => {
    switch (`${op.method} ${op.path}`) {
      case "GET /unified/calendar/events":
        return { path: `/calendar/events?${range(0, 2)}`, takesConnection: true };
      case "GET /unified/calendar/events/{id}":
        return { path: `/calendar/events/${enc(eventId)}`, takesConnection: false };
      case "POST /unified/calendar/events":
        return { path: "/calendar/events", body: event, takesConnection: true };
      case "GET /unified/calendar/free-busy":
        return { path: `/calendar/free-busy?${range(0, 1)}`, takesConnection: true };
      case "GET /unified/mail/messages":
        return { path: "/mail/messages?limit=2", takesConnection: true };
      case "GET /unified/mail/messages/{id}":
        return { path: `/mail/messages/${enc(mailId)}`, takesConnection: false };
      case "POST /unified/mail/drafts":
        return { path: "/mail/drafts", body: draft, takesConnection: true };
      case "POST /unified/mail/drafts/{id}/send": {
        const made = parsed(Draft, await unified(user, "POST", "/mail/drafts", draft), 201);
        return { path: `/mail/drafts/${enc(made.id)}/send`, takesConnection: false };
      }
    }
    throw new Error(`no valid request for ${op.method} ${op.path}: add one`);
  };
}
