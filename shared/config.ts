// Environment, parsed once per isolate. A missing or malformed variable stops
// the function at start with the variable's name, never at the first request.
import { z } from "zod";

const csv = z.string().transform((s) => s.split(",").map((p) => p.trim()).filter(Boolean));

const schema = z.object({
  SUPABASE_URL: z.url(),
  SUPABASE_DB_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL"),
  // Legacy HS256 secret; projects on asymmetric keys verify against the JWKS only.
  SUPABASE_JWT_SECRET: z.string().min(32).optional(),
  JWT_ISSUERS: csv.optional(),
  CORS_ORIGINS: csv.default(["http://localhost:3000", "http://127.0.0.1:3000"]),
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(50).default(4),
  APP_VERSION: z.string().default("0.1.0"),
});

export type Config = Omit<z.infer<typeof schema>, "JWT_ISSUERS"> & {
  JWT_ISSUERS: string[];
  JWKS_URL: URL;
};

export function parseConfig(env: Record<string, string | undefined>): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new Error(`invalid configuration: ${problems.join("; ")}`);
  }
  const c = parsed.data;
  const base = c.SUPABASE_URL.replace(/\/+$/, "");
  return {
    ...c,
    // Supabase signs user tokens with <url>/auth/v1 and its API keys with "supabase".
    JWT_ISSUERS: c.JWT_ISSUERS ?? [`${base}/auth/v1`, "supabase", "supabase-demo"],
    JWKS_URL: new URL(`${base}/auth/v1/.well-known/jwks.json`),
  };
}

let cached: Config | undefined;

export function config(): Config {
  return cached ??= parseConfig(Deno.env.toObject());
}
