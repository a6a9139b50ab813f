import { serve } from "../../../shared/http/serve.ts";
import { refuseToStartWithoutKey } from "../../../shared/tokens/vault.ts";
import app from "./app.ts";

// Signing secrets are encrypted under the token key: no key, no start.
await refuseToStartWithoutKey("webhooks");
serve(app);
