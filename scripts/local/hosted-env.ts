// What a hosted function sees of the environment: the variables the platform
// sets, and the project's own secrets (`supabase secrets set`), whose names can
// never start with SUPABASE_ (the CLI skips them: "Env name cannot start with
// SUPABASE_"). The local gateway keeps only that, so a function that relies on
// anything else, such as a JWT secret, fails here as it would there.

export const PLATFORM_VARIABLES = [
  "SUPABASE_URL",
  "SUPABASE_DB_URL",
  "SUPABASE_ANON_KEY",
  "SUPABASE_SERVICE_ROLE_KEY",
  "SUPABASE_PUBLISHABLE_KEYS",
  "SUPABASE_SECRET_KEYS",
  "SB_REGION",
  "SB_EXECUTION_ID",
  "DENO_DEPLOYMENT_ID",
];

// The stand-in's own settings and the test harness's: never a project secret.
const LOCAL_ONLY = [
  /^PLATFORM_DB_URL$/,
  /^GATEWAY_PORT$/,
  /^SIGNING_KEY_FILE$/,
  /^NET_WORKER$/,
  /^LOCAL_/,
  /^OAUTH_SERVER_/,
  /^ERROR_RESPONSES_LOG$/,
  /^TEST_/,
  /^PG_/,
];

export function visibleToFunctions(name: string): boolean {
  if (name.startsWith("SUPABASE_")) return PLATFORM_VARIABLES.includes(name);
  return !LOCAL_ONLY.some((pattern) => pattern.test(name));
}

// Removes from this process's environment what a hosted function would not see.
export function restrictToHostedEnv(): string[] {
  const removed = Object.keys(Deno.env.toObject()).filter((n) => !visibleToFunctions(n));
  for (const name of removed) Deno.env.delete(name);
  return removed;
}
