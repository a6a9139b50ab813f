-- A narrow scope for vending provider tokens (issue 14). `tokens:access` lets
-- a key (say, a voice agent's) fetch a fresh access token for its owner and
-- nothing else; `tokens:write` (revoke, refresh, start OAuth flows) no longer
-- implies it. Keys that vended tokens before keep doing so: every key with
-- tokens:write gains tokens:access here, once.
alter table public.api_keys drop constraint api_keys_scopes_check;
alter table public.api_keys add constraint api_keys_scopes_check check (
  cardinality(scopes) between 1 and 16 and scopes <@ array[
    'sessions:read', 'sessions:write', 'chat:write', 'tokens:read', 'tokens:write',
    'tokens:access', 'account:read', 'account:write', 'webhooks:read', 'webhooks:write'
  ]::text[]
);

update public.api_keys set scopes = scopes || array['tokens:access']
 where 'tokens:write' = any(scopes) and not 'tokens:access' = any(scopes);
