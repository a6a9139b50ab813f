// The app a user's browser runs in the browser tests: the static page in
// app/ on the stack's allow-listed app origin (LOCAL_APP_ORIGIN, set by
// scripts/lib.sh), with supabase-js's browser build served from the npm
// package the project depends on, and the project's public settings (URL and
// publishable key) as /config.js. Started and stopped by the test itself.

const ROOT = new URL("../../", import.meta.url);
const APP_DIR = new URL("app/", import.meta.url);
// The UMD build (global `supabase`) of the version deno.json pins.
const SUPABASE_JS = new URL("node_modules/@supabase/supabase-js/", ROOT);

export type AppServer = { origin: string; close: () => Promise<void> };

function env(name: string): string {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`${name} is not set: run the tests with scripts/test.sh`);
  return value;
}

// The same version as deno.json's import map, so the browser runs the client
// the functions' callers are tested with.
async function supabaseJsBundle(): Promise<string> {
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const pinned = String(denoJson.imports["@supabase/supabase-js"]).split("@").pop();
  const pkg = JSON.parse(await Deno.readTextFile(new URL("package.json", SUPABASE_JS)));
  if (pkg.version !== pinned) {
    throw new Error(`node_modules has supabase-js ${pkg.version}, deno.json pins ${pinned}`);
  }
  return await Deno.readTextFile(new URL(pkg.unpkg ?? "dist/umd/supabase.js", SUPABASE_JS));
}

export async function startApp(): Promise<AppServer> {
  const origin = new URL(env("LOCAL_APP_ORIGIN"));
  const config = {
    supabaseUrl: env("SUPABASE_URL"),
    supabaseKey: Object.values(JSON.parse(env("SUPABASE_PUBLISHABLE_KEYS")))[0],
  };
  const files: Record<string, [string, string]> = {
    "/config.js": [
      "text/javascript",
      `globalThis.OPRINA_CONFIG = ${JSON.stringify(config)};\n`,
    ],
    "/supabase.js": ["text/javascript", await supabaseJsBundle()],
    "/app.js": ["text/javascript", await Deno.readTextFile(new URL("app.js", APP_DIR))],
  };
  const page = await Deno.readTextFile(new URL("index.html", APP_DIR));
  const server = Deno.serve({
    hostname: origin.hostname,
    port: Number(origin.port),
    onListen: () => {},
  }, (req) => {
    const path = new URL(req.url).pathname;
    const [type, body] = files[path] ??
      (path === "/" || path === "/connected" ? ["text/html; charset=utf-8", page] : []);
    if (req.method !== "GET" || !body) return new Response("not found", { status: 404 });
    return new Response(body, { headers: { "Content-Type": type!, "Cache-Control": "no-store" } });
  });
  return { origin: origin.origin, close: () => server.shutdown() };
}
