-- The unified calendar and mail API (issue 15). It keeps no data of its own:
-- events and mail stay at Google and Microsoft, read and written with the
-- connections' tokens. API keys gain its four scopes, so a key can be given
-- calendar or mail rights alone (reading never implies writing).
alter table public.api_keys drop constraint api_keys_scopes_check;
alter table public.api_keys add constraint api_keys_scopes_check check (
  cardinality(scopes) between 1 and 16 and scopes <@ array[
    'sessions:read', 'sessions:write', 'chat:write', 'tokens:read', 'tokens:write',
    'tokens:access', 'account:read', 'account:write', 'webhooks:read', 'webhooks:write',
    'calendar:read', 'calendar:write', 'mail:read', 'mail:write'
  ]::text[]
);
