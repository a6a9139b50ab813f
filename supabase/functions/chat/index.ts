import { serve } from "../../../shared/http/serve.ts";
import app from "./app.ts";

serve(app);
