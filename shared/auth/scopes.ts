// Permissions an API key can carry. A user's own JWT holds all of them; a
// key holds the ones it was created with. Every route names the one it needs.
export const SCOPES = [
  "sessions:read",
  "sessions:write",
  "chat:write",
  "tokens:read",
  "tokens:write",
  // Only POST /tokens/{provider}/access-token: a fresh provider token, for an
  // agent that needs nothing else (tokens:write does not imply it).
  "tokens:access",
  "account:read",
  "account:write",
  "webhooks:read",
  "webhooks:write",
  // The unified API (issue 15): the user's calendars and mailboxes at their providers.
  "calendar:read",
  "calendar:write",
  "mail:read",
  "mail:write",
] as const;

export type Scope = (typeof SCOPES)[number];

// Route classes share a rate-limit bucket per caller (see shared/auth/rate-limit);
// the costly ones (chat, heygen) count per owner, across the JWT and every key;
// "public" is the class of routes without a caller, counted per client address;
// "provider" the unified API's routes, each of which calls Google or Microsoft.
export type RateClass = "default" | "auth" | "chat" | "heygen" | "public" | "provider";
