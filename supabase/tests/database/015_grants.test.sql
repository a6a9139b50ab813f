-- The API roles hold exactly the privileges the migrations grant. Hosted
-- projects give no default privileges in `public` since 2026-10-30, so a grant
-- the migrations forget is a grant the API does not have: the matrix below
-- fails on any missing or extra privilege, and the probe table shows that
-- nothing is handed out by default (runs as `postgres`, not a superuser).
-- The API roles: anon and authenticated (the Data API's), service_role, and
-- oprina_api_user (the functions' user transactions, the only one that
-- writes as a user: writes go through the API).
begin;
select plan(7);

-- As on a project: the migrations' owner is not a superuser ----------------

select is(current_user::text, 'postgres', 'the tests run as postgres');
select ok(
  (select not rolsuper and rolcreaterole and rolbypassrls from pg_roles where rolname = 'postgres'),
  'postgres is NOSUPERUSER, CREATEROLE, BYPASSRLS, as on the platform'
);

-- No default privileges -----------------------------------------------------

select is_empty(
  $$ select d.defaclobjtype, r.rolname
       from pg_default_acl d
      cross join aclexplode(d.defaclacl) a
       join pg_roles r on r.oid = a.grantee
      where d.defaclnamespace = 'public'::regnamespace
        and r.rolname in ('anon', 'authenticated', 'service_role', 'oprina_api_user') $$,
  'no default privileges in public for any API role'
);

create table public.grant_probe (id bigint generated always as identity primary key, note text);
select is_empty(
  $$ select r.rolname, a.privilege_type
       from pg_class c
      cross join aclexplode(c.relacl) a
       join pg_roles r on r.oid = a.grantee
      where c.oid in ('public.grant_probe'::regclass, 'public.grant_probe_id_seq'::regclass)
        and r.rolname in ('anon', 'authenticated', 'service_role', 'oprina_api_user') $$,
  'a table postgres creates now is granted to no API role, service_role included'
);
select tests.authenticate_as_service_role();
select throws_ok(
  $$ insert into public.grant_probe (note) values ('x') $$,
  '42501', null,
  'service_role cannot write a table no migration granted to it'
);
select tests.clear_authentication();

-- The whole matrix, table by table ---------------------------------------------
-- If this fails after a migration, the migration changed who may do what:
-- update the list only if that was the intent.

select is(
  array(
    select format('%s %s %s', c.relname, r.rolname,
                  string_agg(a.privilege_type, ',' order by a.privilege_type))
      from pg_class c
     cross join aclexplode(c.relacl) a
      join pg_roles r on r.oid = a.grantee
     where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'v', 'm', 'S', 'p')
       and c.relname <> 'grant_probe'
       and r.rolname in ('anon', 'authenticated', 'service_role', 'oprina_api_user')
     group by c.relname, r.rolname
     order by 1
  ),
  array[
    'api_key_roles oprina_api_user DELETE',
    'api_key_roles service_role SELECT',
    'api_key_usage authenticated SELECT',
    'api_key_usage service_role SELECT',
    'chat_pending_actions authenticated SELECT',
    'chat_pending_actions service_role INSERT,SELECT,UPDATE',
    'chat_sessions authenticated SELECT',
    'chat_sessions oprina_api_user DELETE',
    'chat_sessions service_role SELECT,UPDATE',
    'connection_events authenticated SELECT',
    'connection_events service_role SELECT',
    'idempotency_keys authenticated SELECT',
    'idempotency_keys service_role DELETE,INSERT,SELECT,UPDATE',
    'messages authenticated SELECT',
    'messages service_role INSERT,SELECT,UPDATE',
    'oauth_states service_role DELETE,INSERT,SELECT',
    'profiles authenticated SELECT',
    'profiles service_role SELECT',
    'service_tokens authenticated SELECT',
    'service_tokens service_role DELETE,INSERT,SELECT,UPDATE',
    'session_totals authenticated SELECT',
    'token_refresh_logs authenticated SELECT',
    'token_refresh_logs service_role INSERT,SELECT',
    'token_refresh_logs_id_seq service_role USAGE',
    'user_activities authenticated SELECT',
    'webhook_deliveries authenticated SELECT',
    'webhook_deliveries service_role SELECT,UPDATE',
    'webhook_endpoints authenticated SELECT',
    'webhook_endpoints oprina_api_user DELETE',
    'webhook_endpoints service_role DELETE,INSERT,SELECT,UPDATE'
  ],
  'table privileges of the API roles in public are exactly the granted ones'
);

select is(
  array(
    select format('%s %s %s (%s)', c.relname, r.rolname, a.privilege_type,
                  string_agg(att.attname, ',' order by att.attname))
      from pg_attribute att
      join pg_class c on c.oid = att.attrelid
     cross join aclexplode(att.attacl) a
      join pg_roles r on r.oid = a.grantee
     where c.relnamespace = 'public'::regnamespace
       and r.rolname in ('anon', 'authenticated', 'service_role', 'oprina_api_user')
     group by c.relname, r.rolname, a.privilege_type
     order by 1
  ),
  array[
    'api_key_roles authenticated SELECT (created_at,description,id,name,scopes,updated_at,user_id)',
    'api_key_roles oprina_api_user INSERT (description,name,scopes)',
    'api_key_roles oprina_api_user UPDATE (description,name,scopes)',
    'api_keys authenticated SELECT (created_at,credits_refill_amount,credits_refill_day,credits_refill_interval,credits_refilled_at,credits_remaining,expires_at,external_id,id,last_used_at,limits,meta,name,prefix,previous_expires_at,revoked_at,role_id,scopes,updated_at,user_id)',
    'api_keys oprina_api_user INSERT (credits_refill_amount,credits_refill_day,credits_refill_interval,credits_remaining,expires_at,external_id,key_hash,limits,meta,name,prefix,role_id,scopes)',
    'api_keys oprina_api_user UPDATE (credits_refill_amount,credits_refill_day,credits_refill_interval,credits_refilled_at,credits_remaining,expires_at,external_id,key_hash,limits,meta,name,prefix,previous_expires_at,revoked_at,role_id,scopes)',
    'chat_pending_actions oprina_api_user UPDATE (decided_at,status)',
    'chat_sessions oprina_api_user INSERT (agent_config,agent_type,context_data,status,title)',
    'chat_sessions oprina_api_user UPDATE (agent_config,agent_type,context_data,status,title)',
    'messages oprina_api_user INSERT (content,content_type,id,metadata,parent_message_id,role,session_id)',
    'messages oprina_api_user UPDATE (avatar_session_id,has_avatar_response,has_voice_response,voice_response_url)',
    'oauth_states authenticated SELECT (created_at,expires_at,id,provider,redirect_to,services,user_id)',
    'profiles oprina_api_user UPDATE (avatar_url,display_name,preferences,timezone)',
    'webhook_endpoints oprina_api_user INSERT (description,event_types,url)',
    'webhook_endpoints oprina_api_user UPDATE (description,disabled_reason,enabled,event_types)'
  ],
  'column privileges of the API roles in public are exactly the granted ones'
);

select * from finish();
rollback;
