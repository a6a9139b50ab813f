// The provider API stand-ins, mounted by the local OAuth server
// (scripts/local/oauth-server.ts), which issues the access tokens they accept:
// Google Calendar v3 and Gmail v1 (google.ts), Microsoft Graph v1.0 (graph.ts).
// Every call is checked like the providers check it: a bearer token the
// server issued, unexpired and unrevoked (401 with WWW-Authenticate), carrying
// one of the scopes the endpoint accepts (403); then the account's armed
// fault, if any (401, 403, 429 with Retry-After, 500, 503, a hang).
//
// Test controls, under /_control/apis:
//   GET    /accounts/{email}          the account's data, the calls its tokens made, what it sent
//   POST   /accounts/{email}/seed     {events?, messages?, append?}: replace (or add to) its data
//   POST   /accounts/{email}/reset    back to the default seed
//   POST   /faults                    {account, endpoint (store.ts ENDPOINTS or "*"), mode
//                                      (401|403|429|500|503|hang), count?, retry_after?, hang_ms?}
//   DELETE /faults?account=           disarm (one account's, or all)
import { google } from "./google.ts";
import { graph } from "./graph.ts";
import type { ProviderApi, Route } from "./http.ts";
import { hang, json, readJson } from "./http.ts";
import {
  armFault,
  clearFaults,
  ENDPOINTS,
  FAULT_MODES,
  type FaultMode,
  mailbox,
  resetMailbox,
  seededEvent,
  seededMessage,
  takeFault,
} from "./store.ts";

// What the OAuth server knows of a bearer token.
export type TokenInfo = { account: string; scopes: string[]; valid: boolean };

const APIS: ProviderApi[] = [google, graph];

function find(
  method: string,
  path: string,
): { api: ProviderApi; route: Route; match: RegExpMatchArray } | null {
  for (const api of APIS) {
    for (const route of api.routes) {
      if (route.method !== method) continue;
      const match = path.match(route.path);
      if (match) return { api, route, match };
    }
  }
  return null;
}

export function providerApis(lookup: (token: string) => TokenInfo | null) {
  const hanging = new Set<AbortController>();

  async function serve(req: Request, url: URL): Promise<Response | null> {
    if (url.pathname.startsWith("/_control/apis/")) return await control(req, url);
    const found = find(req.method, url.pathname);
    if (!found) return null;
    const { api, route, match } = found;
    const bearer = req.headers.get("Authorization")?.match(/^Bearer\s+(\S+)$/i)?.[1] ?? "";
    const info = bearer ? lookup(bearer) : null;
    if (!info || !info.valid) return api.error("unauthorized");
    const box = mailbox(info.account);
    const answer = await faulted(api, box.email, route, req.signal) ??
      (scopeMissing(api, route, info.scopes)
        ? api.error("insufficient_scope", undefined, { scopes: route.scopes })
        : await route.run({ req, url, match, box, scopes: new Set(info.scopes) }));
    box.calls.push({
      endpoint: route.endpoint,
      status: answer.status,
      at: new Date().toISOString(),
    });
    return answer;
  }

  function scopeMissing(api: ProviderApi, route: Route, granted: string[]) {
    const have = new Set(granted.map(api.normalizeScope));
    return !route.scopes.some((s) => have.has(api.normalizeScope(s)));
  }

  async function faulted(api: ProviderApi, email: string, route: Route, signal: AbortSignal) {
    const f = takeFault(email, route.endpoint);
    if (!f) return null;
    switch (f.mode) {
      case "401":
        return api.error("unauthorized");
      case "403":
        return api.error("forbidden");
      case "429":
        return api.error("rate_limited", undefined, { retryAfter: f.retryAfter });
      case "500":
        return api.error("server_error");
      case "503":
        return api.error("unavailable", undefined, { retryAfter: f.retryAfter });
      case "hang": {
        await hang(f.hangMs, signal, hanging);
        return api.error("unavailable");
      }
    }
  }

  async function control(req: Request, url: URL): Promise<Response> {
    const parts = url.pathname.split("/").filter(Boolean).slice(2); // drop "_control/apis"
    const body = req.method === "POST" ? await readJson(req) ?? {} : {};
    if (parts[0] === "accounts" && parts[1]) {
      const email = decodeURIComponent(parts[1]);
      if (req.method === "GET" && parts.length === 2) return json(mailbox(email));
      if (req.method === "POST" && parts[2] === "reset") return json(resetMailbox(email));
      if (req.method === "POST" && parts[2] === "seed") {
        const box = mailbox(email);
        const events = Array.isArray(body.events) ? body.events : [];
        const messages = Array.isArray(body.messages) ? body.messages : [];
        const added = {
          events: events.map((e, i) => seededEvent(box.email, i + 1, e)),
          messages: messages.map((m, i) => seededMessage(box.email, i + 1, m)),
        };
        if (body.append) {
          box.events.push(...added.events);
          box.messages.push(...added.messages);
        } else {
          if (body.events !== undefined) box.events = added.events;
          if (body.messages !== undefined) box.messages = added.messages;
        }
        return json(added);
      }
    }
    if (parts[0] === "faults" && req.method === "POST") {
      const { account, endpoint, mode } = body as Record<string, unknown>;
      const endpoints: string[] = [...ENDPOINTS, "*"];
      if (
        typeof account !== "string" || !endpoints.includes(endpoint as string) ||
        !FAULT_MODES.includes(mode as FaultMode)
      ) {
        return json({ error: `need account, endpoint (${endpoints}), mode (${FAULT_MODES})` }, 400);
      }
      armFault(account, endpoint as typeof ENDPOINTS[number], {
        mode: mode as FaultMode,
        remaining: Number(body.count ?? 1),
        retryAfter: Number(body.retry_after ?? 30),
        hangMs: Number(body.hang_ms ?? 15_000),
      });
      return json({ ok: true });
    }
    if (parts[0] === "faults" && req.method === "DELETE") {
      clearFaults(url.searchParams.get("account") ?? undefined);
      return json({ ok: true });
    }
    return json({ error: "no such control" }, 404);
  }

  return { serve, stop: () => hanging.forEach((h) => h.abort()) };
}
