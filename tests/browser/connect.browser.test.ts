// The OAuth connect flow in a real browser (issue 12): Debian's Chromium,
// driven by playwright-core, runs an app page on an allow-listed origin that
// calls the functions with supabase-js's browser build, so the real CORS
// preflights happen. A person connects the dev provider on its consent page;
// a victim lured through an attacker's authorization URL, in a browser
// context of their own, connects nothing for anybody, and the grant is
// revoked. tests/oauth/ drives the same flows with fetch.
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { AccessToken, TokenPage } from "../../shared/tokens/schemas.ts";
import { parsed } from "../helpers/assert.ts";
import { call, createUser, FUNCTIONS_URL, sql, test, type TestUser } from "../helpers/stack.ts";
import { accessToken, authorize, provider, PROVIDER_URL, uniqueEmail } from "../oauth/flow.ts";
import { startApp } from "./app-server.ts";
import { type Exchange, openSession, type Session, withBrowser } from "./chromium.ts";

const counts = async (u: TestUser) => {
  const [row] = await sql`
    select (select count(*) from public.service_tokens where user_id = ${u.id})::int as connections,
           (select count(*) from private.parked_grants where user_id = ${u.id})::int as parked`;
  return row;
};

// Signed in to the app as `user`: the app keeps the session's access token
// in localStorage, as supabase-js does.
async function signIn(s: Session, origin: string, user: TestUser) {
  await s.page.goto(`${origin}/`);
  await s.page.evaluate((t) => localStorage.setItem("oprina.access_token", t), user.token);
  await s.page.reload();
  await s.page.getByText("Signed in.").waitFor();
}

// On the provider's page, as a person: type the mailbox, untick what they
// will not share, click Allow.
async function consentInPage(page: Page, email: string, untick: string[] = []) {
  await page.waitForURL((u) => u.href.startsWith(`${PROVIDER_URL}/authorize?`));
  await page.getByLabel("Sign in as").fill(email);
  for (const scope of untick) await page.getByLabel(scope).uncheck();
  await page.getByRole("button", { name: "Allow" }).click();
}

// Where the app lands and what it shows once it has finished.
async function outcome(page: Page, origin: string) {
  await page.waitForURL((u) => u.origin === origin && u.pathname === "/connected");
  const result = page.locator("#result:not([data-state=idle]):not([data-state=working])");
  await result.waitFor();
  return { state: await result.getAttribute("data-state"), text: await result.textContent() };
}

const fn = (path: string) => `${FUNCTIONS_URL}/${path}`;
const find = (list: Exchange[], method: string, path: string) =>
  list.find((e) => e.method === method && e.url === fn(path));

// The preflight Chromium sent before supabase-js's call, and the call's own
// answer, both allowing the app's origin.
function assertCors(s: Session, origin: string, path: string, status: number) {
  const preflight = s.preflights.find((e) => e.url === fn(path));
  assert.ok(preflight, `a preflight for ${path}: ${JSON.stringify(s.preflights)}`);
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers["access-control-allow-origin"], origin);
  const allowed = (preflight.headers["access-control-allow-headers"] ?? "").toLowerCase();
  for (const h of ["authorization", "apikey", "x-client-info", "content-type"]) {
    assert.ok(allowed.includes(h), `the preflight allows ${h}: ${allowed}`);
  }
  const answer = find(s.responses, "POST", path);
  assert.ok(answer, `the POST to ${path}: ${JSON.stringify(s.responses)}`);
  assert.equal(answer.status, status);
  assert.equal(answer.headers["access-control-allow-origin"], origin);
}

// With what the page said and did, should an assertion fail.
async function explained(s: Session, fn: () => Promise<void>) {
  try {
    await fn();
  } catch (err) {
    const url = s.page.url();
    const text = await s.page.locator("body").innerText({ timeout: 1_000 }).catch(() => "?");
    (err as Error).message += `\n  page: ${url}\n  shows: ${text}\n  ${s.log.join("\n  ")}`;
    throw err;
  }
}

