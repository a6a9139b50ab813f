// CORS for every function: the answers hono/cors gives for these options,
// without its per-request copies of the Response. hono/cors creates the
// answer's Response before the route runs, to hold its headers, so the
// route's own Response is copied into a new one, and copied again for the
// Vary header after it (three Responses for one answer, a tenth of a hot
// read's CPU). Here a preflight is answered at once, and any other answer
// gets its headers once, in place, after the route.
import type { MiddlewareHandler } from "hono";
import { appendFinalHeader, setFinalHeader } from "./final-header.ts";

export type CorsOptions = {
  origins: readonly string[];
  allowHeaders: readonly string[];
  allowMethods: readonly string[];
  exposeHeaders: readonly string[];
  maxAgeSeconds: number;
};

export function cors(opts: CorsOptions): MiddlewareHandler {
  const origins = new Set(opts.origins);
  const allowHeaders = opts.allowHeaders.join(",");
  const allowMethods = opts.allowMethods.join(",");
  const exposeHeaders = opts.exposeHeaders.join(",");
  const maxAge = String(opts.maxAgeSeconds);
  return async (c, next) => {
    const origin = c.req.header("Origin");
    const allowOrigin = origin && origins.has(origin) ? origin : undefined;
    if (c.req.method === "OPTIONS") {
      const headers = new Headers();
      if (allowOrigin) headers.set("Access-Control-Allow-Origin", allowOrigin);
      if (exposeHeaders) headers.set("Access-Control-Expose-Headers", exposeHeaders);
      headers.append("Vary", "Origin");
      headers.set("Access-Control-Max-Age", maxAge);
      headers.set("Access-Control-Allow-Methods", allowMethods);
      headers.set("Access-Control-Allow-Headers", allowHeaders);
      headers.append("Vary", "Access-Control-Request-Headers");
      return new Response(null, { status: 204, statusText: "No Content", headers });
    }
    await next();
    if (allowOrigin) setFinalHeader(c, "Access-Control-Allow-Origin", allowOrigin);
    if (exposeHeaders) setFinalHeader(c, "Access-Control-Expose-Headers", exposeHeaders);
    appendFinalHeader(c, "Vary", "Origin");
    return undefined; // the route's answer stands
  };
}
