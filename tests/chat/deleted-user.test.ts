// A deleted user's JWT stays well signed until it expires. The costly routes
// (a HeyGen token, a chat send) check that its user still exists before
// anything paid runs, and refuse it with 401. The chat app is also built in
// this process with HeyGen pointed at a stand-in that counts its calls.
import assert from "node:assert/strict";
import { parseChatConfig } from "../../shared/chat/config.ts";
import { HeygenToken } from "../../shared/chat/schemas.ts";
import { buildChatApp } from "../../supabase/functions/chat/app.ts";
import { assertError, shaped } from "../helpers/assert.ts";
import { call, createUser, test } from "../helpers/stack.ts";
import { agentSeen, newSession, newTag, send } from "./support.ts";

// HeyGen's create-token API, counting what reaches it.
function countingHeygen() {
  let calls = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    await req.body?.cancel();
    calls++;
    return Response.json({ error: null, data: { token: `counted-${calls}` } });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    calls: () => calls,
    stop: () => server.shutdown(),
  };
}

test("after DELETE /account/me the old JWT gets 401 on HeyGen and chat; HeyGen and the agent see nothing", async () => {
  const heygen = countingHeygen();
  try {
    const app = buildChatApp(
      parseChatConfig({ ...Deno.env.toObject(), HEYGEN_BASE_URL: heygen.url }),
    );
    const heygenToken = (token: string) =>
      app.request("/chat/heygen/token", {
        method: "POST",
        headers: { Authorization: `Bearer ${token}` },
      });
    const user = await createUser("deleted");
    const session = await newSession(user);

    // While the user exists, the same app reaches the stand-in.
    const alive = await heygenToken(user.token);
    assert.equal(alive.status, 200);
    assert.equal(shaped(HeygenToken, await alive.json()).token, "counted-1");
    assert.equal(heygen.calls(), 1);

    assert.equal((await call("DELETE", "/account/me", { token: user.token })).status, 204);

    const gone = await heygenToken(user.token);
    assert.equal(gone.status, 401);
    const body = await gone.json();
    assert.equal(body.error.code, "unauthorized");
    assert.match(body.error.message, /no longer exists/);
    assert.equal(gone.headers.get("www-authenticate"), "Bearer");
    assert.equal(heygen.calls(), 1, "HeyGen saw no call for the deleted user");

    assertError(
      await call("POST", "/chat/heygen/token", { token: user.token }),
      401,
      "unauthorized",
    );
    const tag = newTag();
    const sent = await send(user, session.id, { content: `still there? [[tag=${tag}]]` });
    assertError(sent, 401, "unauthorized");
    assert.equal(await agentSeen(tag), undefined, "the agent saw no call");

    // Another user on the same app is unaffected.
    const other = await createUser("deleted-bystander");
    const theirs = await heygenToken(other.token);
    assert.equal(theirs.status, 200);
    await theirs.body?.cancel();
    assert.equal(heygen.calls(), 2);
  } finally {
    await heygen.stop();
  }
});
