import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "pino";
import type { ClaimableJob, JobRecord, JobStore } from "../db/delivery-job-store.ts";
import {
  DEFAULT_GRACE_MS,
  DEFAULT_MAX_ATTEMPTS,
  type EnqueueOptions,
  type EnqueueResult,
  type JobData,
  type JobHandlers,
  type JobQueue,
  type KeyedJobState,
  type NewJob,
  PermanentJobError,
  type WorkerOptions,
} from "./job-queue.ts";
import { DEFAULT_MAX_WAIT_MS, type JobWaits, planWait, waitsFromText, waitsToText } from "./retry-later.ts";

export interface EmbeddedQueueOptions {
  /** Where the jobs are kept: the app's database. */
  store: JobStore;
  logger: Logger;
  now?: () => Date;
  /** How often an idle worker looks for jobs from other processes and for delayed jobs (default 500 ms). */
  pollIntervalMs?: number;
  /** How long a claimed job stays ours without a heartbeat (default 30 s). */
  leaseMs?: number;
  /** First retry delay; it doubles per failed try (default 1 s). */
  backoffBaseMs?: number;
  /** Upper bound of a retry delay (default 5 min). */
  backoffMaxMs?: number;
  /** Shown in `lockedBy`; defaults to host, pid and a random suffix. */
  workerId?: string;
  /** Jobs of other queue names in the same table are left alone (default "default", as in the schema). */
  queueName?: string;
  /** How long one job may wait in all after `RetryLaterError`s, uncounted (default 1 h). */
  maxWaitMs?: number;
}

const LAST_ERROR_MAX_CHARS = 2_000;

interface RunningJob {
  id: string;
  /** The `lockedBy` value of this claim: every later write is conditional on it, so a run that lost its lease cannot overwrite the next one. */
  token: string;
  controller: AbortController;
  heartbeat?: NodeJS.Timeout;
  done: Promise<void>;
}

interface WorkerState {
  handlers: JobHandlers;
  concurrency: number;
  running: Map<string, RunningJob>;
  stopping: boolean;
  pumping?: Promise<void>;
  again: boolean;
  timer?: NodeJS.Timeout;
  timerDueAt: number;
}

/**
 * The default queue: durable in the database's `Job` table, so `npm start` needs nothing but SQLite.
 * Claims are conditional updates that only one worker can win, so it is also safe with several
 * processes on PostgreSQL. A claimed job holds a lease renewed by a heartbeat; a job whose lease ran
 * out (its process died) is claimed again.
 */
