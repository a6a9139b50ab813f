// Pieces every route definition uses: the error envelope's schema and the
// standard error responses, so the document lists what a route can answer.
import { z } from "@hono/zod-openapi";
import { requireUser, type UserRouteOptions } from "../auth/middleware.ts";
import type { RateClass, Scope } from "../auth/scopes.ts";
import { MAX_BODY_DEPTH, pathDeeperThan } from "./json-depth.ts";

export const ErrorEnvelope = z.object({
  error: z.object({
    code: z.string().openapi({ example: "not_found" }),
    message: z.string(),
    details: z.unknown().optional(),
    request_id: z.string(),
  }),
}).openapi("Error");

const DESCRIPTIONS: Record<number, string> = {
  400: "Invalid input (validation_failed)",
  401: "Missing, invalid or expired token (unauthorized)",
  403: "Authenticated but not allowed (forbidden, insufficient_scope)",
  404: "No such resource for this caller (not_found)",
  409: "Conflicts with the resource's state (conflict)",
  413: "Body over 1 MiB (payload_too_large)",
  422: "Well-formed but not processable in this state",
  429: "Too many requests (rate_limited)",
  502: "An upstream service failed",
  503: "A dependency is unavailable (service_unavailable)",
  504: "An upstream service did not answer in time",
};

// The standard error responses, with a domain's own wording where it says
// more (which codes a 409 or a 502 carries on its routes).
export function errorResponsesWith(specific: Record<number, string>) {
  return (...statuses: number[]) =>
    Object.fromEntries(
      statuses.map((s) => [
        s,
        {
          description: specific[s] ?? DESCRIPTIONS[s],
          content: { "application/json": { schema: ErrorEnvelope } },
        },
      ]),
    );
}

export const errorResponses = errorResponsesWith({});

// Every JSON body passes this before its schema sees it: a body nested deeper
// than MAX_BODY_DEPTH is refused naming the top-level field the depth is in,
// so no validator (and nothing after it) ever walks a hostile depth. Parsing
// was already safe (V8's JSON.parse does not recurse); what comes after is not.
export function depthGuarded<T extends z.ZodType>(schema: T) {
  return z.preprocess((value, ctx) => {
    const path = pathDeeperThan(value, MAX_BODY_DEPTH);
    if (path) {
      ctx.addIssue({
        code: "custom",
        path: path.slice(0, 1),
        message: `nests more than ${MAX_BODY_DEPTH} levels deep`,
      });
    }
    return value;
  }, schema);
}

export const jsonBody = <T extends z.ZodType>(schema: T, required = true) => ({
  required,
  content: { "application/json": { schema: depthGuarded(schema) } },
});

export const jsonResponse = <T extends z.ZodType>(description: string, schema: T) => ({
  description,
  content: { "application/json": { schema } },
});

// The 403 of a route declared with refuseAnonymous (userAccess below).
export const REFUSES_ANONYMOUS = {
  403: "Authenticated but not allowed: insufficient_scope, forbidden, or anonymous_not_allowed " +
    "(an anonymous sign-in; sign up first)",
};

// Security and middleware of a user route from one declaration, so the
// document always states what the route enforces: the scope a key needs
// (none: keys refused), and in `x-anonymous-users` whether anonymous
// sign-ins are refused.
export function userAccess(
  scope: Scope,
  rateClass: RateClass = "default",
  opts: UserRouteOptions = {},
) {
  const security: Array<Record<string, string[]>> = opts.sessionOnly
    ? [{ bearer: [] }]
    : [{ bearer: [] }, { apiKey: [scope] }];
  return {
    security,
    "x-anonymous-users": opts.refuseAnonymous ? "refused" : "allowed",
    ...(opts.allowService
      ? {
        "x-service-key": typeof opts.allowService === "string"
          ? opts.allowService
          : "allowed: acts for the service's own endpoints",
      }
      : {}),
    middleware: requireUser(scope, rateClass, opts),
  };
}
