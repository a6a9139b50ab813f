-- Rate limits are taken by the request middleware, before and apart from the
-- request's own transaction, and in leases: one call may take several hits of
-- a window at once, which the isolate then hands out without a round trip.
-- Every request is counted, whatever it goes on to do, and a refused one runs
-- nothing. Replaces private.rate_limit_hit, which counted inside the request's
-- transaction (so a request that failed and rolled back was never counted,
-- and a route without a transaction was never limited).

-- Takes up to p_want hits of the current fixed window. granted is how many
-- were taken (0: the window is exhausted), remaining what is left for
-- everyone after this call, reset_ms the time to the window's end. Refused
-- demand is still added to hits, which therefore may exceed the limit.
create or replace function private.rate_limit_take(
  p_bucket text, p_class text, p_limit integer, p_window_seconds integer, p_want integer
)
returns table (rate_limit integer, granted integer, remaining integer, reset_ms integer)
language plpgsql security definer set search_path = '' as $$
declare
  started timestamptz := to_timestamp(floor(extract(epoch from now()) / p_window_seconds) * p_window_seconds);
  hits_now integer;
begin
  if p_limit < 1 or p_window_seconds < 1 or p_want < 1 then
    raise exception 'limit, window and want must be positive' using errcode = '22023';
  end if;
  -- A counter lost in a crash only forgives a few requests: no WAL flush wait.
  perform set_config('synchronous_commit', 'off', true);
  insert into private.rate_limits as r (bucket, class, window_start, hits)
  values (p_bucket, p_class, started, p_want)
  on conflict (bucket, class, window_start) do update set hits = r.hits + p_want
  returning r.hits into hits_now;
  return query select
    p_limit,
    greatest(0, least(p_want, p_limit - (hits_now - p_want))),
    greatest(0, p_limit - hits_now),
    greatest(1, ceil(extract(epoch from started + make_interval(secs => p_window_seconds) - now()) * 1000))::integer;
end $$;
revoke all on function private.rate_limit_take(text, text, integer, integer, integer)
  from public, anon, authenticated;
grant execute on function private.rate_limit_take(text, text, integer, integer, integer) to service_role;

drop function private.rate_limit_hit(text, text, integer, integer);
