import { serve } from "../../../shared/http/serve.ts";
import { refuseToStartWithoutKey } from "../../../shared/tokens/vault.ts";
import app from "./app.ts";

await refuseToStartWithoutKey("tokens");
serve(app);
