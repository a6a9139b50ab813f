// Public routes (health, the OpenAPI document, the docs page, the OAuth
// providers and callback) are limited per client address, and health asks the
// database at most once per cache window. A gateway of its own runs with a
// small public limit and reaches Postgres through a relay that counts the
// health check's statements. Clients speak from loopback addresses of their
// own (curl --interface): the gateway puts the socket's address first in
// X-Forwarded-For, as hosted Supabase does with the client's, so the test
// takes the same path a deployed function does.
import assert from "node:assert/strict";
import { startGateway } from "../helpers/gateway.ts";
import { API_URL, test } from "../helpers/stack.ts";

const PUBLIC_LIMIT = 5;
const WINDOW_SECONDS = 60;
const port = Number(new URL(API_URL).port) + 21;
const base = `http://127.0.0.1:${port}/functions/v1`;

// Forwards Postgres connections and counts the health check's statement.
function startRelay(target: URL) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen = { healthChecks: 0 };
  const needle = new TextEncoder().encode("select 1");
  const count = (chunk: Uint8Array) => {
    for (let i = 0; i + needle.length <= chunk.length; i++) {
      if (needle.every((b, j) => chunk[i + j] === b)) seen.healthChecks++;
    }
  };
  (async () => {
    for await (const client of listener) {
      const server = await Deno.connect({ hostname: target.hostname, port: Number(target.port) });
      const upstream = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          count(chunk);
          controller.enqueue(chunk);
        },
      });
      client.readable.pipeThrough(upstream).pipeTo(server.writable).catch(() => {});
      server.readable.pipeTo(client.writable).catch(() => {});
    }
  })().catch(() => {});
  return { port: (listener.addr as Deno.NetAddr).port, seen, close: () => listener.close() };
}

const dbUrl = new URL(Deno.env.get("SUPABASE_DB_URL")!);
const relay = startRelay(dbUrl);
const relayedUrl = new URL(dbUrl);
relayedUrl.port = String(relay.port);

const gateway = await startGateway(port, {
  SUPABASE_DB_URL: relayedUrl.href,
  RATE_LIMIT_PUBLIC: `${PUBLIC_LIMIT}/${WINDOW_SECONDS}`,
  // Longer than this file runs, so "twice within the window" needs no clock.
  HEALTH_CACHE_SECONDS: "600",
});

// A loopback address no other test speaks from, so its bucket is this test's.
const freshAddress = () =>
  `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${
    2 + Math.floor(Math.random() * 250)
  }`;

type Answer = { status: number; retryAfter: string; limit: string; remaining: string };

// GETs each path over one curl process speaking from `address`.
async function fromAddress(
  address: string,
  paths: string[],
  headers: string[] = [],
): Promise<Answer[]> {
  const format = "%{http_code} %header{retry-after}|%header{ratelimit-limit}|" +
    "%header{ratelimit-remaining}\\n";
  const args = ["-s", "--interface", address, ...headers.flatMap((h) => ["-H", h])];
  for (const path of paths) args.push("-o", "/dev/null", "-w", format, `${base}${path}`);
  const out = await new Deno.Command("curl", { args, stdout: "piped" }).output();
  assert.equal(out.code, 0, `curl from ${address}`);
  return new TextDecoder().decode(out.stdout).trim().split("\n").map((line) => {
    const [status, rest] = line.split(" ");
    const [retryAfter, limit, remaining] = (rest ?? "").split("|");
    return { status: Number(status), retryAfter, limit, remaining };
  });
}

// Keeps a burst inside one fixed window.
async function awaitFreshWindow() {
  const intoWindow = (Date.now() / 1000) % WINDOW_SECONDS;
  if (WINDOW_SECONDS - intoWindow < 15) {
    await new Promise((r) => setTimeout(r, (WINDOW_SECONDS - intoWindow + 0.5) * 1000));
  }
}

// First in this file: the gateway's health has not been asked yet.
test("health asks the database once per cache window, however often it is called", async () => {
  const before = relay.seen.healthChecks;
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    // Fresh addresses: the public limit is not what is under test here.
    const answers = await fromAddress(freshAddress(), ["/sessions/health", "/sessions/health"]);
    statuses.push(...answers.map((a) => a.status));
  }
  assert.deepEqual(statuses, Array(8).fill(200));
  assert.equal(relay.seen.healthChecks - before, 1, "health checks that reached Postgres");
});

test("public routes: the N+1th request from one address is 429, another address is served", async () => {
  await awaitFreshWindow();
  const crowd = freshAddress();
  const paths = [
    "/sessions/health",
    "/oauth/providers",
    "/oauth/openapi.json",
    "/tokens/docs",
    "/oauth/callback/dev", // no state: 400, and it counts
    "/sessions/health",
  ];
  const answers = await fromAddress(crowd, paths);
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 400, 429]);
  assert.deepEqual(
    answers.map((a) => a.remaining),
    ["4", "3", "2", "1", "0", "0"],
    "each answer says what is left",
  );
  assert.ok(answers.every((a) => a.limit === String(PUBLIC_LIMIT)));
  const retryAfter = Number(answers[5].retryAfter);
  assert.ok(retryAfter >= 1 && retryAfter <= WINDOW_SECONDS, `Retry-After ${retryAfter}`);

  // A forged X-Forwarded-For does not buy a new bucket: the platform's entry is first.
  const [forged] = await fromAddress(crowd, ["/oauth/providers"], [
    `X-Forwarded-For: ${freshAddress()}`,
  ]);
  assert.equal(forged.status, 429);

  const [other] = await fromAddress(freshAddress(), ["/oauth/providers"]);
  assert.equal(other.status, 200);
  assert.equal(other.remaining, String(PUBLIC_LIMIT - 1));
});

test("stop the gateway and the relay", async () => {
  gateway.kill();
  const status = await gateway.status;
  assert.equal(status.signal, "SIGTERM", `the gateway exited early: ${status.code}`);
  relay.close();
});
