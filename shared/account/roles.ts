// Use cases of the role routes (routes/api-key-role-*.ts): what a database
// refusal of a role write means to the caller.
import { AppError } from "../core/errors.ts";

// A unique name taken (23505), or keys still referencing a role (23503).
export function roleConflict(err: unknown): unknown {
  const code = (err as { code?: unknown })?.code;
  if (code === "23505") return new AppError("conflict", "you already have a role of that name");
  if (code === "23503") {
    return new AppError(
      "conflict",
      "API keys still reference this role: change or revoke them first",
    );
  }
  return err;
}
