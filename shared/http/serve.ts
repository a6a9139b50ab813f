// How a function process serves. A dropped database connection can surface
// inside postgres.js as a promise nobody awaits; by default Deno would end the
// whole isolate on it. We log it and keep serving: the pool reconnects, and
// requests that were in flight already got their own errors.
import { log } from "./log.ts";

let guarded = false;

export function keepServingOnStrayRejections(): void {
  if (guarded) return;
  guarded = true;
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    const reason = event.reason as Error | undefined;
    log("error", "unhandled rejection", { error: `${reason?.name}: ${reason?.message}` });
  });
}

export function serve(app: { fetch: (req: Request) => Response | Promise<Response> }): void {
  keepServingOnStrayRejections();
  Deno.serve(app.fetch);
}
