// OAuth providers as data: endpoints, scopes per service, and the extra
// authorize parameters each needs. Nothing here talks to the network; config.ts
// resolves these against the environment (credentials, endpoint overrides) and
// client.ts does the protocol work. Both the oauth and the tokens domain use
// this layer; neither imports the other for it.

export const SERVICES = ["gmail", "calendar", "outlook"] as const;
export type Service = (typeof SERVICES)[number];

export const PROVIDER_IDS = ["google", "microsoft", "dev"] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

export type Endpoints = {
  authorization: string;
  token: string;
  userinfo: string;
  // RFC 7009 revocation; null when the provider has none (Microsoft).
  revocation: string | null;
};

export type ProviderDefinition = {
  id: ProviderId;
  name: string;
  // Environment variables are <envPrefix>_CLIENT_ID, _CLIENT_SECRET,
  // _AUTHORIZATION_URL, _TOKEN_URL, _USERINFO_URL, _REVOCATION_URL.
  envPrefix: string;
  // Default endpoints; null when the provider has no public default (dev).
  defaultEndpoints: (env: Record<string, string | undefined>) => Endpoints | null;
  // Always requested: who the account is, and offline access.
  identityScopes: string[];
  services: Partial<Record<Service, string[]>>;
  authorizeParams: Record<string, string>;
  // Whether the refresh grant names the scopes again (Microsoft recommends it).
  refreshWithScopes: boolean;
  // Scopes as the provider reports them back may be spelled differently from
  // the request (Graph drops its resource prefix): compare normalized.
  normalizeScope: (scope: string) => string;
};

const lower = (s: string) => s.toLowerCase();
const GRAPH = "https://graph.microsoft.com/";

export const PROVIDERS: Record<ProviderId, ProviderDefinition> = {
  google: {
    id: "google",
    name: "Google",
    envPrefix: "GOOGLE",
    defaultEndpoints: () => ({
      authorization: "https://accounts.google.com/o/oauth2/v2/auth",
      token: "https://oauth2.googleapis.com/token",
      userinfo: "https://openidconnect.googleapis.com/v1/userinfo",
      revocation: "https://oauth2.googleapis.com/revoke",
    }),
    identityScopes: ["openid", "email", "profile"],
    services: {
      gmail: ["https://www.googleapis.com/auth/gmail.modify"],
      calendar: ["https://www.googleapis.com/auth/calendar"],
    },
    // offline + consent: Google returns a refresh token on every consent, not
    // only the first; include_granted_scopes keeps earlier grants (incremental).
    authorizeParams: {
      access_type: "offline",
      prompt: "consent",
      include_granted_scopes: "true",
    },
    refreshWithScopes: false,
    // Google answers "https://www.googleapis.com/auth/userinfo.email" for "email".
    normalizeScope: (s) =>
      lower(s).replace(/^https:\/\/www\.googleapis\.com\/auth\/userinfo\.(email|profile)$/, "$1"),
  },
  microsoft: {
    id: "microsoft",
    name: "Microsoft",
    envPrefix: "MICROSOFT",
    defaultEndpoints: (env) => {
      const tenant = env.MICROSOFT_TENANT || "common";
      const base = `https://login.microsoftonline.com/${encodeURIComponent(tenant)}/oauth2/v2.0`;
      return {
        authorization: `${base}/authorize`,
        token: `${base}/token`,
        userinfo: "https://graph.microsoft.com/oidc/userinfo",
        revocation: null,
      };
    },
    // offline_access is how Microsoft grants a refresh token.
    identityScopes: ["openid", "email", "profile", "offline_access", `${GRAPH}User.Read`],
    services: {
      outlook: [`${GRAPH}Mail.ReadWrite`, `${GRAPH}Mail.Send`],
      calendar: [`${GRAPH}Calendars.ReadWrite`],
    },
    // select_account: a user who consented before still sees a screen naming
    // the account being connected, so nobody is connected without a click.
    authorizeParams: { response_mode: "query", prompt: "select_account" },
    refreshWithScopes: true,
    normalizeScope: (s) => lower(s.startsWith(GRAPH) ? s.slice(GRAPH.length) : s),
  },
  dev: {
    id: "dev",
    name: "Local dev provider",
    envPrefix: "DEV_OAUTH",
    defaultEndpoints: (env) => {
      const base = env.DEV_OAUTH_URL?.replace(/\/+$/, "");
      return base
        ? {
          authorization: `${base}/authorize`,
          token: `${base}/token`,
          userinfo: `${base}/userinfo`,
          revocation: `${base}/revoke`,
        }
        : null;
    },
    identityScopes: ["openid", "email", "profile", "offline_access"],
    services: {
      gmail: ["dev.mail"],
      calendar: ["dev.calendar"],
      outlook: ["dev.outlook"],
    },
    authorizeParams: {},
    refreshWithScopes: false,
    normalizeScope: lower,
  },
};

// Services whose scopes are all among the granted ones.
export function servicesCovered(
  def: ProviderDefinition,
  granted: string[],
  candidates: Service[] = Object.keys(def.services) as Service[],
): Service[] {
  const have = new Set(granted.map(def.normalizeScope));
  return candidates.filter((s) =>
    (def.services[s] ?? []).every((scope) => have.has(def.normalizeScope(scope)))
  );
}

// Every scope a caller may ask for at this provider.
export function knownScopes(def: ProviderDefinition): string[] {
  return [...new Set([...def.identityScopes, ...Object.values(def.services).flat()])];
}
