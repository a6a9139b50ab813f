// How a function process serves. When Postgres drops connections (restart,
// failover), postgres.js can throw from a timer callback or reject a promise
// nobody awaits; by default Deno would end the whole isolate on either. We log
// them and keep serving: requests in flight already got their own errors, and
// the pool reconnects. A body the app did not read is drained (drain.ts), so
// an early answer reaches the client.
import { drainingUnreadBody } from "./drain.ts";
import { log } from "../core/log.ts";

let guarded = false;

export function keepServingOnStrayErrors(): void {
  if (guarded) return;
  guarded = true;
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    log("error", "unhandled rejection", { error: describe(event.reason) });
  });
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    log("error", "uncaught exception", { error: describe(event.error) });
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

export function serve(app: { fetch: (req: Request) => Response | Promise<Response> }): void {
  // Listening first: a function that cannot listen (its address taken) must
  // fail to start, not have the guard below log the error and linger, while
  // whatever holds the address answers in its place.
  Deno.serve(serveAddress(), drainingUnreadBody(app.fetch));
  keepServingOnStrayErrors();
}

// The edge runtime decides where a function listens. Run by hand (the
// benchmarks run one function alone), DENO_SERVE_ADDRESS=tcp:HOST:PORT says
// where, as later Deno reads it itself; Deno 2.1 does not, and would listen on
// 0.0.0.0:8000.
export function serveAddress(
  value = Deno.env.get("DENO_SERVE_ADDRESS"),
): { hostname?: string; port?: number } {
  const match = value?.match(/^tcp:(\[[^\]]+\]|[^:]+):(\d{1,5})$/);
  return match ? { hostname: match[1].replace(/^\[|\]$/g, ""), port: Number(match[2]) } : {};
}
