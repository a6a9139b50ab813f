-- Chat's writes leave in one message (one round trip): the user's message,
-- the pending reply and the Idempotency-Key record. Postgres runs such a
-- message as one implicit transaction, so when a concurrent request holds the
-- key, the record's statement must fail for the message's earlier rows to be
-- rolled back: this raises that failure, with a code of its own.
create or replace function private.idempotency_key_taken() returns integer
language plpgsql volatile set search_path = '' as $$
begin
  raise exception 'a request with this Idempotency-Key is already running'
    using errcode = 'IK409';
end $$;
revoke all on function private.idempotency_key_taken() from public, anon, authenticated;
grant execute on function private.idempotency_key_taken() to service_role;
comment on function private.idempotency_key_taken() is
  'Raises IK409; chat uses it to roll back a send whose Idempotency-Key another request took.';