test("Chromium: the connect flow from an app page, and the account-linking attack", async () => {
  const app = await startApp();
  try {
    await withBrowser(async (browser) => {
      const user = await createUser("browser");
      const mailbox = uniqueEmail("browser");
      const person = await openSession(browser);
      await explained(person, async () => {
        await signIn(person, app.origin, user);
        await person.page.getByRole("button", { name: "Connect your dev account" }).click();
        await consentInPage(person.page, mailbox);
        const shown = await outcome(person.page, app.origin);
        assert.equal(shown.state, "connected", shown.text ?? "");
        assert.match(shown.text!, new RegExp(`^connected: dev ${mailbox} [0-9a-f-]{36}$`));
        assertCors(person, app.origin, "oauth/authorize", 200);
        assertCors(person, app.origin, "oauth/complete", 201);
      });
      await person.context.close();
      // The connection is the user's, and usable.
      const list = await call("GET", "/tokens?provider=dev", { token: user.token });
      assert.deepEqual(parsed(TokenPage, list).data.map((t) => t.provider_email), [mailbox]);
      parsed(AccessToken, await accessToken(user, "dev"));
      assert.deepEqual(await counts(user), { connections: 1, parked: 0 });

      // The attack: the attacker starts a flow (no browser needed) and sends
      // its URL; the victim, signed in to the app in a browser of their own,
      // opens it, consents with their mailbox and lands on the app.
      const attacker = await createUser("attacker");
      const victim = await createUser("victim");
      const victimMailbox = uniqueEmail("victim");
      const started = await authorize(attacker, {
        provider: "dev",
        services: ["gmail"],
        redirect_to: `${app.origin}/connected`,
      });
      assert.equal(started.status, 200, JSON.stringify(started.body));
      const lured = await openSession(browser);
      await explained(lured, async () => {
        await signIn(lured, app.origin, victim);
        await lured.page.goto(started.body.authorization_url);
        await consentInPage(lured.page, victimMailbox);
        const shown = await outcome(lured.page, app.origin);
        assert.equal(shown.state, "refused", shown.text ?? "");
        assert.equal(shown.text, "refused: 404 not_found");
        assertCors(lured, app.origin, "oauth/complete", 404);
      });
      await lured.context.close();
      assert.deepEqual(await counts(attacker), { connections: 0, parked: 0 });
      assert.deepEqual(await counts(victim), { connections: 0, parked: 0 });
      assert.equal((await accessToken(attacker, "dev")).status, 404);
      assert.equal((await accessToken(victim, "dev")).status, 404);
      const seen = await provider.seen(victimMailbox);
      assert.equal(seen.authorizations, 1, "the victim did consent");
      assert.equal(seen.active_refresh_tokens, 0, "the grant was revoked at the provider");
      assert.equal(seen.revocations.length, 1);
    });
  } finally {
    await app.close();
  }
});

test("Chromium: a person unticks a scope at consent; the app learns what is missing", async () => {
  const app = await startApp();
  try {
    await withBrowser(async (browser) => {
      const user = await createUser("browser-partial");
      const mailbox = uniqueEmail("browser-partial");
      const person = await openSession(browser);
      await explained(person, async () => {
        await signIn(person, app.origin, user);
        await person.page.getByRole("button", { name: "Connect mail and read your calendar" })
          .click();
        await consentInPage(person.page, mailbox, ["dev.calendar.readonly"]);
        const landed = new URL(person.page.url());
        const shown = await outcome(person.page, app.origin);
        assert.equal(landed.searchParams.get("status"), "partial");
        assert.equal(landed.searchParams.get("missing"), "calendar:read");
        assert.equal(shown.state, "partial", shown.text ?? "");
        assert.match(
          shown.text!,
          new RegExp(`^partial: dev ${mailbox} [0-9a-f-]{36} missing calendar$`),
        );
      });
      await person.context.close();
      const [token] = parsed(TokenPage, await call("GET", "/tokens", { token: user.token })).data;
      assert.deepEqual(token.service_access, { gmail: "write" });
      assert.deepEqual(token.missing_access, { calendar: "read" });
    });
  } finally {
    await app.close();
  }
});
