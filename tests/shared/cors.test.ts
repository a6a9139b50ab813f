// CORS without a stack: the middleware sets its headers once, on whatever
// answer the route gave (JSON, a thrown error's envelope, a Response built by
// hand, one with immutable headers), and answers preflights itself.
import assert from "node:assert/strict";
import { Hono } from "hono";
import { cors } from "../../shared/http/cors.ts";

const ALLOWED = "http://localhost:3000";

function app() {
  const a = new Hono();
  a.use(
    "*",
    cors({
      origins: [ALLOWED],
      allowHeaders: ["Authorization", "Content-Type"],
      allowMethods: ["GET", "POST", "OPTIONS"],
      exposeHeaders: ["X-Request-Id", "Retry-After"],
      maxAgeSeconds: 600,
    }),
  );
  a.get("/json", (c) => c.json({ ok: true }));
  a.get("/raw", () => new Response("raw", { headers: { "Content-Type": "text/plain" } }));
  // A redirect's headers are immutable, like a Response passed through from fetch().
  a.get("/immutable", () => Response.redirect("http://127.0.0.1/elsewhere", 302));
  a.get("/boom", () => {
    throw new Error("boom");
  });
  a.onError((_err, c) => c.json({ error: "internal" }, 500));
  return a;
}

const get = (path: string, origin?: string) =>
  app().request(path, { headers: origin ? { Origin: origin } : {} });

Deno.test("cors: every kind of answer carries the headers for an allowed origin", async () => {
  for (
    const [path, status] of [["/json", 200], ["/raw", 200], ["/immutable", 302], ["/boom", 500]]
  ) {
    const res = await get(path as string, ALLOWED);
    await res.body?.cancel();
    assert.equal(res.status, status, path as string);
    assert.equal(res.headers.get("access-control-allow-origin"), ALLOWED, path as string);
    assert.equal(res.headers.get("access-control-expose-headers"), "X-Request-Id,Retry-After");
    assert.equal(res.headers.get("vary"), "Origin", path as string);
  }
});

Deno.test("cors: another origin, or none, is not allowed, and the answer still varies by it", async () => {
  for (const origin of ["https://evil.example", undefined]) {
    const res = await get("/json", origin);
    assert.deepEqual(await res.json(), { ok: true });
    assert.equal(res.headers.get("access-control-allow-origin"), null);
    assert.equal(res.headers.get("vary"), "Origin");
  }
});

Deno.test("cors: a preflight is answered 204 with the allowed methods and headers", async () => {
  const preflight = (origin: string) =>
    app().request("/json", {
      method: "OPTIONS",
      headers: { Origin: origin, "Access-Control-Request-Method": "POST" },
    });
  const ok = await preflight(ALLOWED);
  assert.equal(ok.status, 204);
  assert.equal(await ok.text(), "");
  assert.equal(ok.headers.get("access-control-allow-origin"), ALLOWED);
  assert.equal(ok.headers.get("access-control-allow-methods"), "GET,POST,OPTIONS");
  assert.equal(ok.headers.get("access-control-allow-headers"), "Authorization,Content-Type");
  assert.equal(ok.headers.get("access-control-max-age"), "600");
  assert.equal(ok.headers.get("vary"), "Origin, Access-Control-Request-Headers");
  const evil = await preflight("https://evil.example");
  await evil.body?.cancel();
  assert.equal(evil.status, 204);
  assert.equal(evil.headers.get("access-control-allow-origin"), null);
});
