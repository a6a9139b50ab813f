// Debian's Chromium (apt package `chromium`, which scripts/test.sh installs)
// driven by playwright-core: Playwright's own browser download cannot reach
// its host. A missing browser fails the test; it is never skipped.
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

// Bounds: a broken page fails in seconds.
export const STEP_TIMEOUT_MS = 8_000;
const LAUNCH_TIMEOUT_MS = 20_000;
const CLOSE_TIMEOUT_MS = 5_000;

async function launch(): Promise<Browser> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `${CHROMIUM} is missing: scripts/test.sh installs it (apt-get install chromium)`,
    );
  }
  return await chromium.launch({
    executablePath: CHROMIUM,
    timeout: LAUNCH_TIMEOUT_MS,
    // Root in a container: no sandbox. The closed network: nothing in the
    // background that would call out.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

// Runs fn with a fresh browser, closed afterwards whatever happens; fails
// after `deadlineMs` even if something inside waits without a timeout.
export async function withBrowser<T>(
  fn: (browser: Browser) => Promise<T>,
  deadlineMs = 60_000,
): Promise<T> {
  const browser = await launch();
  let timer: number | undefined;
  try {
    return await Promise.race([
      fn(browser),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the browser test took over ${deadlineMs} ms`)),
          deadlineMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
    await Promise.race([
      browser.close(),
      new Promise((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS)),
    ]);
  }
}

// What crossed the network, as Chromium saw it: CORS preflights are visible
// only through the DevTools protocol (Playwright's request events leave them
// out), as responses of type "Preflight".
export type Exchange = {
  method: string;
  url: string;
  status: number;
  headers: Record<string, string>;
};

export type Session = {
  context: BrowserContext;
  page: Page;
  preflights: Exchange[];
  responses: Exchange[];
  // The page's console, errors and failed requests, for failure messages.
  log: string[];
};

const lower = (headers: Record<string, string>) =>
  Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));

// A separate browser context (its own storage: one person's browser) with one
// page whose network and console are recorded.
export async function openSession(browser: Browser): Promise<Session> {
  const context = await browser.newContext();
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();
  const session: Session = { context, page, preflights: [], responses: [], log: [] };
  const methods = new Map<string, string>();
  const cdp = await context.newCDPSession(page);
  cdp.on("Network.requestWillBeSent", (e) => methods.set(e.requestId, e.request.method));
  cdp.on("Network.responseReceived", (e) => {
    const exchange = {
      method: methods.get(e.requestId) ?? "?",
      url: e.response.url,
      status: e.response.status,
      headers: lower(e.response.headers),
    };
    if (e.type === "Preflight") session.preflights.push(exchange);
    else session.responses.push(exchange);
  });
  await cdp.send("Network.enable");
  page.on("console", (m) => session.log.push(`console.${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => session.log.push(`pageerror: ${e.message}`));
  page.on("requestfailed", (r) => {
    session.log.push(`requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`);
  });
  return session;
}
