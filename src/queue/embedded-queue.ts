import { randomBytes, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "pino";
import { type Db, Prisma } from "../db/create-database.ts";
import type { HotPathSql } from "../db/hot-path-sql.ts";
import { isUniqueViolation } from "../db/is-unique-violation.ts";
import {
  DEFAULT_GRACE_MS,
  DEFAULT_MAX_ATTEMPTS,
  type EnqueueOptions,
  type EnqueueResult,
  type GuardedJob,
  type JobData,
  type JobHandlers,
  type JobQueue,
  type KeyedJobState,
  type NewJob,
  PermanentJobError,
  queuedJobIds,
  type WorkerOptions,
} from "./job-queue.ts";
import { DEFAULT_MAX_WAIT_MS, type JobWaits, planWait, waitsFromText, waitsToText } from "./retry-later.ts";

export interface EmbeddedQueueOptions {
  db: Db;
  /** Claims, completions and enqueues: the statements run for every job. */
  hotPath: HotPathSql;
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

interface ClaimableJob {
  id: string;
  name: string;
  status: string;
  attempts: number;
  maxAttempts: number;
  runAt: Date | string | number;
}

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
  const { db, hotPath } = options;
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
      // Written into the statement, not bound: SQLite plans with a bound LIMIT's value, so binding
      // another value makes it compile the statement again, which it then did at almost every claim.
      const limit = Prisma.raw(String(free));
      // Two index walks, not one OR: with an OR the database sorts every due job to return a
      // few, which under a backlog costs milliseconds per claim. Jobs whose worker died come first.
      const candidates = await hotPath.query<ClaimableJob>(Prisma.sql`
        SELECT * FROM (
          SELECT "id", "name", "status", "attempts", "maxAttempts", "runAt" FROM "Job"
          WHERE "status" = 'running' AND "lockedUntil" < ${at} AND "queue" = ${queueName}
          LIMIT ${limit}) AS "expired"
        UNION ALL
        SELECT * FROM (
          SELECT "id", "name", "status", "attempts", "maxAttempts", "runAt" FROM "Job"
          WHERE "queue" = ${queueName} AND "status" = 'queued' AND "runAt" <= ${at}
          ORDER BY "runAt" ASC
          LIMIT ${limit}) AS "due"`);
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
    // `attempts` changes at every claim, so matching it makes the update lose to any claim made
    // since the candidate was read: exactly one worker gets count 1.
    const unchanged = {
      id: job.id,
      attempts: job.attempts,
      ...(expired ? { status: "running", lockedUntil: { lt: at } } : { status: "queued", runAt: { lte: at } }),
    };
    if (expired && job.attempts >= job.maxAttempts) {
      const { count } = await db.job.updateMany({
        where: unchanged,
        data: {
          status: "failed",
          lockedBy: null,
          lockedUntil: null,
          lastError: "the worker running its last attempt stopped before finishing (lease expired)",
        },
      });
      if (count === 1)
        logger.error({ jobId: job.id, job: job.name }, "job failed: its worker died on the last attempt");
      return;
    }
    const token = `${workerId}#${++claims}`;
    const lockedUntil = new Date(at.getTime() + leaseMs);
    const stillAvailable = expired
      ? Prisma.sql`"status" = 'running' AND "lockedUntil" < ${at}`
      : Prisma.sql`"status" = 'queued' AND "runAt" <= ${at}`;
    // The input is read only by the claim that won, and by the same statement: as a transaction of
    // two, the claim would hold its row lock (PostgreSQL) for a round trip more, and another worker
    // after the same job would wait for it instead of moving on.
    const [won] = await hotPath.query<{ data: string | null; lastError: string | null }>(Prisma.sql`
      UPDATE "Job" SET "status" = 'running', "attempts" = "attempts" + 1, "lockedBy" = ${token},
        "lockedUntil" = ${lockedUntil}, "updatedAt" = ${at}
      WHERE "id" = ${job.id} AND "attempts" = ${job.attempts} AND ${stillAvailable}
      RETURNING (SELECT "data" FROM "JobInput" WHERE "jobId" = ${job.id}) AS "data", "lastError"`);
    if (!won) return;
    if (expired)
      logger.warn({ jobId: job.id, job: job.name }, "running again a job whose worker stopped (lease expired)");
    const entry: RunningJob = { id: job.id, token, controller: new AbortController(), done: Promise.resolve() };
    state.running.set(token, entry);
    const waits = waitsFromText(won.lastError);
    entry.done = execute(state, { ...job, attempts: job.attempts + 1 }, won.data ?? undefined, entry, waits)
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
    const mine = { id: job.id, lockedBy: entry.token, status: "running" };
    const handler = Object.hasOwn(state.handlers, job.name) ? state.handlers[job.name] : undefined;
    if (!handler) {
      // Failed at once: retrying cannot make a handler appear in this worker.
      const lastError = `no handler for job ${job.name}`;
      await db.job.updateMany({
        where: mine,
        data: { status: "failed", lockedBy: null, lockedUntil: null, lastError },
      });
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
        dueAt: new Date(job.runAt),
      });
      clearInterval(entry.heartbeat);
      const finished = now();
      // A finished job's row stays (its key keeps deduplicating) but not its input: that may hold
      // a webhook's payload, which is not kept once it has been handled.
      const [completed] = await hotPath.transaction([
        Prisma.sql`
          UPDATE "Job" SET "status" = 'completed', "completedAt" = ${finished}, "lockedBy" = NULL,
            "lockedUntil" = NULL, "lastError" = NULL, "updatedAt" = ${finished}
          WHERE "id" = ${job.id} AND "lockedBy" = ${entry.token} AND "status" = 'running'
          RETURNING "id"`,
        Prisma.sql`
          DELETE FROM "JobInput"
          WHERE "jobId" = ${job.id} AND EXISTS (SELECT 1 FROM "Job" WHERE "id" = ${job.id} AND "status" = 'completed')`,
      ]);
      if (completed?.length !== 1)
        logger.warn({ jobId: job.id, job: job.name }, "job finished after losing its lease; it may run again");
    } catch (error) {
      clearInterval(entry.heartbeat);
      const lastError = errorText(error);
      const wait = planWait(error, waits, now().getTime(), maxWaitMs);
      if (wait) {
        // Back to the queue until then, and the try given back: waiting is not failing.
        await db.job.updateMany({
          where: mine,
          data: {
            status: "queued",
            runAt: later(wait.delayMs),
            attempts: { decrement: 1 },
            lockedBy: null,
            lockedUntil: null,
            lastError: errorText(waitsToText(wait)),
          },
        });
        logger.warn(
          { jobId: job.id, job: job.name, delayMs: wait.delayMs, waitedMs: wait.waits.totalMs },
          wait.message,
        );
        schedule(state, wait.delayMs);
        return;
      }
      if (job.attempts >= job.maxAttempts || error instanceof PermanentJobError) {
        await db.job.updateMany({
          where: mine,
          data: { status: "failed", lockedBy: null, lockedUntil: null, lastError },
        });
        logger.error({ err: error, jobId: job.id, job: job.name, attempt: job.attempts }, "job failed for good");
        return;
      }
      const delayMs = backoffMs(job.attempts);
      await db.job.updateMany({
        where: mine,
        data: { status: "queued", runAt: later(delayMs), lockedBy: null, lockedUntil: null, lastError },
      });
      logger.warn(
        { err: error, jobId: job.id, job: job.name, attempt: job.attempts, delayMs },
        "job failed; will retry",
      );
      schedule(state, delayMs);
    }
  }

  async function renew(entry: RunningJob): Promise<void> {
    try {
      const { count } = await db.job.updateMany({
        where: { id: entry.id, lockedBy: entry.token, status: "running" },
        data: { lockedUntil: later(leaseMs) },
      });
      if (count === 0) {
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

  function fieldsOf(job: NewJob): JobFields {
    return {
      queue: queueName,
      name: job.name,
      maxAttempts: job.options?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      runAt: later(Math.max(0, job.options?.delayMs ?? 0)),
    };
  }

  function inputOf(job: NewJob): string {
    return job.dataJson ?? JSON.stringify(job.data);
  }

  /**
   * The INSERTs of one job and its input, the first returning its id when it was queued: a taken
   * key, or a row found by `unlessFound`, leaves both out. The same statements for every job, so
   * that each shape is prepared once.
   */
  function insertStatements(job: GuardedJob): Prisma.Sql[] {
    const fields = fieldsOf(job);
    const id = randomUUID();
    const at = now();
    const guard = job.unlessFound ? Prisma.sql`NOT EXISTS (${job.unlessFound})` : Prisma.sql`true`;
    return [
      // SELECT … WHERE, not VALUES, to carry the guard; SQLite needs a WHERE before ON CONFLICT anyway.
      Prisma.sql`
        INSERT INTO "Job" ("id", "queue", "name", "key", "status", "attempts", "maxAttempts", "runAt", "createdAt", "updatedAt")
        SELECT ${id}, ${fields.queue}, ${fields.name}, ${job.options?.key ?? null}, 'queued', 0,
          ${fields.maxAttempts}, ${fields.runAt}, ${at}, ${at}
        WHERE ${guard}
        ON CONFLICT DO NOTHING
        RETURNING "id"`,
      // The id is new, so the job exists only if the insert above queued it.
      Prisma.sql`
        INSERT INTO "JobInput" ("jobId", "data")
        SELECT ${id}, ${inputOf(job)} WHERE EXISTS (SELECT 1 FROM "Job" WHERE "id" = ${id})`,
    ];
  }

  /** Wakes this process's worker at once rather than at the next poll: dispatch latency matters. */
  function queued(jobs: readonly NewJob[]): void {
    if (!worker || worker.stopping) return;
    const delays = jobs.map((job) => Math.max(0, job.options?.delayMs ?? 0));
    for (const delayMs of delays) if (delayMs > 0) schedule(worker, delayMs);
    if (delays.includes(0)) void pump(worker);
  }

  /**
   * The whole list is written in one transaction that skips jobs whose key is taken; only those (a
   * key seen before, or repeated within the list) go through `enqueueKeyed` one by one.
   */
  async function enqueueMany(jobs: readonly NewJob[]): Promise<EnqueueResult[]> {
    if (jobs.length === 0) return [];
    const statements = jobs.map((job) => insertStatements(job));
    const written = await hotPath.transaction(statements.flat());
    const ids = queuedJobIds(statements, written);
    const results: EnqueueResult[] = [];
    for (const [index, job] of jobs.entries()) {
      const id = ids[index];
      if (id !== undefined) results.push({ id, created: true });
      else if (job.options?.key === undefined) throw new Error("a job without a key was not queued");
      else results.push(await enqueueKeyed(job.options.key, fieldsOf(job), inputOf(job)));
    }
    queued(jobs.filter((_, index) => results[index]?.created));
    return results;
  }

  async function enqueueKeyed(key: string, fields: JobFields, data: string): Promise<EnqueueResult> {
    for (let tries = 0; ; tries++) {
      const existing = await db.job.findUnique({ where: { key }, select: { id: true, status: true } });
      if (!existing) {
        try {
          const job = await db.job.create({
            data: { ...fields, key, input: { create: { data } } },
            select: { id: true },
          });
          return { id: job.id, created: true };
        } catch (error) {
          // Another enqueue with this key won the insert: read what it made.
          if (isUniqueViolation(error) && tries === 0) continue;
          throw error;
        }
      }
      if (existing.status !== "failed") return { id: existing.id, created: false };
      const requeued = await db.$transaction(async (tx) => {
        const { count } = await tx.job.updateMany({
          where: { id: existing.id, status: "failed" },
          data: {
            ...fields,
            status: "queued",
            attempts: 0,
            lockedBy: null,
            lockedUntil: null,
            lastError: null,
            completedAt: null,
          },
        });
        if (count === 1) {
          await tx.jobInput.upsert({
            where: { jobId: existing.id },
            create: { jobId: existing.id, data },
            update: { data },
          });
        }
        return count === 1;
      });
      return { id: existing.id, created: requeued };
    }
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
          await db.job.updateMany({
            where: { id: entry.id, lockedBy: entry.token, status: "running" },
            data: { status: "queued", runAt: now(), lockedBy: null, lockedUntil: null, attempts: { decrement: 1 } },
          });
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

    sameDatabase: { insertStatements, queued },

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
      if (keys.length === 0) return found;
      const jobs = await db.job.findMany({
        where: { key: { in: [...keys] } },
        select: { key: true, status: true, lastError: true },
      });
      for (const job of jobs) {
        const state = job.status === "queued" ? "waiting" : (job.status as KeyedJobState["state"]);
        found.set(job.key!, { state, lastError: job.lastError });
      }
      return found;
    },

    async unfinishedJobs() {
      const rows = await db.job.groupBy({
        by: ["name", "status"],
        where: { queue: queueName, status: { in: ["queued", "running", "failed"] } },
        _count: { _all: true },
      });
      return rows.map((row) => ({
        name: row.name,
        state: row.status === "queued" ? ("waiting" as const) : (row.status as "running" | "failed"),
        count: row._count._all,
      }));
    },

    async ping(): Promise<void> {
      await hotPath.query(Prisma.sql`SELECT 1`);
    },

    async close(): Promise<void> {
      await stopWorker();
    },
  };
}

interface JobFields {
  queue: string;
  name: string;
  maxAttempts: number;
  runAt: Date;
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
