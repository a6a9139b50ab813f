import type { Principal, UserPrincipal } from "./principal.ts";
import type { DeferredHit } from "./rate-limit.ts";

// Hono context variables shared by every function.
export type AppEnv = {
  Variables: {
    requestId: string;
    fn: string;
    user: UserPrincipal;
    principal: Principal;
    // A costly route's rate-limit hit, left to the route to send with its own
    // first statements (one round trip); see requireUser's deferRateLimit.
    deferredHit?: DeferredHit;
  };
};
