// The unified operations: what the unified function's routes and the chat's
// tools (shared/chat/tools, helper contract in docs) both run. Each names its
// input and output schemas, whether it reads or writes, and runs as a user:
// their connections (RLS), their tokens from the vault, the scopes their
// grants carry. Errors are AppErrors of the envelope.
import type { z } from "@hono/zod-openapi";
import type { UserPrincipal } from "../auth/principal.ts";
import { AppError } from "../core/errors.ts";
import { OUTBOUND_BUDGET_MS } from "../platform.ts";
import {
  allowedBy,
  type Connection,
  connectionsOf,
  readable,
  theConnection,
  writable,
} from "./connections.ts";
import { mergedPage } from "./merge.ts";
import type { CallSession } from "./provider-call.ts";
import type { Page, ProviderAdapter } from "./providers/api.ts";
import { google } from "./providers/google.ts";
import { graph } from "./providers/graph.ts";
import {
  CreateDraftInput,
  CreateEventInput,
  Draft,
  DraftIdInput,
  Event,
  EventIdInput,
  EventPage,
  FreeBusy,
  FreeBusyInput,
  ListEventsInput,
  Mail,
  MailIdInput,
  MailPage,
  SearchMailInput,
  SentDraft,
} from "./schemas.ts";
import type { OperationName, UnifiedProvider } from "./scopes.ts";
import { utc } from "./text.ts";

export type { OperationName } from "./scopes.ts";

// Who acts: always a user (the chat function acts with the user's rights).
// `principal`, when the caller has the authenticated one (a route), records
// an API key as the asker in the vault's activity log.
export type Caller = {
  userId: string;
  requestId?: string;
  signal?: AbortSignal;
  principal?: UserPrincipal;
};

export type Operation<I extends z.ZodType, O extends z.ZodType> = {
  name: OperationName;
  area: "calendar" | "mail";
  access: "read" | "write";
  input: I;
  output: O;
  description: string;
  run(caller: Caller, input: z.infer<I>): Promise<z.infer<O>>;
};

const ADAPTERS: Record<UnifiedProvider, ProviderAdapter> = { google, microsoft: graph };

function principalOf(caller: Caller): UserPrincipal {
  if (caller.principal) return caller.principal;
  return {
    kind: "user",
    userId: caller.userId,
    isAdmin: false,
    isAnonymous: false,
    claims: { sub: caller.userId, role: "authenticated", aud: "authenticated" },
  };
}

async function prepare(caller: Caller, op: OperationName) {
  const user = principalOf(caller);
  // However many calls an operation makes (pages of several connections, a
  // refresh and a retry), together they end within the platform's budget.
  const deadline = AbortSignal.timeout(OUTBOUND_BUDGET_MS);
  const signal = caller.signal ? AbortSignal.any([caller.signal, deadline]) : deadline;
  const session: CallSession = { user, op, tokens: new Map(), signal };
  return { session, all: await connectionsOf(user) };
}

// "<connection uuid>:<provider id>" → the connection (checked) and the provider's id.
function split(id: string): [string, string] {
  return [id.slice(0, 36), id.slice(37)];
}

async function onItem<T>(
  caller: Caller,
  op: OperationName,
  id: string,
  work: (s: CallSession, c: Connection, providerId: string) => Promise<T>,
): Promise<T> {
  const { session, all } = await prepare(caller, op);
  const [connectionId, providerId] = split(id);
  const c = theConnection(all, connectionId, op);
  return await work(session, c, providerId);
}

async function onWrite<T>(
  caller: Caller,
  op: OperationName,
  connectionId: string | undefined,
  work: (s: CallSession, c: Connection) => Promise<T>,
): Promise<T> {
  const { session, all } = await prepare(caller, op);
  const c = connectionId ? theConnection(all, connectionId, op) : writable(all, op);
  return await work(session, c);
}

async function onReads(caller: Caller, op: OperationName, connectionId: string | undefined) {
  const { session, all } = await prepare(caller, op);
  const targets = connectionId ? [theConnection(all, connectionId, op)] : readable(all, op);
  return { session, targets };
}

const byStart = (a: z.infer<typeof Event>, b: z.infer<typeof Event>) =>
  Date.parse(a.start) - Date.parse(b.start) || a.id.localeCompare(b.id);
const newestFirst = (a: { received_at: string; id: string }, b: typeof a) =>
  Date.parse(b.received_at) - Date.parse(a.received_at) || a.id.localeCompare(b.id);

// Busy times of every connection merged into one list, and the gaps between them.
function freeBetween(min: string, max: string, busy: { start: string; end: string }[]) {
  const sorted = [...busy].sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
  const free: { start: string; end: string }[] = [];
  let at = Date.parse(min);
  const end = Date.parse(max);
  for (const b of sorted) {
    const s = Math.max(Date.parse(b.start), at);
    if (s > at && at < end) {
      free.push({
        start: utc(new Date(at).toISOString()),
        end: utc(new Date(Math.min(s, end)).toISOString()),
      });
    }
    at = Math.max(at, Date.parse(b.end));
  }
  if (at < end) free.push({ start: utc(new Date(at).toISOString()), end: utc(max) });
  return free;
}

