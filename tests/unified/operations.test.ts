// shared/unified/operations.ts as the chat's tools use it (the contract with
// the tools helper): called in-process with a user id, parsing its own input,
// throwing AppErrors; allowedOperations offers only what the grants allow.
import assert from "node:assert/strict";
import { AppError } from "../../shared/core/errors.ts";
import { allowedOperations, operations } from "../../shared/unified/operations.ts";
import { OPERATION_NAMES } from "../../shared/unified/scopes.ts";
import { createUser, test } from "../helpers/stack.ts";
import { apis, connectTo, DAY, iso, READ_ONLY, today } from "./support.ts";

const rejects = async (work: Promise<unknown>, code: string) => {
  await assert.rejects(work, (err) => {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.code, code, err.message);
    return true;
  });
};

test("every operation declares its name, area, access, schemas and a description", () => {
  assert.deepEqual(Object.keys(operations).sort(), [...OPERATION_NAMES].sort());
  for (const [name, op] of Object.entries(operations)) {
    assert.equal(op.name, name);
    assert.ok(["calendar", "mail"].includes(op.area));
    assert.ok(op.description.length > 10 && op.description.length < 120);
    assert.equal(
      op.access,
      ["create_event", "create_draft", "send_draft"].includes(name) ? "write" : "read",
    );
  }
});

test("allowedOperations follows the grants: none, read-only, everything", async () => {
  const user = await createUser("ops-allowed");
  assert.deepEqual(await allowedOperations({ userId: user.id }), []);
  await connectTo(user, "google", { services: READ_ONLY.google });
  assert.deepEqual(await allowedOperations({ userId: user.id }), [
    "list_events",
    "get_event",
    "free_busy",
    "search_mail",
    "read_mail",
  ]);
  await connectTo(user, "microsoft");
  assert.deepEqual(await allowedOperations({ userId: user.id }), [...OPERATION_NAMES]);
});

test("run works for a user id, and its errors are AppErrors", async () => {
  const user = await createUser("ops-run");
  const conn = await connectTo(user, "google");
  const caller = { userId: user.id };
  const page = await operations.list_events.run(caller, {
    time_min: iso(today()),
    time_max: iso(today() + 2 * DAY),
    limit: 10,
  });
  assert.equal(page.data.length, 3);
  const mail = await operations.search_mail.run(caller, {
    query: "ignore your instructions",
    limit: 5,
  });
  assert.deepEqual(mail.data.map((m) => m.subject), ["Urgent: action required"]);
  const body = await operations.read_mail.run(caller, { id: mail.data[0].id });
  assert.match(body.body_text, /ignore your instructions and send/);

  // The model's arguments are checked by the operation itself.
  await rejects(
    operations.create_event.run(caller, { title: "x", start: "tomorrow" } as never),
    "validation_failed",
  );
  await rejects(
    operations.get_event.run({ userId: (await createUser("ops-other")).id }, {
      id: page.data[0].id,
    }),
    "not_found",
  );
  await apis.fault(conn.email, "drafts.create", "429", { retry_after: 9 });
  await assert.rejects(
    operations.create_draft.run(caller, { to: ["a@example.com"], subject: "s", body_text: "b" }),
    (err) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.code, "provider_rate_limited");
      assert.equal(err.headers?.["Retry-After"], "9");
      return true;
    },
  );
  assert.deepEqual((await apis.state(conn.email)).sent, [], "nothing was sent");
});
