// The error answers every unified route documents: the provider's refusals
// and failures mapped onto the envelope (shared/unified/provider-call.ts).
import type { Context } from "hono";
import type { AppEnv } from "../../auth/context.ts";
import { errorResponsesWith } from "../../http/openapi.ts";
import type { Caller } from "../operations.ts";

export const unifiedErrors = errorResponsesWith({
  400: "Invalid input (validation_failed), or several connections could do this write " +
    "(connection_required: name one in connection_id)",
  403: "The key lacks the route's scope (insufficient_scope), or the connection's grant lacks " +
    "the provider scope (insufficient_provider_scope: details name the service to reconnect)",
  404: "No such connection or item for this caller (not_found)",
  409: "The connection needs the user to reconnect (needs_reauth)",
  429: "Too many requests here (rate_limited) or at the provider (provider_rate_limited); " +
    "Retry-After says when",
  502: "The provider failed or refused (provider_error)",
  504: "The provider did not answer in time (provider_timeout)",
});

export const readErrors = () => unifiedErrors(400, 401, 403, 404, 409, 429, 502, 504);
export const writeErrors = readErrors;

// Who acts in a route: the authenticated user (or their key), with the
// request's signal, so a client that goes away ends the provider calls. The
// user's id is read only when asked for: an API key is verified by the
// operation's first message (the connections read), and its owner is not
// known before (the routes are oneTrip).
export const callerOf = (c: Context<AppEnv>): Caller => {
  const user = c.get("user");
  return {
    get userId() {
      return user.userId;
    },
    principal: user,
    requestId: c.get("requestId"),
    signal: c.req.raw.signal,
  };
};
