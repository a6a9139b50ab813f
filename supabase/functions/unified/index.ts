import { serve } from "../../../shared/http/serve.ts";
import { refuseToStartWithoutKey } from "../../../shared/tokens/vault.ts";
import app from "./app.ts";

// The provider tokens are decrypted with the Vault key: no key, no start.
await refuseToStartWithoutKey("unified");
serve(app);
