import type { Prisma } from "../db/create-database.ts";
import type { JobQueue } from "../queue/job-queue.ts";
import { enqueueJob } from "../queue/jobs.ts";

export interface NewRun {
  taskId: string;
  planVersionId: string;
  contentHash: string;
  requestedById: string;
}

/**
 * A new run of an approved plan version, waiting for its dispatch; the task shows as approved.
 * Called inside the transaction that decided the run may start, so neither is written without the other.
 */
export async function createRun(tx: Prisma.TransactionClient, run: NewRun) {
  await tx.task.update({ where: { id: run.taskId }, data: { state: "approved" } });
  return tx.run.create({ data: run });
}

/** The dispatch job's key: one job per run, however often it is asked for. */
export function dispatchKey(runId: string): string {
  return `dispatch:${runId}`;
}

/** Queues the run's dispatch; its key makes asking again for the same run do nothing. */
export async function queueDispatch(queue: JobQueue, runId: string): Promise<void> {
  await enqueueJob(queue, "run.dispatch", { runId }, { key: dispatchKey(runId) });
}
