// Sending one webhook: the URL checked again (DNS may have changed since the
// endpoint was registered), the body signed with every current secret, one
// POST within the timeout, and what came of it. Redirects are not followed
// (they would bypass the check; Standard Webhooks counts a 3xx as a failure)
// and response bodies are never read or kept.
import type { WebhooksConfig } from "./config.ts";
import { signedHeaders } from "./signing.ts";
import { checkOutboundUrl, type Resolver } from "./url-safety.ts";

export type SendError =
  | "http_status"
  | "timeout"
  | "unreachable"
  | "url_refused"
  | "redirect"
  | "gone"
  | "no_secret";

export type SendOutcome = {
  delivered: boolean;
  status_code: number | null;
  error: SendError | null;
  // Seconds the endpoint asked us to wait (Retry-After on a 429 or 503).
  retry_after_seconds: number | null;
  duration_ms: number;
};

export const USER_AGENT = "Oprina-Webhooks/1.0 (+https://www.standardwebhooks.com)";

export async function sendWebhook(
  o: { url: string; secrets: readonly string[]; msgId: string; body: string },
  config: WebhooksConfig,
  resolve?: Resolver,
): Promise<SendOutcome> {
  const started = performance.now();
  const done = (
    partial: Omit<SendOutcome, "duration_ms" | "retry_after_seconds"> & {
      retry_after_seconds?: number | null;
    },
  ): SendOutcome => ({
    retry_after_seconds: null,
    ...partial,
    duration_ms: Math.round(performance.now() - started),
  });

  const verdict = await checkOutboundUrl(o.url, {
    allowLoopback: config.WEBHOOK_ALLOW_LOOPBACK,
    resolve,
  });
  if (!verdict.ok) return done({ delivered: false, status_code: null, error: "url_refused" });
  // An endpoint made behind the API's back, without a secret: nothing unsigned leaves.
  if (o.secrets.length === 0) {
    return done({ delivered: false, status_code: null, error: "no_secret" });
  }
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = await signedHeaders(o.secrets, o.msgId, timestamp, o.body);
  let res: Response;
  try {
    res = await fetch(verdict.url, {
      method: "POST",
      headers: { ...headers, "Content-Type": "application/json", "User-Agent": USER_AGENT },
      body: o.body,
      redirect: "manual",
      signal: AbortSignal.timeout(config.WEBHOOK_TIMEOUT_MS),
    });
  } catch (err) {
    const timedOut = (err as Error)?.name === "TimeoutError" ||
      (err as Error)?.name === "AbortError";
    return done({
      delivered: false,
      status_code: null,
      error: timedOut ? "timeout" : "unreachable",
    });
  }
  await res.body?.cancel().catch(() => {});
  const status = res.status;
  if (status >= 200 && status < 300) {
    return done({ delivered: true, status_code: status, error: null });
  }
  if (status >= 300 && status < 400) {
    return done({ delivered: false, status_code: status, error: "redirect" });
  }
  if (status === 410) return done({ delivered: false, status_code: status, error: "gone" });
  return done({
    delivered: false,
    status_code: status,
    error: "http_status",
    retry_after_seconds: status === 429 || status === 503
      ? retryAfterSeconds(res.headers.get("retry-after"))
      : null,
  });
}

// Retry-After as seconds or an HTTP date; null when absent or unreadable.
export function retryAfterSeconds(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  if (/^\d{1,9}$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, Math.ceil((at - now) / 1000)) : null;
}