// One operation from its parts, in the order the contract lists them.
function define<I extends z.ZodType, O extends z.ZodType>(
  name: OperationName,
  [area, access]: [Operation<I, O>["area"], Operation<I, O>["access"]],
  [input, output]: [I, O],
  description: string,
  run: Operation<I, O>["run"],
): Operation<I, O> {
  // Input is parsed here too: a tool call's arguments come straight from the
  // model, and a route's already parsed input passes again unchanged.
  const checked = (value: unknown): z.infer<I> => {
    const parsed = input.safeParse(value);
    if (parsed.success) return parsed.data;
    throw new AppError("validation_failed", `invalid input for ${name}`, {
      issues: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
    });
  };
  return {
    name,
    area,
    access,
    input,
    output,
    description,
    run: async (caller, value) => await run(caller, checked(value)),
  };
}

// A list read: every target connection's page, merged in `order`.
async function mergedRead<T>(
  caller: Caller,
  op: OperationName,
  input: { connection_id?: string; cursor?: string; limit: number },
  query: unknown[],
  order: (a: T, b: T) => number,
  fetch: (
    a: ProviderAdapter,
    s: CallSession,
    c: Connection,
    token: string | null,
    size: number,
  ) => Promise<Page<T>>,
) {
  const { session, targets } = await onReads(caller, op, input.connection_id);
  return await mergedPage({
    connections: targets,
    cursor: input.cursor,
    query: [op, input.connection_id ?? null, ...query],
    limit: input.limit,
    order,
    fetch: (c, token, size) => fetch(ADAPTERS[c.provider], session, c, token, size),
  });
}

const listEvents = define(
  "list_events",
  ["calendar", "read"],
  [ListEventsInput, EventPage],
  "List calendar events between two times, merged across the user's calendars.",
  (caller, input) =>
    mergedRead(
      caller,
      "list_events",
      input,
      [input.time_min, input.time_max, input.query ?? null],
      byStart,
      (a, s, c, token, size) =>
        a.listEvents(s, c, {
          timeMin: utc(input.time_min),
          timeMax: utc(input.time_max),
          query: input.query,
          token,
          size,
        }),
    ),
);

const getEvent = define(
  "get_event",
  ["calendar", "read"],
  [EventIdInput, Event],
  "Read one calendar event by its id.",
  (caller, input) =>
    onItem(caller, "get_event", input.id, (s, c, id) => ADAPTERS[c.provider].getEvent(s, c, id)),
);

const createEvent = define(
  "create_event",
  ["calendar", "write"],
  [CreateEventInput, Event],
  "Create a calendar event; attendees are invited by the provider.",
  (caller, input) =>
    onWrite(
      caller,
      "create_event",
      input.connection_id,
      (s, c) => ADAPTERS[c.provider].createEvent(s, c, input),
    ),
);

const freeBusy = define(
  "free_busy",
  ["calendar", "read"],
  [FreeBusyInput, FreeBusy],
  "Find busy and free times between two times across the user's calendars.",
  async (caller, input) => {
    const { session, targets } = await onReads(caller, "free_busy", input.connection_id);
    const min = utc(input.time_min), max = utc(input.time_max);
    const perConnection = await Promise.all(targets.map(async (c) => {
      const busy = await ADAPTERS[c.provider].busy(session, c, min, max);
      return busy.map((b) => ({ ...b, connection_id: c.id }));
    }));
    const busy = perConnection.flat().sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
    const free = freeBetween(min, max, busy);
    return { time_min: min, time_max: max, busy, free, connections: targets.map((c) => c.id) };
  },
);

const searchMail = define(
  "search_mail",
  ["mail", "read"],
  [SearchMailInput, MailPage],
  "Search or list mail (words, label or folder, time range), newest first.",
  (caller, input) =>
    mergedRead(
      caller,
      "search_mail",
      input,
      [input.query ?? null, input.label ?? null, input.after ?? null, input.before ?? null],
      newestFirst,
      (a, s, c, token, size) => {
        const { query, label, after, before } = input;
        return a.searchMail(s, c, { query, label, after, before, token, size });
      },
    ),
);

const readMail = define(
  "read_mail",
  ["mail", "read"],
  [MailIdInput, Mail],
  "Read one mail: headers, plain-text body (untrusted), attachment names.",
  (caller, input) =>
    onItem(caller, "read_mail", input.id, (s, c, id) => ADAPTERS[c.provider].readMail(s, c, id)),
);

const createDraft = define(
  "create_draft",
  ["mail", "write"],
  [CreateDraftInput, Draft],
  "Write a mail draft (not sent) in the user's mailbox.",
  (caller, input) =>
    onWrite(
      caller,
      "create_draft",
      input.connection_id,
      (s, c) => ADAPTERS[c.provider].createDraft(s, c, input),
    ),
);

const sendDraft = define(
  "send_draft",
  ["mail", "write"],
  [DraftIdInput, SentDraft],
  "Send a draft that was created before.",
  (caller, input) =>
    onItem(caller, "send_draft", input.id, (s, c, id) => ADAPTERS[c.provider].sendDraft(s, c, id)),
);

export const operations = {
  list_events: listEvents,
  get_event: getEvent,
  create_event: createEvent,
  free_busy: freeBusy,
  search_mail: searchMail,
  read_mail: readMail,
  create_draft: createDraft,
  send_draft: sendDraft,
} as const;

// The operations the user's active connections allow (by their granted
// scopes), for offering only those tools to the agent. One database round trip.
export async function allowedOperations(caller: Caller): Promise<OperationName[]> {
  return allowedBy(await connectionsOf(principalOf(caller)));
}
