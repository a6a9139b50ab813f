-- Explicit grants for service_role. Since 2026-10-30 a new table in `public`
-- is granted to no API role, service_role included (before, every table came
-- with ALL for anon, authenticated and service_role, and the earlier
-- migrations only narrowed authenticated's share). service_role bypasses RLS
-- but still needs table privileges, so the service work (chat replies, the
-- OAuth callback, the refresh worker, revocation, account deletion, the admin
-- views) gets exactly what it does, and nothing more: no TRUNCATE, no
-- REFERENCES or TRIGGER, and no DELETE where the service never deletes.
-- Writes the service makes through SECURITY DEFINER functions (activities,
-- rate limits, token secrets, session totals, user deletion) need none.

grant select on public.profiles to service_role;
grant select, update on public.chat_sessions to service_role;
grant select, insert, update on public.messages to service_role;
grant select, insert, update, delete on public.idempotency_keys to service_role;
grant select, insert, update, delete on public.service_tokens to service_role;
grant select, insert, delete on public.oauth_states to service_role;
grant select, insert on public.token_refresh_logs to service_role;
grant usage on sequence public.token_refresh_logs_id_seq to service_role;

-- anon gets nothing from any table: every route needs a signed-in caller or a
-- key, and the Data API must not serve the public schema to anonymous callers.
