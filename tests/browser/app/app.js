// The app page of the browser tests: what a user's app does to connect an
// account, with supabase-js's browser build. The signed-in user's access
// token is in localStorage (the test signs in by putting it there); the
// project's URL and publishable key come from /config.js.
const { supabaseUrl, supabaseKey } = globalThis.OPRINA_CONFIG;
const result = document.getElementById("result");
const button = document.getElementById("connect");
const both = document.getElementById("connect-both");

function show(state, text) {
  result.dataset.state = state;
  result.textContent = text;
}

function client() {
  const accessToken = localStorage.getItem("oprina.access_token");
  if (!accessToken) return null;
  return globalThis.supabase.createClient(supabaseUrl, supabaseKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    global: { headers: { Authorization: `Bearer ${accessToken}` } },
  });
}

// functions.invoke reports a non-2xx answer as an error whose context is the
// Response; anything else (CORS, network) as a plain error.
async function failure(error) {
  const res = error?.context;
  if (res && typeof res.json === "function") {
    const body = await res.json().catch(() => ({}));
    return `${res.status} ${body?.error?.code ?? "unknown"}`;
  }
  return `${error?.name ?? "Error"}: ${error?.message ?? error}`;
}

async function connect(supabase, services) {
  show("working", "Starting…");
  const { data, error } = await supabase.functions.invoke("oauth/authorize", {
    body: { provider: "dev", services, redirect_to: `${location.origin}/connected` },
  });
  if (error) return show("error", `authorize failed: ${await failure(error)}`);
  location.assign(data.authorization_url);
}

// Back from the provider: finish as the signed-in user.
async function complete(supabase, q) {
  show("working", "Finishing…");
  const { data, error } = await supabase.functions.invoke("oauth/complete", {
    body: { completion: q.get("completion") },
  });
  if (error) return show("refused", `refused: ${await failure(error)}`);
  // partial: connected, without what the person unticked at consent.
  const missing = Object.keys(data.token.missing_access);
  show(
    data.status,
    `${data.status}: ${data.provider} ${data.token.provider_email} ${data.token.id}` +
      (missing.length ? ` missing ${missing.join(",")}` : ""),
  );
}

const supabase = client();
if (supabase) {
  document.getElementById("session").textContent = "Signed in.";
  button.disabled = false;
  both.disabled = false;
  button.addEventListener("click", () => connect(supabase, ["gmail"]));
  both.addEventListener("click", () => connect(supabase, ["gmail", "calendar:read"]));
  const q = new URLSearchParams(location.search);
  if (q.get("status") === "authorized" || q.get("status") === "partial") {
    complete(supabase, q);
  } else if (q.get("status") === "error") {
    show("error", `error: ${q.get("code")} ${q.get("reason") ?? ""}`);
  }
}
