-- Tool rounds in the agent's history (issue 15's gap): a later turn sends the
-- agent the earlier turns' tool rounds in OpenAI's order (the assistant message
-- carrying tool_calls, then one role tool message per call, ..., then the
-- answer). The tool messages already hold each call (tool_call_id, tool_name,
-- tool_arguments) and its result; what the assistant message of a round needs
-- beyond them is which calls were asked together and what the agent said
-- beside them.

alter table public.messages
  add column tool_round smallint check (tool_round between 1 and 100),
  add column tool_round_content text check (char_length(tool_round_content) <= 100000),
  -- Only tool messages belong to a round. Tool messages stored before rounds
  -- were numbered have none: the history reads a turn's unnumbered calls as
  -- one round (one assistant message with all of them, which is valid too).
  add constraint messages_tool_round_fields check (
    role = 'tool' or (tool_round is null and tool_round_content is null)
  );
comment on column public.messages.tool_round is
  'role tool: the round of its turn the call was made in (1 first): the calls of a round were '
  'asked for in one assistant message (their order is message_index). Null for tool messages '
  'stored before rounds were numbered, and for every other role.';
comment on column public.messages.tool_round_content is
  'role tool: what the agent said beside the round''s calls (the content of the assistant '
  'message that carried them), on the round''s first tool message only; null when it said '
  'nothing.';
