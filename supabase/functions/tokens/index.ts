import { refuseToStartWithoutKey } from "../../../shared/tokens/vault.ts";
import app from "./app.ts";

await refuseToStartWithoutKey("tokens");
Deno.serve(app.fetch);
