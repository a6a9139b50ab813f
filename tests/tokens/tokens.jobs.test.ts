// The schedules: pg_cron runs refresh-due every minute through pg_net with the
// project URL and service key from Vault (the local stack delivers the net
// queue, so the call really happens), and the cleanup daily in SQL.
import assert from "node:assert/strict";
import { RefreshDueResult } from "../../shared/tokens/schemas.ts";
import { parsed } from "../helpers/assert.ts";
import { createUser, SECRET_KEY, SERVICE_ROLE_KEY, sql, test } from "../helpers/stack.ts";
import { connect, makeDue, provider, refreshLogs } from "../oauth/flow.ts";

test("pg_cron schedules refresh-due every minute and the cleanup daily", async () => {
  const jobs = await sql`select jobname::text as name, schedule, command, active from cron.job
                          where jobname in ('tokens-refresh-due', 'oauth-cleanup')
                          order by jobname`;
  assert.deepEqual(jobs.map((j) => [j.name, j.schedule, j.command, j.active]), [
    ["oauth-cleanup", "17 3 * * *", "select private.cleanup_oauth_data()", true],
    ["tokens-refresh-due", "* * * * *", "select private.enqueue_token_refresh()", true],
  ]);
});

// The job sends whatever key Vault holds as `service_role_key`: the project's
// secret key (sb_secret_…, what the stack stores) or the legacy service_role
// JWT; refresh-due accepts both.
async function useVaultServiceKey(key: string) {
  await sql`select vault.update_secret(id, ${key}) from vault.decrypted_secrets
             where name = 'service_role_key'`;
}

for (const [label, key] of [["a secret key", SECRET_KEY], ["the legacy JWT", SERVICE_ROLE_KEY]]) {
  test(`the refresh job's command reaches refresh-due with ${label} from Vault`, async () => {
    await useVaultServiceKey(key);
    try {
      const user = await createUser("cron");
      const { token, email } = await connect(user);
      await makeDue(token.id, 120, { scheduler: true });
      // Exactly what pg_cron runs each minute.
      const [{ id }] = await sql`select private.enqueue_token_refresh() as id`;
      let response;
      for (let i = 0; i < 100 && !response; i++) {
        [response] = await sql`select status_code, content from net._http_response
                                where id = ${id}`;
        if (!response) await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(response, "the queued request was delivered");
      assert.equal(response.status_code, 200, response.content);
      const summary = parsed(RefreshDueResult, {
        status: response.status_code,
        body: JSON.parse(response.content),
      });
      assert.equal(summary.errors, 0);
      assert.equal(typeof summary.claimed, "number");
      // The due token was refreshed once, as scheduled work (by this call or
      // by the minute's own run, whichever came first).
      const logs = await refreshLogs(token.id);
      assert.deepEqual(logs.map((l) => [l.refresh_type, l.status]), [["scheduled", "success"]]);
      assert.equal((await provider.seen(email)).refresh_grants, 1);
    } finally {
      await useVaultServiceKey(SECRET_KEY);
    }
  });
}

test("the cleanup job's command runs as plain SQL", async () => {
  const [{ result }] = await sql`select private.cleanup_oauth_data() as result`;
  assert.deepEqual(Object.keys(result).sort(), [
    "expired_states",
    "old_refresh_logs",
    "revoked_tokens",
    "stray_secrets",
  ]);
});

test("the refresh job has run on its own schedule in this stack", async () => {
  // pg_cron fires at each minute boundary; the stack has been up for a while
  // by the time the suites get here. Wait for up to two boundaries if not.
  const runs = () =>
    sql`select d.status, d.return_message, d.start_time from cron.job_run_details d
          join cron.job j using (jobid)
         where j.jobname = 'tokens-refresh-due' order by d.start_time`;
  let seen = await runs();
  // A run before the stack stored its Vault secrets fails, as on a project
  // whose operator has not created them yet: wait for one that succeeds.
  for (let i = 0; i < 130 && !seen.some((r) => r.status === "succeeded"); i++) {
    await new Promise((r) => setTimeout(r, 1000));
    seen = await runs();
  }
  const cronBackends = await sql`
    select state, wait_event_type, wait_event, left(query, 80) as query from pg_stat_activity
     where application_name = 'pg_cron' or query like '%enqueue_token_refresh%'`;
  assert.ok(seen.length >= 1, `pg_cron ran tokens-refresh-due; ${JSON.stringify(cronBackends)}`);
  assert.ok(seen.some((r) => r.status === "succeeded"), JSON.stringify(seen));
});
