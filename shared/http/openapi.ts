// Pieces every route definition uses: the error envelope's schema and the
// standard error responses, so the document lists what a route can answer.
import { z } from "@hono/zod-openapi";
import { requireUser, type UserRouteOptions } from "../auth/middleware.ts";
import type { RateClass, Scope } from "../auth/scopes.ts";

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

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
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
    middleware: requireUser(scope, rateClass, opts),
  };
}
