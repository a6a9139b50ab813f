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

export type ProviderAdapter = {
  listEvents(s: CallSession, c: Connection, q: EventQuery): Promise<Page<EventT>>;
  getEvent(s: CallSession, c: Connection, id: string): Promise<EventT>;
  createEvent(
    s: CallSession,
    c: Connection,
    input: z.infer<typeof CreateEventInput>,
  ): Promise<EventT>;
  busy(s: CallSession, c: Connection, timeMin: string, timeMax: string): Promise<Interval[]>;
  searchMail(s: CallSession, c: Connection, q: MailQuery): Promise<Page<MailSummaryT>>;
  readMail(s: CallSession, c: Connection, id: string): Promise<MailT>;
  createDraft(
    s: CallSession,
    c: Connection,
    input: z.infer<typeof CreateDraftInput>,
  ): Promise<z.infer<typeof Draft>>;
  sendDraft(s: CallSession, c: Connection, id: string): Promise<z.infer<typeof SentDraft>>;
};

// Keeps the items a filter accepts, with their positions.
export function kept<T>(all: T[], keep: (t: T) => boolean = () => true) {
  return all.map((item, index) => ({ item, index })).filter((x) => keep(x.item));
}
