import { appendAuditEvent } from "../audit/append-audit-event.ts";
import type { Db } from "../db/create-database.ts";

/**
 * An audit event about a run, on its task (so a task's trail tells the whole story): Amistio's
 * own steps, with no person as actor.
 */
export async function auditRun(
  db: Db,
  run: { id: string; task: { id: string; workspaceId: string } },
  action: string,
  data: Record<string, unknown> = {},
  options: { deliveryId?: string | null } = {},
): Promise<void> {
  await appendAuditEvent(db, {
    workspaceId: run.task.workspaceId,
    action,
    target: `task:${run.task.id}`,
    data: { runId: run.id, ...data },
    deliveryId: options.deliveryId ?? null,
  });
}
