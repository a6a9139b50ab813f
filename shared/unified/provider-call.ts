// One call to a provider API on a connection: the access token from the vault
// (shared/tokens/access.ts, the same path as POST /tokens/{provider}/access-token),
// a timeout inside the platform's budget, and on a 401 exactly one forced
// refresh and one retry. Every failure becomes an AppError of the envelope.
import type { UserPrincipal } from "../auth/principal.ts";
import { AppError, notFound } from "../core/errors.ts";
import { log } from "../core/log.ts";
import { getAccessToken } from "../tokens/access.ts";
import { unifiedConfig } from "./config.ts";
import { type Connection, scopeError } from "./connections.ts";
import type { OperationName } from "./scopes.ts";

// What one operation's provider calls share: who acts, the tokens already
// vended to it (one vault read per connection and operation), and the
// request's own signal (a client that went away ends its calls).
export type CallSession = {
  user: UserPrincipal;
  op: OperationName;
  tokens: Map<string, string>;
  signal?: AbortSignal;
};

export type ProviderRequest = {
  method: "GET" | "POST";
  url: URL;
  body?: unknown;
  headers?: Record<string, string>;
};

// deno-lint-ignore no-explicit-any
export type ProviderAnswer = { status: number; headers: Headers; body: any };

async function tokenFor(s: CallSession, c: Connection, force: boolean): Promise<string> {
  const held = s.tokens.get(c.id);
  if (held && !force) return held;
  const grant = await getAccessToken(s.user, c.provider, { tokenId: c.id, forceRefresh: force });
  s.tokens.set(c.id, grant.access_token);
  return grant.access_token;
}

export async function callProvider(
  s: CallSession,
  c: Connection,
  req: ProviderRequest,
): Promise<ProviderAnswer> {
  let res = await send(s, c, req, await tokenFor(s, c, false));
  if (res.status === 401) {
    // The token died early (revoked, rotated, clock skew): refresh once, retry once.
    res = await send(s, c, req, await tokenFor(s, c, true));
  }
  if (res.status >= 200 && res.status < 300) return res;
  throw failure(s, c, res);
}

async function send(
  s: CallSession,
  c: Connection,
  req: ProviderRequest,
  token: string,
): Promise<ProviderAnswer> {
  const timeoutMs = unifiedConfig().UNIFIED_HTTP_TIMEOUT_MS;
  const signals = [AbortSignal.timeout(timeoutMs), ...(s.signal ? [s.signal] : [])];
  const headers: Record<string, string> = {
    Authorization: `Bearer ${token}`,
    Accept: "application/json",
    ...req.headers,
  };
  if (req.body !== undefined) headers["Content-Type"] = "application/json";
  const started = Date.now();
  let res: Response;
  try {
    res = await fetch(req.url, {
      method: req.method,
      headers,
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
      signal: AbortSignal.any(signals),
      redirect: "error",
    });
  } catch (err) {
    const name = (err as Error)?.name;
    log("warn", "provider call failed", { provider: c.provider, op: s.op, error_kind: name });
    if (name === "TimeoutError" || name === "AbortError") {
      throw new AppError("provider_timeout", `${label(c)} did not answer in time`, {
        provider: c.provider,
        timeout_ms: timeoutMs,
      });
    }
    throw new AppError("provider_error", `${label(c)} could not be reached`, {
      provider: c.provider,
    });
  }
  const text = await res.text().catch(() => "");
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      if (res.ok) {
        throw new AppError("provider_error", `${label(c)} sent an answer that is not JSON`, {
          provider: c.provider,
        });
      }
    }
  }
  if (!res.ok) {
    log("warn", "provider answered an error", {
      provider: c.provider,
      op: s.op,
      status: res.status,
      ms: Date.now() - started,
    });
  }
  return { status: res.status, headers: res.headers, body };
}

const label = (c: Connection) => (c.provider === "google" ? "Google" : "Microsoft Graph");

// Google reports quota as 403 with a usageLimits reason, and as 429.
const GOOGLE_QUOTA = new Set([
  "rateLimitExceeded",
  "userRateLimitExceeded",
  "dailyLimitExceeded",
  "quotaExceeded",
]);

function providerCode(body: unknown): { code: string | null; reason: string | null } {
  // deno-lint-ignore no-explicit-any
  const e = (body as any)?.error;
  if (!e || typeof e !== "object") return { code: null, reason: null };
  const code = typeof e.code === "string" ? e.code : typeof e.status === "string" ? e.status : null;
  const reason = Array.isArray(e.errors) && typeof e.errors[0]?.reason === "string"
    ? e.errors[0].reason
    : null;
  return { code, reason };
}

function retryAfter(headers: Headers): string {
  const value = headers.get("Retry-After")?.trim() ?? "";
  // Seconds or an HTTP date, as RFC 9110 allows; anything else: a minute.
  return /^\d{1,6}$/.test(value) || !Number.isNaN(Date.parse(value)) ? value : "60";
}

function failure(s: CallSession, c: Connection, res: ProviderAnswer): AppError {
  const { code, reason } = providerCode(res.body);
  const details = { provider: c.provider, provider_status: res.status, provider_code: code };
  const quota = res.status === 429 ||
    (res.status === 403 && reason !== null && GOOGLE_QUOTA.has(reason));
  if (quota) {
    const after = retryAfter(res.headers);
    return new AppError(
      "provider_rate_limited",
      `${label(c)} is limiting requests: retry after ${after}`,
      { ...details, retry_after: after },
      { "Retry-After": after },
    );
  }
  if (res.status === 401) {
    return new AppError("provider_error", `${label(c)} refused a freshly refreshed token`, details);
  }
  if (res.status === 403) return scopeError(c, s.op);
  if (res.status === 404 || res.status === 410) return notFound("the provider's item");
  if (res.status === 400 || res.status === 422) {
    return new AppError("validation_failed", `${label(c)} refused the request as invalid`, details);
  }
  return new AppError("provider_error", `${label(c)} failed (HTTP ${res.status})`, details);
}
