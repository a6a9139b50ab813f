// The schedules: pg_cron queues the delivery worker every minute through
// pg_net with the service key from Vault, and purges old events daily.
import assert from "node:assert/strict";
import { createUser, sql, test } from "../helpers/stack.ts";
import { connect } from "../oauth/flow.ts";
import { deliveries, receiver, registerEndpoint } from "./support.ts";

test("pg_cron runs the delivery worker every minute and purges events daily", async () => {
  const jobs = await sql`select jobname::text as name, schedule, command, active from cron.job
                          where jobname in ('webhooks-deliver', 'connection-events-purge')
                          order by jobname`;
  assert.deepEqual(
    jobs.map((j) => [j.name, j.schedule, j.command, j.active]),
    [
      ["connection-events-purge", "27 3 * * *", "select private.purge_connection_events(90)", true],
      [
        "webhooks-deliver",
        "* * * * *",
        "select private.enqueue_service_call('/functions/v1/webhooks/deliver')",
        true,
      ],
    ],
  );
});

test("the job's command reaches the worker with the service key, which delivers what is due", async () => {
  const user = await createUser("wh-cron");
  const { endpoint, inbox } = await registerEndpoint(user, "cron");
  await connect(user);
  const [job] = await sql`select command from cron.job where jobname = 'webhooks-deliver'`;
  // Exactly what the job runs.
  const [{ id }] = await sql.unsafe(`select ${job.command.replace(/^select /, "")} as id`);
  let response;
  for (let i = 0; i < 100 && !response; i++) {
    [response] = await sql`select status_code, content from net._http_response where id = ${id}`;
    if (!response) await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(response, "the queued request was delivered");
  assert.equal(response.status_code, 200, response.content);
  assert.deepEqual(Object.keys(JSON.parse(response.content)).sort(), [
    "claimed",
    "delivered",
    "errors",
    "failed",
    "ms",
    "retrying",
  ]);
  // That run, or another worker's, delivered the event.
  for (let i = 0; i < 100; i++) {
    const [row] = await deliveries(endpoint.id);
    if (row.status === "delivered") break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const [row] = await deliveries(endpoint.id);
  assert.equal(row.status, "delivered");
  const [got] = await receiver.received(inbox);
  assert.equal(got.verified, true);
});
