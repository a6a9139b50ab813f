// The app factory every function starts from: base path, request id, nosniff, one log
// line per request, CORS, body limit, the error envelope for every failure
// (including 404 and 405), health, OpenAPI document and docs page (the last
// three public, so limited per client address).
import { keyPending, verifyKeyFirst } from "../db/client.ts";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { config } from "../config.ts";
import type { AppEnv } from "../auth/context.ts";
import { cors } from "./cors.ts";
import { docsPage } from "./docs-page.ts";
import { AppError, errorBody, toAppError } from "../core/errors.ts";
import { setFinalHeader } from "./final-header.ts";
import { health } from "./health.ts";
import { MAX_BODY_BYTES } from "./limits.ts";
import { log } from "../core/log.ts";
import { limitByAddress } from "./public-limit.ts";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export type App = OpenAPIHono<AppEnv>;

// The caller's id for the log line; an API key refused inside the route's
// own message never named one.
function callerId(user: { userId: string } | undefined): string | undefined {
  try {
    return user?.userId;
  } catch {
    return undefined;
  }
}

export function createApp(fn: string, description: string): App {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalid }).basePath(`/${fn}`) as App;

  app.use("*", async (c, next) => {
    const given = c.req.header("X-Request-Id");
    const requestId = given && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    c.set("requestId", requestId);
    c.set("fn", fn);
    const started = performance.now();
    await next();
    // On every answer, errors and streams included: no browser may guess
    // another content type than the one we send (an envelope as HTML).
    setFinalHeader(c, "X-Request-Id", requestId);
    setFinalHeader(c, "X-Content-Type-Options", "nosniff");
    log(c.res.status >= 500 ? "error" : "info", "request", {
      request_id: requestId,
      fn,
      method: c.req.method,
      route: c.req.routePath,
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 100) / 100,
      user_id: callerId(c.get("user")),
    });
  });
  app.use(
    "*",
    cors({
      origins: config().CORS_ORIGINS,
      allowHeaders: [
        "Authorization",
        "Content-Type",
        "X-Api-Key",
        "X-Request-Id",
        "Idempotency-Key",
        "apikey",
        "x-client-info",
        "x-region", // supabase-js functions.invoke({ region })
      ],
      allowMethods: ["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
      exposeHeaders: [
        "X-Request-Id",
        "Retry-After",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
        "Idempotent-Replayed",
      ],
      maxAgeSeconds: 600,
    }),
  );
  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new AppError("payload_too_large", `the body exceeds ${MAX_BODY_BYTES} bytes`);
      },
    }),
  );

  app.onError(async (err, c) => respondError(c, await keyBeforeInput(c, err)));
  app.notFound((c) => respondError(c, routeMiss(app, c)));

  // The routes every function has are public: limited per client address.
  for (const path of ["/health", "/openapi.json", "/docs"]) app.use(path, limitByAddress);
  app.get("/health", health(fn));
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A Supabase Auth access token.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", {
    type: "apiKey",
    in: "header",
    name: "X-API-Key",
    description: "An Oprina API key; the operation lists the scope it needs.",
  });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: `Oprina ${fn}`, version: config().APP_VERSION, description },
    servers: [{ url: "/functions/v1" }],
  });
  app.get("/docs", docsPage(`Oprina ${fn} API`));
  return app;
}

function respondError(c: Context<AppEnv>, err: unknown) {
  const appError = toAppError(err);
  if (appError.code === "internal") {
    log("error", "unhandled error", {
      request_id: c.get("requestId"),
      fn: c.get("fn"),
      route: c.req.routePath,
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      stack: err instanceof Error ? err.stack : undefined,
    });
  }
  for (const [name, value] of Object.entries(appError.headers ?? {})) c.header(name, value);
  c.header("X-Request-Id", c.get("requestId"));
  return c.json(errorBody(appError, c.get("requestId") ?? "unknown"), appError.status);
}

// zod-openapi's validation hook: every schema failure is a 400 with the
// offending paths, never a 500 and never a silent default.
// An API key verified in the route's own message has not been verified when
// the input is: it is verified alone first, so the caller learns of a bad or
// unfit key (401, 403, 429) before their input, as with a JWT.
async function rejectInvalid(
  result: { success: boolean; error?: { issues: Array<{ path: PropertyKey[]; message: string }> } },
  c: Context<AppEnv>,
) {
  if (result.success) return;
  const user = c.get("user");
  if (user) await verifyKeyFirst(user);
  const issues = (result.error?.issues ?? []).map((i) => ({
    path: i.path.map(String).join("."),
    message: i.message,
  }));
  throw new AppError("validation_failed", "the request is invalid", { issues });
}

// A route's own input check that fails before its first message (a cursor,
// a webhook URL) has not verified a pending API key yet: it is verified alone
// now, and its refusal is the answer, as for a schema failure (rejectInvalid).
async function keyBeforeInput(c: Context<AppEnv>, err: unknown): Promise<unknown> {
  const user = c.get("user");
  if (!user || !keyPending(user) || toAppError(err).code !== "validation_failed") return err;
  try {
    await verifyKeyFirst(user);
  } catch (refusal) {
    return refusal;
  }
  return err;
}

// A miss is a 405 when the path exists under another method.
function routeMiss(app: App, c: Context<AppEnv>): AppError {
  const allowed = new Set<string>();
  for (const r of app.routes) {
    if (r.method === "ALL") continue;
    const pattern = new RegExp(`^${r.path.replace(/:[^/]+/g, "[^/]+")}/?$`);
    if (pattern.test(c.req.path)) allowed.add(r.method);
  }
  if (allowed.size > 0) {
    return new AppError("method_not_allowed", `${c.req.method} is not allowed here`, undefined, {
      Allow: [...allowed].join(", "),
    });
  }
  return new AppError("not_found", "no such route");
}
