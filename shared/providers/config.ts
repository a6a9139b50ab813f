// Provider configuration, parsed once per isolate from the environment. A
// provider is enabled only when both its client id and secret are set; a half
// configured provider, a malformed URL or a plain-http endpoint off loopback
// stops the function at start with the variable's name. Both the oauth domain
// (the connect flow) and the tokens domain (refresh, revocation) read it.
import { z } from "zod";
import { OUTBOUND_BUDGET_MS } from "../platform.ts";
import {
  type Endpoints,
  PROVIDER_IDS,
  type ProviderDefinition,
  type ProviderId,
  PROVIDERS,
} from "./definitions.ts";

export type ResolvedProvider = ProviderDefinition & {
  clientId: string;
  clientSecret: string;
  endpoints: Endpoints;
};

export type ProvidersConfig = {
  // Enabled providers only, in PROVIDER_IDS order.
  providers: Map<ProviderId, ResolvedProvider>;
  // <callbackBase>/<provider> is the redirect_uri registered at each provider.
  callbackBase: string;
  // Budget for one request to a provider (token, userinfo, revocation).
  httpTimeoutMs: number;
};

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

// https everywhere, except plain http to this machine (the local provider).
export function isSafeEndpoint(value: string): boolean {
  try {
    const u = new URL(value);
    if (u.username || u.password || u.hash) return false;
    return u.protocol === "https:" || (u.protocol === "http:" && LOOPBACK.has(u.hostname));
  } catch {
    return false;
  }
}

const base = z.object({
  SUPABASE_URL: z.url(),
  OAUTH_CALLBACK_URL: z.url().optional(),
  // The callback makes up to three provider calls in a row (code exchange,
  // userinfo, a revocation when it cannot keep the grant): all three must fit
  // in the platform's limit.
  OAUTH_HTTP_TIMEOUT_MS: z.coerce.number().int().min(100).max(Math.floor(OUTBOUND_BUDGET_MS / 3))
    .default(10_000),
  MICROSOFT_TENANT: z.string().regex(/^[A-Za-z0-9.-]{1,100}$/, "a tenant id, domain or common")
    .optional(),
});

// The configuration, or every problem found (the caller may add its own
// before it throws, so one start names all of them).
export function resolveProviders(
  env: Record<string, string | undefined>,
): { config?: ProvidersConfig; problems: string[] } {
  const problems: string[] = [];
  const parsed = base.safeParse(env);
  if (!parsed.success) {
    problems.push(...parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  }
  const providers = new Map<ProviderId, ResolvedProvider>();
  for (const id of PROVIDER_IDS) {
    const resolved = resolveOne(PROVIDERS[id], env, problems);
    if (resolved) providers.set(id, resolved);
  }
  if (problems.length || !parsed.data) return { problems };
  const c = parsed.data;
  const callbackBase = (c.OAUTH_CALLBACK_URL ??
    `${c.SUPABASE_URL.replace(/\/+$/, "")}/functions/v1/oauth/callback`).replace(/\/+$/, "");
  return {
    config: { providers, callbackBase, httpTimeoutMs: c.OAUTH_HTTP_TIMEOUT_MS },
    problems,
  };
}

function resolveOne(
  def: ProviderDefinition,
  env: Record<string, string | undefined>,
  problems: string[],
): ResolvedProvider | undefined {
  const p = def.envPrefix;
  const clientId = env[`${p}_CLIENT_ID`]?.trim();
  const clientSecret = env[`${p}_CLIENT_SECRET`]?.trim();
  if (!clientId && !clientSecret) return undefined;
  if (!clientId || !clientSecret) {
    problems.push(
      `${p}_CLIENT_ID and ${p}_CLIENT_SECRET: set both to enable ${def.id}, or neither`,
    );
    return undefined;
  }
  const defaults = def.defaultEndpoints(env);
  const pick = (key: keyof Endpoints, variable: string): string | null => {
    const value = env[`${p}_${variable}`]?.trim() || defaults?.[key] || null;
    if (value === null) return null;
    if (!isSafeEndpoint(value)) {
      problems.push(`${p}_${variable}: must be an https URL (http only on loopback)`);
    }
    return value;
  };
  const endpoints = {
    authorization: pick("authorization", "AUTHORIZATION_URL"),
    token: pick("token", "TOKEN_URL"),
    userinfo: pick("userinfo", "USERINFO_URL"),
    revocation: pick("revocation", "REVOCATION_URL"),
  };
  if (!endpoints.authorization || !endpoints.token || !endpoints.userinfo) {
    const hint = def.id === "dev" ? "DEV_OAUTH_URL or " : "";
    problems.push(`${p}_AUTHORIZATION_URL/_TOKEN_URL/_USERINFO_URL: set ${hint}all three`);
    return undefined;
  }
  return { ...def, clientId, clientSecret, endpoints: endpoints as Endpoints };
}

export function parseProvidersConfig(env: Record<string, string | undefined>): ProvidersConfig {
  const { config, problems } = resolveProviders(env);
  if (!config) throw new Error(`invalid OAuth configuration: ${problems.join("; ")}`);
  return config;
}

let cached: ProvidersConfig | undefined;

export function providersConfig(): ProvidersConfig {
  return cached ??= parseProvidersConfig(Deno.env.toObject());
}

export function redirectUri(config: ProvidersConfig, provider: ProviderId): string {
  return `${config.callbackBase}/${provider}`;
}
