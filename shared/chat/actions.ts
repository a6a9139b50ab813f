// Deciding a pending action (a write the agent asked for that leaves the
// user's account). Confirm: one round trip as the user claims it (pending and
// unexpired becomes running, under RLS, so only its owner can and only once),
// the operation runs with the user's rights, one service round trip records
// the outcome on the action and its tool message. A confirm that finds it
// decided answers what is stored: the operation never runs twice.
// Reject: the user's round trip marks it rejected, the service's settles the
// message. Every write of an outcome names the state it leaves (store.ts), so
// concurrent requests never overwrite each other's.
import type { UserPrincipal } from "../auth/principal.ts";
import { queryAsService, queryAsUser } from "../db/client.ts";
import { AppError, notFound } from "../core/errors.ts";
import { log } from "../core/log.ts";
import { OUTBOUND_BUDGET_MS } from "../platform.ts";
import type { Message } from "../sessions/schemas.ts";
import type { Toolbox } from "./tools/catalog.ts";
import { toolError } from "./tools/execute.ts";
import { errorForModel, resultForModel } from "./tools/results.ts";
import type { PendingAction } from "./tools/schemas.ts";
import {
  type ActionOutcome,
  claimAction,
  current,
  rejectAction,
  settleAction,
} from "./tools/store.ts";

export type Decision = { action: PendingAction; message: Message };

const RESULT_MAX_CHARS = 12_000;

// The action as it stands after a settle.
async function settle(
  id: string,
  outcome: ActionOutcome,
  from: PendingAction["status"][],
): Promise<Decision> {
  const results = await queryAsService(...settleAction(id, outcome, from));
  const [[action], [message]] = results.slice(-2) as [PendingAction[], Message[]];
  return { action, message };
}

// One round trip as the user: [decided by this request], [now], [message].
async function decideAsUser(
  user: UserPrincipal,
  statements: ReturnType<typeof claimAction>,
): Promise<{ decided: boolean; now: Decision }> {
  const [decided, [action], [message]] = await queryAsUser(user, ...statements) as [
    PendingAction[],
    PendingAction[],
    Message[],
  ];
  if (!action) throw notFound("action");
  return { decided: decided.length > 0, now: { action, message } };
}

const EXPIRED: ActionOutcome = {
  status: "expired",
  result: null,
  errorCode: "confirmation_expired",
  errorMessage: "the action was not confirmed before it expired; nothing was done",
  content: errorForModel({
    code: "confirmation_expired",
    message: "the user did not confirm in time; nothing was done",
  }, RESULT_MAX_CHARS),
};

// What a confirm answers for an action it did not claim.
async function answerDecided(d: Decision): Promise<Decision> {
  const { action } = d;
  switch (action.status) {
    case "completed":
    case "failed":
      return d;
    case "pending": {
      // Still pending yet not claimable: its time is up. Recorded, unless
      // someone decided it meanwhile.
      const now = await settle(action.id, EXPIRED, ["pending"]);
      return now.action.status === "pending" ? now : await answerDecided(now);
    }
    case "expired":
      throw new AppError(
        "action_expired",
        "this action expired before it was confirmed; nothing was done. Ask the agent again.",
        { status: action.status, expires_at: action.expires_at },
      );
    case "running":
      throw new AppError(
        "action_in_progress",
        "this action is being carried out; read it again shortly (GET /chat/actions/{id})",
        { status: action.status },
        { "Retry-After": "1" },
      );
    default:
      throw new AppError(
        "action_decided",
        `this action is ${action.status}; it cannot be changed`,
        {
          status: action.status,
        },
      );
  }
}

export async function confirmAction(
  user: UserPrincipal,
  toolbox: Toolbox,
  id: string,
  requestId: string,
): Promise<Decision> {
  const { decided, now } = await decideAsUser(user, claimAction(id));
  if (!decided) return await answerDecided(now);
  return await settle(id, await run(user, toolbox, now.action, requestId), ["running"]);
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

const REJECTED: ActionOutcome = {
  status: "rejected",
  result: null,
  errorCode: "rejected_by_user",
  errorMessage: "the user rejected this action; nothing was done",
  content: errorForModel({
    code: "rejected_by_user",
    message: "the user rejected this action; nothing was done",
  }, RESULT_MAX_CHARS),
};

export async function rejectPendingAction(user: UserPrincipal, id: string): Promise<Decision> {
  const { decided, now } = await decideAsUser(user, rejectAction(id));
  if (decided) return await settle(id, REJECTED, ["rejected"]);
  if (now.action.status === "rejected") {
    // Rejecting twice answers the same; a first rejection whose message is
    // not settled yet (a request that died between its two trips) is finished.
    return now.message.status === "pending" ? await settle(id, REJECTED, ["rejected"]) : now;
  }
  throw new AppError(
    "action_decided",
    `this action is ${now.action.status}; it cannot be changed`,
    { status: now.action.status },
  );
}

// One round trip as the user: the action and its message, or 404.
export async function getAction(user: UserPrincipal, id: string): Promise<Decision> {
  const [[action], [message]] = await queryAsUser(user, ...current(id)) as [
    PendingAction[],
    Message[],
  ];
  if (!action) throw notFound("action");
  return { action, message };
}
