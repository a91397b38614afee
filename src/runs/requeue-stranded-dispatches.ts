import type { Logger } from "pino";
import type { Db } from "../db/create-database.ts";
import type { JobQueue } from "../queue/job-queue.ts";
import { dispatchKey, queueDispatch } from "./start-run.ts";

/** Runs looked at per sweep; a backlog larger than this is worked off over several sweeps. */
const BATCH = 500;

/**
 * A run the database says is waiting for its dispatch (`queued`, or `dispatching` after a try that
 * died) must have a `run.dispatch` job. A Redis that lost its data (no AOF) loses that job while
 * the approval that made the run is long acknowledged: the run would wait forever. This queues the
 * dispatch again for each such run older than `cutoff` whose job the queue does not know (the job's
 * key is the run's, so one that exists is never doubled; the dispatch itself looks for an earlier
 * try's workflow run before sending). Returns the runs it queued again.
 */
export async function requeueStrandedDispatches(input: {
  db: Db;
  queue: JobQueue;
  logger: Logger;
  cutoff: Date;
}): Promise<string[]> {
  const { db, queue, logger } = input;
  const runs = await db.run.findMany({
    where: { status: { in: ["queued", "dispatching"] }, updatedAt: { lt: input.cutoff } },
    orderBy: { updatedAt: "asc" },
    take: BATCH,
    select: { id: true },
  });
  if (runs.length === 0) return [];
  const jobs = await queue.jobsByKey(runs.map((run) => dispatchKey(run.id)));
  const stranded = runs.filter((run) => !jobs.has(dispatchKey(run.id))).map((run) => run.id);
  for (const runId of stranded) {
    await queueDispatch(queue, runId);
    logger.warn({ runId }, "run waiting for its dispatch had no job (Redis lost it?): queued again");
  }
  return stranded;
}
