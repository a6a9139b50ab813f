import { createApp } from "../../../shared/http/app.ts";
import { oauthConfig } from "../../../shared/oauth/config.ts";
import * as authorize from "../../../shared/oauth/routes/authorize.ts";
import * as callback from "../../../shared/oauth/routes/callback.ts";
import * as cleanup from "../../../shared/oauth/routes/cleanup.ts";
import * as complete from "../../../shared/oauth/routes/complete.ts";
import * as providers from "../../../shared/oauth/routes/providers.ts";

// Malformed configuration stops the function here, at start.
oauthConfig();

const app = createApp(
  "oauth",
  "Connecting Google, Microsoft and the local dev provider: the authorization-code flow with " +
    "PKCE, states bound to the user, the provider callback, and completion by the user who " +
    "started it.",
);

for (const route of [providers, authorize, callback, complete, cleanup]) route.register(app);

export default app;
