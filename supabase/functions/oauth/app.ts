import { createApp } from "../../../shared/http/app.ts";
import { oauthConfig } from "../../../shared/oauth/config.ts";
import * as authorize from "../../../shared/oauth/routes/authorize.ts";
import * as callback from "../../../shared/oauth/routes/callback.ts";
import * as providers from "../../../shared/oauth/routes/providers.ts";

// Malformed configuration stops the function here, at start.
oauthConfig();

const app = createApp(
  "oauth",
  "Connecting Google, Microsoft and the local dev provider: the authorization-code flow with " +
    "PKCE, states bound to the user, and the provider callback.",
);

for (const route of [providers, authorize, callback]) route.register(app);

export default app;
