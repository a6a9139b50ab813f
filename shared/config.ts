// Environment, parsed once per isolate. A missing or malformed variable stops
// the function at start with the variable's name, never at the first request.
//
// Hosted Supabase gives a function SUPABASE_URL, SUPABASE_DB_URL,
// SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY, SUPABASE_PUBLISHABLE_KEYS and
// SUPABASE_SECRET_KEYS, and no JWT secret; a project cannot set any other
// SUPABASE_* name, so our own settings never start with SUPABASE_.
import { z } from "zod";

const csv = z.string().transform((s) => s.split(",").map((p) => p.trim()).filter(Boolean));
const postgresUrl = z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL");

// {"default":"sb_secret_…", …}: the project's named secret keys.
const keyDictionary = z.string().transform((s, ctx) => {
  try {
    const parsed = z.record(z.string(), z.string().min(1)).parse(JSON.parse(s));
    return Object.values(parsed);
  } catch {
    ctx.addIssue({ code: "custom", message: 'must be a JSON object of keys, {"name":"key"}' });
    return z.NEVER;
  }
});

const schema = z.object({
  SUPABASE_URL: z.url(),
  SUPABASE_DB_URL: postgresUrl.optional(),
  // The operator's choice of database URL (e.g. Supavisor's transaction
  // pooler); SUPABASE_DB_URL cannot be overridden on hosted, so this wins.
  DATABASE_URL: postgresUrl.optional(),
  SUPABASE_SERVICE_ROLE_KEY: z.string().min(1).optional(),
  SUPABASE_SECRET_KEYS: keyDictionary.optional(),
  // Only for projects not yet on asymmetric signing keys: their HS256 secret,
  // under a name the CLI lets a project set.
  LEGACY_JWT_SECRET: z.string().min(32).optional(),
  JWT_ISSUERS: csv.optional(),
  CORS_ORIGINS: csv.default(["http://localhost:3000", "http://127.0.0.1:3000"]),
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(50).default(4),
  APP_VERSION: z.string().default("0.1.0"),
  // How long /health keeps its answer: at most one database check per window.
  HEALTH_CACHE_SECONDS: z.coerce.number().int().min(0).max(3600).default(5),
}).refine((c) => c.DATABASE_URL ?? c.SUPABASE_DB_URL, {
  path: ["SUPABASE_DB_URL"],
  message: "required (or DATABASE_URL)",
});

type Parsed = z.infer<typeof schema>;

export type Config =
  & Pick<
    Parsed,
    "LEGACY_JWT_SECRET" | "CORS_ORIGINS" | "DB_POOL_SIZE" | "APP_VERSION" | "HEALTH_CACHE_SECONDS"
  >
  & {
    // The database the functions use: DATABASE_URL, else SUPABASE_DB_URL.
    DB_URL: string;
    // Every key that authenticates a service caller: the secret keys and the
    // legacy service_role JWT, compared as opaque strings.
    SERVICE_KEYS: string[];
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
    LEGACY_JWT_SECRET: c.LEGACY_JWT_SECRET,
    CORS_ORIGINS: c.CORS_ORIGINS,
    DB_POOL_SIZE: c.DB_POOL_SIZE,
    APP_VERSION: c.APP_VERSION,
    HEALTH_CACHE_SECONDS: c.HEALTH_CACHE_SECONDS,
    DB_URL: (c.DATABASE_URL ?? c.SUPABASE_DB_URL)!,
    SERVICE_KEYS: [...(c.SUPABASE_SECRET_KEYS ?? []), c.SUPABASE_SERVICE_ROLE_KEY]
      .filter((k): k is string => !!k),
    // Supabase signs user tokens with <url>/auth/v1.
    JWT_ISSUERS: c.JWT_ISSUERS ?? [`${base}/auth/v1`],
    JWKS_URL: new URL(`${base}/auth/v1/.well-known/jwks.json`),
  };
}

let cached: Config | undefined;

export function config(): Config {
  return cached ??= parseConfig(Deno.env.toObject());
}
