// HeyGen's streaming-avatar token API: POST {base}/v1/streaming.create_token
// with the account's X-Api-Key answers {"error": null, "data": {"token": "…"}},
// a short-lived token the browser SDK starts an avatar session with. The API
// key never leaves this module except in that header.
import type { HeygenConfig } from "./config.ts";
import { retryAfterSeconds } from "./agent.ts";

export type HeygenFailureKind =
  | "unauthorized" // HeyGen refused our API key (401/403): an operator problem
  | "rate_limited" // 429
  | "http_error" // any other non-2xx
  | "invalid_response" // 2xx without a token, or with an error object
  | "timeout"
  | "unreachable";

export class HeygenFailure extends Error {
  constructor(
    readonly kind: HeygenFailureKind,
    message: string,
    readonly detail: { status?: number; retryAfter?: number; upstreamCode?: string } = {},
  ) {
    super(message);
    this.name = "HeygenFailure";
  }
}

const MAX_BODY_CHARS = 64 * 1024;

export async function createStreamingToken(heygen: HeygenConfig): Promise<string> {
  const url = new URL("v1/streaming.create_token", heygen.baseUrl.href.replace(/\/*$/, "/"));
  const signal = AbortSignal.timeout(heygen.timeoutMs);
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: {
        "X-Api-Key": heygen.apiKey.reveal(),
        "Content-Type": "application/json",
        Accept: "application/json",
      },
      body: "{}",
      signal,
    });
    text = (await res.text()).slice(0, MAX_BODY_CHARS);
  } catch (err) {
    if (signal.aborted) {
      throw new HeygenFailure("timeout", `HeyGen did not answer within ${heygen.timeoutMs} ms`);
    }
    throw new HeygenFailure("unreachable", `HeyGen could not be reached (${(err as Error).name})`);
  }
  // deno-lint-ignore no-explicit-any
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  // Two error shapes exist: {"code": 400112, "message": …} (v1) and
  // {"error": {"code": "unauthorized", "message": …}}. Only the code is kept.
  const rawCode = body?.error?.code ?? body?.code;
  const upstreamCode = /^[A-Za-z0-9_.-]{1,64}$/.test(String(rawCode ?? ""))
    ? String(rawCode)
    : undefined;
  if (res.status === 401 || res.status === 403) {
    throw new HeygenFailure("unauthorized", `HeyGen refused the API key (HTTP ${res.status})`, {
      status: res.status,
      upstreamCode,
    });
  }
  if (res.status === 429) {
    throw new HeygenFailure("rate_limited", "HeyGen is rate limiting token requests", {
      status: 429,
      retryAfter: retryAfterSeconds(res.headers.get("Retry-After")),
      upstreamCode,
    });
  }
  if (!res.ok) {
    throw new HeygenFailure("http_error", `HeyGen answered HTTP ${res.status}`, {
      status: res.status,
      upstreamCode,
    });
  }
  const token = body?.data?.token;
  if (body?.error || typeof token !== "string" || token.length === 0 || token.length > 8192) {
    throw new HeygenFailure("invalid_response", "HeyGen's answer holds no token", {
      status: res.status,
      upstreamCode,
    });
  }
  return token;
}
