import type { Principal, UserPrincipal } from "../auth/principal.ts";

// Hono context variables shared by every function.
export type AppEnv = {
  Variables: {
    requestId: string;
    fn: string;
    user: UserPrincipal;
    principal: Principal;
  };
};