export function createEmbeddedQueue(options: EmbeddedQueueOptions): JobQueue {
  const { store } = options;
  const logger = options.logger.child({ component: "queue", driver: "embedded" });
  const now = options.now ?? (() => new Date());
  const queueName = options.queueName ?? "default";
  const pollIntervalMs = options.pollIntervalMs ?? 500;
  const leaseMs = options.leaseMs ?? 30_000;
  const backoffBaseMs = options.backoffBaseMs ?? 1_000;
  const backoffMaxMs = options.backoffMaxMs ?? 300_000;
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  const workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  let worker: WorkerState | undefined;
  // Per queue object, not per worker start: a handler orphaned by a stop must never share a token with a later claim.
  let claims = 0;

  function later(ms: number): Date {
    return new Date(now().getTime() + ms);
  }

  /** Runs `claimAvailable` now, or once more after the pass in progress, so a wake-up is never lost. */
  function pump(state: WorkerState): Promise<void> {
    if (state.pumping) {
      state.again = true;
      return state.pumping;
    }
    state.pumping = (async () => {
      try {
        do {
          state.again = false;
          await claimAvailable(state);
        } while (state.again && !state.stopping);
      } catch (error) {
        logger.error({ err: error }, "could not claim jobs; will try again at the next poll");
      }
    })().finally(() => {
      state.pumping = undefined;
      schedule(state, pollIntervalMs);
    });
    return state.pumping;
  }

  /** Keeps one timer, at the earliest time something is known to be due. */
  function schedule(state: WorkerState, delayMs: number): void {
    if (state.stopping) return;
    const dueAt = Date.now() + delayMs;
    if (state.timer && state.timerDueAt <= dueAt) return;
    clearTimeout(state.timer);
    state.timerDueAt = dueAt;
    state.timer = setTimeout(() => {
      state.timer = undefined;
      void pump(state);
    }, delayMs);
  }

  async function claimAvailable(state: WorkerState): Promise<void> {
    while (!state.stopping) {
      const free = state.concurrency - state.running.size;
      if (free <= 0) return;
      const at = now();
      const candidates = await store.claimableJobs(queueName, at, free);
      if (candidates.length === 0) return;
      // Candidates another worker won are skipped; the loop then looks again for the slots still free.
      for (const candidate of candidates.slice(0, free)) {
        if (state.stopping) return;
        await claim(state, candidate, at);
      }
    }
  }

  async function claim(state: WorkerState, job: ClaimableJob, at: Date): Promise<void> {
    const expired = job.status === "running";
    if (expired && job.attempts >= job.maxAttempts) {
      const lastError = "the worker running its last attempt stopped before finishing (lease expired)";
      if (await store.failAbandonedJob(job, at, lastError))
        logger.error({ jobId: job.id, job: job.name }, "job failed: its worker died on the last attempt");
      return;
    }
    const token = `${workerId}#${++claims}`;
    const won = await store.claimJob(job, token, at, new Date(at.getTime() + leaseMs));
    if (!won) return;
    if (expired)
      logger.warn({ jobId: job.id, job: job.name }, "running again a job whose worker stopped (lease expired)");
    const entry: RunningJob = { id: job.id, token, controller: new AbortController(), done: Promise.resolve() };
    state.running.set(token, entry);
    const waits = waitsFromText(won.lastError);
    entry.done = execute(state, { ...job, attempts: job.attempts + 1 }, won.input ?? undefined, entry, waits)
      .catch((error: unknown) => {
        // The lease will run out and the job will be claimed again: at-least-once.
        logger.error({ err: error, jobId: job.id, job: job.name }, "could not record the outcome of a job");
      })
      .finally(() => {
        state.running.delete(token);
        if (!state.stopping) void pump(state);
      });
  }

  async function execute(
    state: WorkerState,
    job: ClaimableJob,
    data: string | undefined,
    entry: RunningJob,
    waits: JobWaits,
  ): Promise<void> {
    const handler = Object.hasOwn(state.handlers, job.name) ? state.handlers[job.name] : undefined;
    if (!handler) {
      // Failed at once: retrying cannot make a handler appear in this worker.
      const lastError = `no handler for job ${job.name}`;
      await store.failJob(job.id, entry.token, lastError);
      logger.error({ jobId: job.id, job: job.name }, lastError);
      return;
    }
    entry.heartbeat = setInterval(() => void renew(entry), Math.max(Math.floor(leaseMs / 3), 10));
    try {
      if (data === undefined) throw new PermanentJobError("the job's input is missing from JobInput");
      const input = parseInput(data);
      await handler(input, {
        id: job.id,
        name: job.name,
        attempt: job.attempts,
        lastAttempt: job.attempts >= job.maxAttempts,
        waits,
        signal: entry.controller.signal,
        dueAt: job.runAt,
      });
      clearInterval(entry.heartbeat);
      if (!(await store.completeJob(job.id, entry.token, now())))
        logger.warn({ jobId: job.id, job: job.name }, "job finished after losing its lease; it may run again");
    } catch (error) {
      clearInterval(entry.heartbeat);
      const lastError = errorText(error);
      const wait = planWait(error, waits, now().getTime(), maxWaitMs);
      if (wait) {
        // Back to the queue until then, and the try given back: waiting is not failing.
        await store.requeueJob(job.id, entry.token, {
          runAt: later(wait.delayMs),
          lastError: errorText(waitsToText(wait)),
          giveBackTry: true,
        });
        logger.warn(
          { jobId: job.id, job: job.name, delayMs: wait.delayMs, waitedMs: wait.waits.totalMs },
          wait.message,
        );
        schedule(state, wait.delayMs);
        return;
      }
      if (job.attempts >= job.maxAttempts || error instanceof PermanentJobError) {
        await store.failJob(job.id, entry.token, lastError);
        logger.error({ err: error, jobId: job.id, job: job.name, attempt: job.attempts }, "job failed for good");
        return;
      }
      const delayMs = backoffMs(job.attempts);
      await store.requeueJob(job.id, entry.token, { runAt: later(delayMs), lastError, giveBackTry: false });
      logger.warn(
        { err: error, jobId: job.id, job: job.name, attempt: job.attempts, delayMs },
        "job failed; will retry",
      );
      schedule(state, delayMs);
    }
  }

  async function renew(entry: RunningJob): Promise<void> {
    try {
      if (!(await store.renewLease(entry.id, entry.token, later(leaseMs)))) {
        clearInterval(entry.heartbeat);
        logger.warn({ jobId: entry.id }, "job lost its lease; asking its handler to stop");
        entry.controller.abort(new Error("the job's lease was lost"));
      }
    } catch (error) {
      logger.warn({ err: error, jobId: entry.id }, "could not renew a job's lease");
    }
  }

  function backoffMs(attempt: number): number {
    const capped = Math.min(backoffMaxMs, backoffBaseMs * 2 ** (attempt - 1));
    // Up to 20% less, so jobs that failed together do not all come back at the same instant.
    return Math.round(capped * (0.8 + Math.random() * 0.2));
  }

  function jobRecord(job: NewJob): JobRecord {
    return {
      queue: queueName,
      name: job.name,
      key: job.options?.key ?? null,
      maxAttempts: job.options?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      runAt: later(Math.max(0, job.options?.delayMs ?? 0)),
      input: job.dataJson ?? JSON.stringify(job.data),
    };
  }

  /** Wakes this process's worker at once rather than at the next poll: dispatch latency matters. */
  function queued(jobs: readonly JobRecord[]): void {
    if (!worker || worker.stopping) return;
    const at = now().getTime();
    const delays = jobs.map((job) => Math.max(0, job.runAt.getTime() - at));
    for (const delayMs of delays) if (delayMs > 0) schedule(worker, delayMs);
    if (delays.includes(0)) void pump(worker);
  }

  /**
   * The whole list is written in one transaction that skips jobs whose key is taken; only those (a
   * key seen before, or repeated within the list) go through `enqueueKeyed` one by one.
   */
  async function enqueueMany(jobs: readonly NewJob[]): Promise<EnqueueResult[]> {
    if (jobs.length === 0) return [];
    const records = jobs.map(jobRecord);
    const ids = await store.insertJobs(records, now());
    const results: EnqueueResult[] = [];
    for (const [index, record] of records.entries()) {
      const id = ids[index];
      if (id !== undefined) results.push({ id, created: true });
      else if (record.key === null) throw new Error("a job without a key was not queued");
      else results.push(await store.insertKeyedJob({ ...record, key: record.key }));
    }
    queued(records.filter((_, index) => results[index]?.created));
    return results;
  }

  async function stopWorker(graceMs = DEFAULT_GRACE_MS): Promise<void> {
    const state = worker;
    if (!state) return;
    worker = undefined;
    state.stopping = true;
    clearTimeout(state.timer);
    await state.pumping;
    if (state.running.size > 0) {
      await settleWithin(
        [...state.running.values()].map((entry) => entry.done),
        graceMs,
      );
    }
    await Promise.all(
      [...state.running.values()].map(async (entry) => {
        state.running.delete(entry.token);
        clearInterval(entry.heartbeat);
        try {
          // Released before the abort, so a handler that gives up on the signal cannot record a failed try.
          // The interrupted try does not count.
          await store.requeueJob(entry.id, entry.token, { runAt: now(), giveBackTry: true });
          logger.warn({ jobId: entry.id }, "released a job still running at shutdown");
        } catch (error) {
          logger.error(
            { err: error, jobId: entry.id },
            "could not release a job at shutdown; it runs again once its lease expires",
          );
        }
        entry.controller.abort(new Error("the worker is stopping"));
      }),
    );
  }

  return {
    driver: "embedded",

    async enqueue(name: string, data: JobData, enqueueOptions: EnqueueOptions = {}): Promise<EnqueueResult> {
      const [result] = await enqueueMany([{ name, data, options: enqueueOptions }]);
      return result!;
    },

    enqueueMany,

    sameDatabase: { jobRecord, queued },

    async startWorker(handlers: JobHandlers, workerOptions: WorkerOptions): Promise<void> {
      if (worker) throw new Error("the queue's worker is already started");
      if (!Number.isInteger(workerOptions.concurrency) || workerOptions.concurrency < 1) {
        throw new Error("worker concurrency must be a whole number of at least 1");
      }
      worker = {
        handlers,
        concurrency: workerOptions.concurrency,
        running: new Map(),
        stopping: false,
        again: false,
        timerDueAt: 0,
      };
      void pump(worker);
    },

    stopWorker,

    async jobsByKey(keys: readonly string[]): Promise<Map<string, KeyedJobState>> {
      const found = new Map<string, KeyedJobState>();
      for (const job of await store.jobsByKey(keys)) {
        const state = job.status === "queued" ? "waiting" : job.status;
        found.set(job.key, { state, lastError: job.lastError });
      }
      return found;
    },

    async unfinishedJobs() {
      return (await store.unfinishedJobCounts(queueName)).map((row) => ({
        name: row.name,
        state: row.status === "queued" ? ("waiting" as const) : row.status,
        count: row.count,
      }));
    },

    async ping(): Promise<void> {
      await store.ping();
    },

    async close(): Promise<void> {
      await stopWorker();
    },
  };
}

/** An input that does not parse will not parse on a later try either. */
function parseInput(data: string): JobData {
  try {
    return JSON.parse(data) as JobData;
  } catch (error) {
    throw new PermanentJobError(`the job's input is not valid JSON: ${(error as Error).message}`);
  }
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return text.length > LAST_ERROR_MAX_CHARS ? `${text.slice(0, LAST_ERROR_MAX_CHARS - 1)}…` : text;
}

/** Waits for all promises to settle, or for `ms`, whichever comes first, without leaving a timer behind. */
async function settleWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.allSettled(promises),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
