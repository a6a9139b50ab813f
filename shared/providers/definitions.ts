// OAuth providers as data: endpoints, scopes per service, and the extra
// authorize parameters each needs. Nothing here talks to the network; config.ts
// resolves these against the environment (credentials, endpoint overrides) and
// client.ts does the protocol work. Both the oauth and the tokens domain use
// this layer; neither imports the other for it.

export const SERVICES = ["gmail", "calendar", "outlook"] as const;
export type Service = (typeof SERVICES)[number];

// How much of a service an app asks for, and a grant covers. "write" is the
// full set (read, change, send: what every connection had before levels), and
// includes "read".
export const ACCESS_LEVELS = ["read", "write"] as const;
export type AccessLevel = (typeof ACCESS_LEVELS)[number];
export type AccessMap = Partial<Record<Service, AccessLevel>>;

export type ServiceScopes = Record<AccessLevel, string[]>;

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
  services: Partial<Record<Service, ServiceScopes>>;
  // A scope that includes others (gmail.modify reads mail too): a grant of
  // the key counts as a grant of each value.
  includes: Record<string, string[]>;
  // How a connection gains a service: "include_granted_scopes" asks for the
  // new scopes only and the provider adds the earlier ones to the grant
  // (Google); "union" asks for the earlier and the new scopes together
  // (Microsoft, whose token carries only the scopes asked for).
  incremental: "include_granted_scopes" | "union";
  authorizeParams: Record<string, string>;
  // Whether the refresh grant names the scopes again (Microsoft recommends it).
  refreshWithScopes: boolean;
  // Scopes as the provider reports them back may be spelled differently from
  // the request (Graph drops its resource prefix): compare normalized.
  normalizeScope: (scope: string) => string;
};

const lower = (s: string) => s.toLowerCase();
const GRAPH = "https://graph.microsoft.com/";
const GOOGLE = "https://www.googleapis.com/auth/";

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
      gmail: { read: [`${GOOGLE}gmail.readonly`], write: [`${GOOGLE}gmail.modify`] },
      calendar: { read: [`${GOOGLE}calendar.readonly`], write: [`${GOOGLE}calendar`] },
    },
    includes: {
      [`${GOOGLE}gmail.modify`]: [`${GOOGLE}gmail.readonly`],
      [`${GOOGLE}calendar`]: [`${GOOGLE}calendar.readonly`],
    },
    incremental: "include_granted_scopes",
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
      outlook: {
        read: [`${GRAPH}Mail.Read`],
        write: [`${GRAPH}Mail.ReadWrite`, `${GRAPH}Mail.Send`],
      },
      calendar: { read: [`${GRAPH}Calendars.Read`], write: [`${GRAPH}Calendars.ReadWrite`] },
    },
    includes: {
      [`${GRAPH}Mail.ReadWrite`]: [`${GRAPH}Mail.Read`],
      [`${GRAPH}Calendars.ReadWrite`]: [`${GRAPH}Calendars.Read`],
    },
    incremental: "union",
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
      gmail: { read: ["dev.mail.readonly"], write: ["dev.mail"] },
      calendar: { read: ["dev.calendar.readonly"], write: ["dev.calendar"] },
      outlook: { read: ["dev.outlook.readonly"], write: ["dev.outlook"] },
    },
    includes: {
      "dev.mail": ["dev.mail.readonly"],
      "dev.calendar": ["dev.calendar.readonly"],
      "dev.outlook": ["dev.outlook.readonly"],
    },
    // Like Microsoft: the local server grants what is asked, so extending a
    // connection asks for the union (Google's way is tested through the
    // server's include_granted_scopes).
    incremental: "union",
    authorizeParams: {},
    refreshWithScopes: false,
    normalizeScope: lower,
  },
};

// What a grant covers, per service: "write" when every write scope is held,
// else "read" when every read scope is held (directly or through a scope
// that includes it). The one derivation of a connection's service_access.
export function coverage(def: ProviderDefinition, granted: string[]): AccessMap {
  const have = new Set<string>();
  const includes = new Map(
    Object.entries(def.includes).map(([k, v]) => [def.normalizeScope(k), v]),
  );
  for (const scope of granted.map(def.normalizeScope)) {
    have.add(scope);
    for (const weaker of includes.get(scope) ?? []) have.add(def.normalizeScope(weaker));
  }
  const holds = (scopes: string[]) => scopes.every((s) => have.has(def.normalizeScope(s)));
  const covered: AccessMap = {};
  for (const [service, scopes] of Object.entries(def.services) as [Service, ServiceScopes][]) {
    if (holds(scopes.write)) covered[service] = "write";
    else if (holds(scopes.read)) covered[service] = "read";
  }
  return covered;
}

const rank = (level: AccessLevel | undefined) => level ? ACCESS_LEVELS.indexOf(level) + 1 : 0;

// The higher level of each service named in either map.
export function unionAccess(a: AccessMap, b: AccessMap): AccessMap {
  const out: AccessMap = { ...a };
  for (const [s, level] of Object.entries(b) as [Service, AccessLevel][]) {
    if (rank(level) > rank(out[s])) out[s] = level;
  }
  return out;
}

// What was asked for and is not covered at the level asked.
export function missingAccess(requested: AccessMap, covered: AccessMap): AccessMap {
  const out: AccessMap = {};
  for (const [s, level] of Object.entries(requested) as [Service, AccessLevel][]) {
    if (rank(covered[s]) < rank(level)) out[s] = level;
  }
  return out;
}

export type AccessReport = {
  access: AccessMap;
  missing: AccessMap;
  // The services covered at either level, sorted (the connection's services).
  services: Service[];
  partial: boolean;
};

// What a grant means for a connection: its coverage (with what the same
// account's live connection already covers, which a renewal keeps), and what
// was asked for but not granted. The one place both are derived.
export function accessReport(
  def: ProviderDefinition,
  granted: string[],
  requested: AccessMap,
  prior: AccessMap = {},
): AccessReport {
  const access = unionAccess(prior, coverage(def, granted));
  const missing = missingAccess(requested, access);
  return {
    access,
    missing,
    services: (Object.keys(access) as Service[]).sort(),
    partial: Object.keys(missing).length > 0,
  };
}

// The scopes that ask for these services at these levels.
export function scopesFor(def: ProviderDefinition, access: AccessMap): string[] {
  return (Object.entries(access) as [Service, AccessLevel][])
    .flatMap(([s, level]) => def.services[s]?.[level] ?? []);
}

// Every scope a caller may ask for at this provider.
export function knownScopes(def: ProviderDefinition): string[] {
  return [
    ...new Set([
      ...def.identityScopes,
      ...Object.values(def.services).flatMap((s) => [...s.read, ...s.write]),
    ]),
  ];
}

// Services and levels as apps write them: "gmail" (full access, as before
// levels existed), "gmail:read", "gmail:write". The canonical spelling, used
// in redirects, is the shortest: "gmail" for write, "gmail:read" for read.
export const SERVICE_SPECS = SERVICES.flatMap((s) => [s, ...ACCESS_LEVELS.map((l) => `${s}:${l}`)]);

export function parseSpec(spec: string): [Service, AccessLevel] {
  const [service, level = "write"] = spec.split(":") as [Service, AccessLevel?];
  return [service, level];
}

export function specsOf(access: AccessMap): string[] {
  return (Object.entries(access) as [Service, AccessLevel][])
    .sort(([a], [b]) => SERVICES.indexOf(a) - SERVICES.indexOf(b))
    .map(([s, level]) => level === "write" ? s : `${s}:${level}`);
}
