// Deciding a pending action (a write the agent asked for that leaves the
// user's account). Confirm: one round trip as the user claims it (pending and
// unexpired becomes running, under RLS, so only its owner can and only once),
// the operation runs with the user's rights, one service round trip records
// the outcome on the action and its tool message. A second confirm finds it
// decided and answers what is stored: the operation never runs twice.
// Reject: the user's round trip marks it rejected, the service's settles the
// message.
import type { UserPrincipal } from "../auth/principal.ts";
import { queryAsService, queryAsUser } from "../db/client.ts";
import { AppError, notFound } from "../http/errors.ts";
import { log } from "../http/log.ts";
import type { Message } from "../sessions/schemas.ts";
import type { Toolbox } from "./tools/catalog.ts";
import { toolError } from "./tools/execute.ts";
import { errorForModel, resultForModel } from "./tools/results.ts";
import type { PendingAction } from "./tools/schemas.ts";
import { type ActionOutcome, claimAction, rejectAction, settleAction } from "./tools/store.ts";
import { OUTBOUND_BUDGET_MS } from "../platform.ts";

export type Decision = { action: PendingAction; message: Message };

type Decided = PendingAction & { decided: boolean };

const RESULT_MAX_CHARS = 12_000;

async function settle(id: string, outcome: ActionOutcome): Promise<Decision> {
  const [[action], [message]] = await queryAsService(...settleAction(id, outcome));
  return { action: action as PendingAction, message: message as Message };
}

async function expire(id: string): Promise<never> {
  const { action } = await settle(id, {
    status: "expired",
    result: null,
    errorCode: "confirmation_expired",
    errorMessage: "the action was not confirmed before it expired; nothing was done",
    content: errorForModel({
      code: "confirmation_expired",
      message: "the user did not confirm in time; nothing was done",
    }, RESULT_MAX_CHARS),
  });
  throw new AppError(
    "action_expired",
    "this action expired before it was confirmed; nothing was done. Ask the agent again.",
    { status: action.status, expires_at: action.expires_at },
  );
}

function alreadyDecided(action: PendingAction): AppError {
  return new AppError("action_decided", `this action is ${action.status}; it cannot be changed`, {
    status: action.status,
  });
}

export async function confirmAction(
  user: UserPrincipal,
  toolbox: Toolbox,
  id: string,
  requestId: string,
): Promise<Decision> {
  const [[row], [message]] = await queryAsUser(user, ...claimAction(id)) as [
    Decided[],
    Message[],
  ];
  if (!row) throw notFound("action");
  const { decided, ...action } = row;
  if (!decided) {
    // Confirming what is already done answers the stored outcome (idempotent).
    if (action.status === "completed" || action.status === "failed") return { action, message };
    if (action.status === "pending") return await expire(id);
    if (action.status === "running") {
      throw new AppError(
        "action_in_progress",
        "this action is being carried out; read it again shortly",
        { status: action.status },
        { "Retry-After": "1" },
      );
    }
    throw alreadyDecided(action);
  }
  return await settle(id, await run(user, toolbox, action, requestId));
}

async function run(
  user: UserPrincipal,
  toolbox: Toolbox,
  action: PendingAction,
  requestId: string,
): Promise<ActionOutcome> {
  const op = toolbox.operations[action.operation];
  const caller = {
    userId: user.userId,
    principal: user,
    requestId,
    signal: AbortSignal.timeout(OUTBOUND_BUDGET_MS),
  };
  try {
    if (!op) throw new AppError("service_unavailable", "this operation is not available");
    const output = await op.run(caller, op.input.parse(action.arguments));
    return {
      status: "completed",
      result: output ?? null,
      errorCode: null,
      errorMessage: null,
      content: resultForModel(op, output, RESULT_MAX_CHARS),
    };
  } catch (err) {
    const error = toolError(err, caller, action.operation);
    log("warn", "chat action failed", {
      request_id: requestId,
      action_id: action.id,
      code: error.code,
    });
    return {
      status: "failed",
      result: null,
      errorCode: error.code,
      errorMessage: error.message,
      content: errorForModel(error, RESULT_MAX_CHARS),
    };
  }
}

export async function rejectPendingAction(user: UserPrincipal, id: string): Promise<Decision> {
  const [[row], [message]] = await queryAsUser(user, ...rejectAction(id)) as [
    Decided[],
    Message[],
  ];
  if (!row) throw notFound("action");
  const { decided, ...action } = row;
  if (!decided) {
    // Rejecting twice answers the same.
    if (action.status === "rejected") return { action, message };
    throw alreadyDecided(action);
  }
  return await settle(id, {
    status: "rejected",
    result: null,
    errorCode: "rejected_by_user",
    errorMessage: "the user rejected this action; nothing was done",
    content: errorForModel({
      code: "rejected_by_user",
      message: "the user rejected this action; nothing was done",
    }, RESULT_MAX_CHARS),
  });
}
