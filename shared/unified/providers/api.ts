// What each provider adapter offers the operations: one shape for Google
// (google.ts) and Microsoft Graph (graph.ts). Lists answer one provider page;
// the operations merge pages across connections (../merge.ts).
import type { z } from "@hono/zod-openapi";
import type { Connection } from "../connections.ts";
import type { CallSession } from "../provider-call.ts";
import type {
  CreateDraftInput,
  CreateEventInput,
  Draft,
  EventT,
  MailSummaryT,
  MailT,
  SentDraft,
} from "../schemas.ts";

// One provider page: the items kept (with their position in the page, since
// an adapter may drop some the provider could not filter), the page's length
// and the token of the next page.
export type Page<T> = { items: { item: T; index: number }[]; length: number; next: string | null };

export type PageRequest = { token: string | null; size: number };

export type EventQuery = PageRequest & { timeMin: string; timeMax: string; query?: string };

export type MailQuery = PageRequest & {
  query?: string;
  label?: string;
  after?: string;
  before?: string;
};

export type Interval = { start: string; end: string };

// An adapter method: a call on one connection, with its argument.
type On<A, R> = (s: CallSession, c: Connection, arg: A) => Promise<R>;

export type ProviderAdapter = {
  listEvents: On<EventQuery, Page<EventT>>;
  getEvent: On<string, EventT>;
  createEvent: On<z.infer<typeof CreateEventInput>, EventT>;
  busy(s: CallSession, c: Connection, timeMin: string, timeMax: string): Promise<Interval[]>;
  searchMail: On<MailQuery, Page<MailSummaryT>>;
  readMail: On<string, MailT>;
  createDraft: On<z.infer<typeof CreateDraftInput>, z.infer<typeof Draft>>;
  sendDraft: On<string, z.infer<typeof SentDraft>>;
};

// Keeps the items a filter accepts, with their positions.
export function kept<T>(all: T[], keep: (t: T) => boolean = () => true) {
  return all.map((item, index) => ({ item, index })).filter((x) => keep(x.item));
}
