import { refuseToStartWithoutKey } from "../../../shared/tokens/vault.ts";
import app from "./app.ts";

await refuseToStartWithoutKey("oauth");
Deno.serve(app.fetch);
