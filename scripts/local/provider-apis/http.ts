// What google.ts and graph.ts share: the route table's shape, and how a
// provider writes its error answers (each module brings its own format).
import type { Endpoint, Mailbox } from "./store.ts";

export type Ctx = {
  req: Request;
  url: URL;
  match: RegExpMatchArray;
  box: Mailbox;
  scopes: Set<string>;
};

export type Route = {
  method: string;
  path: RegExp;
  endpoint: Endpoint;
  // Any one of these scopes allows the call.
  scopes: string[];
  run: (ctx: Ctx) => Response | Promise<Response>;
};

export type ErrorKind =
  | "unauthorized"
  | "insufficient_scope"
  | "forbidden"
  | "rate_limited"
  | "not_found"
  | "bad_request"
  | "server_error"
  | "unavailable";

export type ProviderApi = {
  name: "google" | "microsoft";
  routes: Route[];
  // A scope as the token carries it, compared with the route's.
  normalizeScope: (s: string) => string;
  error: (
    kind: ErrorKind,
    message?: string,
    o?: { retryAfter?: number; scopes?: string[] },
  ) => Response;
};

export const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  Response.json(body, { status, headers });

export async function readJson(req: Request): Promise<Record<string, unknown> | null> {
  try {
    const body = await req.json();
    return body && typeof body === "object" && !Array.isArray(body) ? body : null;
  } catch {
    return null;
  }
}

export const b64url = (s: string) => {
  const bytes = new TextEncoder().encode(s);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

export const fromB64url = (s: string) => {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
};

// An opaque page token: the offset, as providers' tokens are opaque strings.
export const pageToken = (offset: number) => b64url(`offset:${offset}`);
export function offsetOf(token: string | null): number | null {
  if (!token) return 0;
  try {
    const m = fromB64url(token).match(/^offset:(\d+)$/);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

// Waits out a forced hang: until `ms` pass, the request is abandoned, or the
// server stops (every controller in `hanging` is aborted at shutdown).
export async function hang(ms: number, signal: AbortSignal, hanging: Set<AbortController>) {
  const ac = new AbortController();
  hanging.add(ac);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    const stop = () => {
      clearTimeout(timer);
      resolve();
    };
    signal.addEventListener("abort", stop, { once: true });
    ac.signal.addEventListener("abort", stop, { once: true });
  });
  hanging.delete(ac);
}
