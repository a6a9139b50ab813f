// Which granted provider scopes allow which operation: the unified API's own
// table, checked against a connection's granted_scopes (as the provider
// reported them) before any provider call. Reading never needs a write scope:
// every read lists the read-only scopes beside the broader ones.
export const UNIFIED_PROVIDERS = ["google", "microsoft"] as const;
export type UnifiedProvider = (typeof UNIFIED_PROVIDERS)[number];

export const OPERATION_NAMES = [
  "list_events",
  "get_event",
  "create_event",
  "free_busy",
  "search_mail",
  "read_mail",
  "create_draft",
  "send_draft",
] as const;
export type OperationName = (typeof OPERATION_NAMES)[number];

const G = "https://www.googleapis.com/auth/";
const GRAPH = "https://graph.microsoft.com/";

const CALENDAR_READ_G = [
  `${G}calendar`,
  `${G}calendar.readonly`,
  `${G}calendar.events`,
  `${G}calendar.events.readonly`,
];
const GMAIL_READ = [`${G}gmail.readonly`, `${G}gmail.modify`, "https://mail.google.com/"];
const GMAIL_COMPOSE = [`${G}gmail.compose`, `${G}gmail.modify`, "https://mail.google.com/"];

type Rule = { service: "calendar" | "gmail" | "outlook"; anyOf: string[] };

// Any one of `anyOf` allows the operation; `service` is what to reconnect otherwise.
export const SCOPE_TABLE: Record<OperationName, Record<UnifiedProvider, Rule>> = {
  list_events: {
    google: { service: "calendar", anyOf: CALENDAR_READ_G },
    microsoft: { service: "calendar", anyOf: ["Calendars.Read", "Calendars.ReadWrite"] },
  },
  get_event: {
    google: { service: "calendar", anyOf: CALENDAR_READ_G },
    microsoft: { service: "calendar", anyOf: ["Calendars.Read", "Calendars.ReadWrite"] },
  },
  create_event: {
    google: { service: "calendar", anyOf: [`${G}calendar`, `${G}calendar.events`] },
    microsoft: { service: "calendar", anyOf: ["Calendars.ReadWrite"] },
  },
  free_busy: {
    google: { service: "calendar", anyOf: [...CALENDAR_READ_G, `${G}calendar.freebusy`] },
    microsoft: {
      service: "calendar",
      anyOf: ["Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite"],
    },
  },
  search_mail: {
    google: { service: "gmail", anyOf: GMAIL_READ },
    microsoft: { service: "outlook", anyOf: ["Mail.Read", "Mail.ReadWrite"] },
  },
  read_mail: {
    google: { service: "gmail", anyOf: GMAIL_READ },
    microsoft: { service: "outlook", anyOf: ["Mail.Read", "Mail.ReadWrite"] },
  },
  create_draft: {
    google: { service: "gmail", anyOf: GMAIL_COMPOSE },
    microsoft: { service: "outlook", anyOf: ["Mail.ReadWrite"] },
  },
  send_draft: {
    google: { service: "gmail", anyOf: [...GMAIL_COMPOSE, `${G}gmail.send`] },
    microsoft: { service: "outlook", anyOf: ["Mail.Send"] },
  },
};

// Scopes compare case-insensitively, and Graph's without its resource prefix
// (Microsoft reports "Mail.Read" for "https://graph.microsoft.com/Mail.Read").
export function normalizeScope(scope: string): string {
  const s = scope.trim().toLowerCase();
  return s.startsWith(GRAPH) ? s.slice(GRAPH.length) : s;
}

export function allows(provider: UnifiedProvider, op: OperationName, granted: string[]): boolean {
  const have = new Set(granted.map(normalizeScope));
  return SCOPE_TABLE[op][provider].anyOf.some((s) => have.has(normalizeScope(s)));
}

export const isUnifiedProvider = (p: string): p is UnifiedProvider =>
  (UNIFIED_PROVIDERS as readonly string[]).includes(p);
