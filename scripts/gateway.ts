// The local stand-in for Supabase's API gateway and edge runtime: serves every
// function under /functions/v1/<fn>/ (the function sees /<fn>/..., as on the
// platform), the auth JWKS, and delivers pg_net's queued requests so pg_cron
// jobs that call functions really run. Binds 127.0.0.1 only. Like the
// platform, it tells a function the client's address as the first entry of
// X-Forwarded-For.
//
// The functions see only the environment a hosted function gets: the gateway
// reads its own settings first and then removes everything else.
import postgres from "postgres";
import { drainingUnreadBody } from "../shared/http/drain.ts";
import { keepServingOnStrayErrors } from "../shared/http/serve.ts";
import { restrictToHostedEnv } from "./local/hosted-env.ts";
import { loadOrCreateSigningKey, publicJwk } from "./local/keys.ts";

type Handler = { fetch: (req: Request) => Response | Promise<Response> };

const port = Number(Deno.env.get("GATEWAY_PORT") ?? 54321);
const signingKeyPath = Deno.env.get("SIGNING_KEY_FILE");
// pg_net's worker runs inside the platform, as its superuser.
const platformDbUrl = Deno.env.get("PLATFORM_DB_URL");
const netWorker = Deno.env.get("NET_WORKER") !== "off";
const jwks = {
  keys: signingKeyPath ? [publicJwk(await loadOrCreateSigningKey(signingKeyPath))] : [],
};
restrictToHostedEnv();

const functionsDir = new URL("../supabase/functions/", import.meta.url);
const apps = new Map<string, Handler>();
for (const entry of Deno.readDirSync(functionsDir)) {
  if (!entry.isDirectory || entry.name.startsWith("_")) continue;
  const mod = await import(new URL(`${entry.name}/app.ts`, functionsDir).href);
  apps.set(entry.name, mod.default as Handler);
}

function envelope(status: number, code: string, message: string) {
  const request_id = crypto.randomUUID();
  return Response.json({ error: { code, message, request_id } }, {
    status,
    headers: { "X-Request-Id": request_id },
  });
}

async function route(req: Request, info: Deno.ServeHandlerInfo): Promise<Response> {
  const url = new URL(req.url);
  if (url.pathname === "/auth/v1/.well-known/jwks.json") return Response.json(jwks);
  if (url.pathname === "/health") {
    return Response.json({ status: "ok", functions: [...apps.keys()] });
  }
  const match = url.pathname.match(/^\/functions\/v1\/([^/]+)(\/.*)?$/);
  const app = match && apps.get(match[1]);
  if (!app) return envelope(404, "not_found", "no such function");
  url.pathname = `/${match![1]}${match![2] ?? ""}`;
  const forwarded = new Request(url, req);
  // As on the platform, a function learns its caller's address from the first
  // X-Forwarded-For entry, written here from the socket: whatever the client
  // sent as X-Forwarded-For never reaches a function as the platform's word.
  forwarded.headers.set("X-Forwarded-For", (info.remoteAddr as Deno.NetAddr).hostname);
  return await app.fetch(forwarded);
}

keepServingOnStrayErrors();
// As the functions' own servers do: an early answer (the gateway's 404, or a
// function's 401/413) reaches a client that is still sending its body.
// A gateway that cannot listen must not linger: after the top-level awaits a
// throw here is a rejection, which the stray-error guard would only log, and
// whatever holds the port would answer the stack's health check.
try {
  Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, drainingUnreadBody(route));
} catch (err) {
  console.error(
    JSON.stringify({ level: "error", msg: "gateway cannot listen", port, error: String(err) }),
  );
  Deno.exit(1);
}
console.log(
  JSON.stringify({ level: "info", msg: "gateway listening", port, functions: [...apps.keys()] }),
);

// pg_net's worker: take queued requests, call them, record the responses.
// Only loopback targets are delivered; the local stack never leaves the machine.
if (platformDbUrl && netWorker) {
  const sql = postgres(platformDbUrl, { max: 1, onnotice: () => {} });
  const deliver = async () => {
    const jobs = await sql<
      {
        id: number;
        method: string;
        url: string;
        headers: Record<string, string>;
        body: string | null;
        timeout_milliseconds: number;
      }[]
    >`
      delete from net.http_request_queue
       where id in (select id from net.http_request_queue order by id limit 20 for update skip locked)
      returning id, method, url, headers, convert_from(body, 'UTF8') as body, timeout_milliseconds`;
    await Promise.all(jobs.map(async (job) => {
      let status: number | null = null, content: string | null = null, error: string | null = null;
      let timedOut = false;
      try {
        const target = new URL(job.url);
        if (!["127.0.0.1", "localhost", "[::1]"].includes(target.hostname)) {
          throw new Error("local pg_net delivers to loopback only");
        }
        const res = await fetch(target, {
          method: job.method,
          headers: job.headers,
          body: job.body,
          signal: AbortSignal.timeout(job.timeout_milliseconds),
        });
        status = res.status;
        content = await res.text();
      } catch (err) {
        timedOut = (err as Error).name === "TimeoutError";
        error = (err as Error).message;
      }
      await sql`insert into net._http_response (id, status_code, content, timed_out, error_msg)
                values (${job.id}, ${status}, ${content}, ${timedOut}, ${error})
                on conflict (id) do nothing`;
    }));
  };
  const loop = async () => {
    try {
      await deliver();
    } catch (err) {
      console.error(JSON.stringify({ level: "warn", msg: "net worker", error: String(err) }));
    }
    setTimeout(loop, 1000);
  };
  loop();
}
