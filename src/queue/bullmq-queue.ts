import { randomUUID } from "node:crypto";
import { DelayedError, type Job, Queue, UnrecoverableError, WaitingError, Worker } from "bullmq";
import { Redis } from "ioredis";
import type { Logger } from "pino";
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
import { DEFAULT_MAX_WAIT_MS, planWait, waitsFromProgress, waitsToProgress } from "./retry-later.ts";

export interface BullmqQueueOptions {
  redisUrl: string;
  logger: Logger;
  /** Default "default", like the embedded queue. */
  queueName?: string;
  /** Prefix of every Redis key (default "amistio"). */
  prefix?: string;
  /** First retry delay; it doubles per failed try (default 1 s). */
  backoffBaseMs?: number;
  /** How often a worker looks for jobs whose worker died (default 30 s). */
  stalledIntervalMs?: number;
  /** How long a job's lock lasts without renewal; workers renew it at half that (default 30 s). */
  lockDurationMs?: number;
  /** How long one job may wait in all after `RetryLaterError`s, uncounted (default 1 h). */
  maxWaitMs?: number;
}

const PING_TIMEOUT_MS = 5_000;
const WORKER_START_RETRY_MS = 2_000;
// Before its first connection a BullMQ queue waits for Redis however long it takes; intake must
// answer GitHub within 10 s, and its delivery is stored (and swept into the queue) either way.
const ENQUEUE_TIMEOUT_MS = 5_000;
// Finished jobs are what makes an idempotency key hold, so they are kept for a while rather than
// removed at once; then trimmed so Redis does not grow for ever.
const KEEP_COMPLETED_SECONDS = 7 * 24 * 3600;
const KEEP_FAILED_SECONDS = 30 * 24 * 3600;

interface ActiveJob {
  /** Puts the job back in the wait list and makes its processor return, whatever the handler does. */
  release(): Promise<void>;
}

/**
 * The queue for larger installations: BullMQ on Redis, shared by any number of web and worker
 * processes. BullMQ's locks and stalled-job checks re-run a job whose worker died.
 */
export function createBullmqQueue(options: BullmqQueueOptions): JobQueue {
  const logger = options.logger.child({ component: "queue", driver: "bullmq" });
  const queueName = options.queueName ?? "default";
  const prefix = options.prefix ?? "amistio";
  const backoffBaseMs = options.backoffBaseMs ?? 1_000;
  // Without the offline queue, enqueueing during a Redis outage fails at once (the webhook can then be
  // redelivered) instead of hanging past GitHub's 10 s deadline.
  const producer = new Redis(options.redisUrl, { enableOfflineQueue: false });
  const queue = new Queue(queueName, { connection: producer, prefix });
  queue.on("error", (error) => logger.error({ err: error }, "queue connection error"));
  let worker: Worker | undefined;
  let consumer: Redis | undefined;
  /** Set while a worker that could not reach Redis at start waits to try again. */
  let startRetry: NodeJS.Timeout | undefined;
  const active = new Set<ActiveJob>();

  async function enqueue(name: string, data: JobData, enqueueOptions: EnqueueOptions = {}): Promise<EnqueueResult> {
    const jobOptions = {
      attempts: enqueueOptions.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      backoff: { type: "exponential", delay: backoffBaseMs, jitter: 0.2 },
      delay: Math.max(0, enqueueOptions.delayMs ?? 0),
      removeOnComplete: { age: KEEP_COMPLETED_SECONDS },
      removeOnFail: { age: KEEP_FAILED_SECONDS },
    };
    if (enqueueOptions.key === undefined) {
      const job = await queue.add(name, data, jobOptions);
      return { id: job.id!, created: true };
    }
    const jobId = jobIdForKey(enqueueOptions.key);
    const existing = await queue.getJob(jobId);
    if (existing) {
      const state = await existing.getState();
      if (state !== "failed" && state !== "unknown") return { id: jobId, created: false };
      if (state === "failed") {
        try {
          await existing.remove();
        } catch {
          // Another enqueue with this key got there first; its job stands.
          return { id: jobId, created: false };
        }
      }
    }
    // BullMQ ignores an add whose jobId exists, so two racing enqueues still make one job.
    const job = await queue.add(name, data, { ...jobOptions, jobId });
    return { id: job.id!, created: true };
  }

  /**
   * ioredis pipelines concurrent commands on its one connection, so adding in parallel is already
   * few round trips. A key repeated within the list answers like a second enqueue would.
   */
  function enqueueMany(jobs: readonly NewJob[]): Promise<EnqueueResult[]> {
    const firstByKey = new Map<string, Promise<EnqueueResult>>();
    return inTime(
      Promise.all(
        jobs.map((job) => {
          const key = job.options?.key;
          const first = key === undefined ? undefined : firstByKey.get(key);
          if (first) return first.then(({ id }) => ({ id, created: false }));
          const result = enqueue(job.name, job.data, job.options);
          if (key !== undefined) firstByKey.set(key, result);
          return result;
        }),
      ),
    );
  }

  /** Rejects when Redis has not answered within ENQUEUE_TIMEOUT_MS (the add may still land later; keys keep that safe). */
  async function inTime<T>(work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        work,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`Redis did not answer within ${ENQUEUE_TIMEOUT_MS} ms`)),
            ENQUEUE_TIMEOUT_MS,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function startWorker(handlers: JobHandlers, workerOptions: WorkerOptions): Promise<void> {
    if (worker || startRetry) throw new Error("the queue's worker is already started");
    if (!Number.isInteger(workerOptions.concurrency) || workerOptions.concurrency < 1) {
      throw new Error("worker concurrency must be a whole number of at least 1");
    }
    if (await tryStartWorker(handlers, workerOptions)) return;
    // Redis unreachable at start: the process still starts (its intake stores deliveries, which the
    // sweeper queues later) and the worker keeps trying, rather than the whole process crashing.
    logger.error(
      { retryMs: WORKER_START_RETRY_MS },
      "Redis is unreachable: the worker starts taking jobs once it answers; deliveries are stored in the database meanwhile",
    );
    const retry = () => {
      startRetry = setTimeout(async () => {
        if (!startRetry) return;
        if (await tryStartWorker(handlers, workerOptions)) {
          startRetry = undefined;
          logger.info("Redis answers: the worker is taking jobs");
        } else retry();
      }, WORKER_START_RETRY_MS);
    };
    retry();
  }

  async function tryStartWorker(handlers: JobHandlers, workerOptions: WorkerOptions): Promise<boolean> {
    // BullMQ makes its own (blocking) connections from this one's settings and closes them itself;
    // lazyConnect keeps this template from opening a socket it never uses.
    consumer = new Redis(options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
    consumer.on("error", () => {}); // BullMQ reports its connections' errors on the worker's "error" event
    worker = new Worker(queueName, (job: Job, token?: string) => runJob(handlers, job, token), {
      connection: consumer,
      prefix,
      concurrency: workerOptions.concurrency,
      lockDuration: options.lockDurationMs ?? 30_000,
      stalledInterval: options.stalledIntervalMs ?? 30_000,
    });
    worker.on("error", (error) => logger.error({ err: error }, "worker error"));
    worker.on("stalled", (jobId) => logger.warn({ jobId }, "running again a job whose worker stopped (stalled)"));
    worker.on("failed", (job, error) => {
      const final = !job || error.name === "UnrecoverableError" || job.attemptsMade >= (job.opts.attempts ?? 1);
      const fields = { err: error, jobId: job?.id, job: job?.name, attempt: job?.attemptsMade };
      if (final) logger.error(fields, "job failed for good");
      else logger.warn(fields, "job failed; will retry");
    });
    try {
      await worker.waitUntilReady();
      return true;
    } catch (error) {
      const failed = worker;
      const connection = consumer;
      worker = undefined;
      consumer = undefined;
      logger.debug({ err: error }, "the worker could not connect to Redis");
      await failed.close(true).catch(() => undefined);
      connection.disconnect();
      return false;
    }
  }

  async function runJob(handlers: JobHandlers, job: Job, token: string | undefined): Promise<void> {
    const handler = Object.hasOwn(handlers, job.name) ? handlers[job.name] : undefined;
    // Failed at once: retrying cannot make a handler appear in this worker.
    if (!handler) throw new UnrecoverableError(`no handler for job ${job.name}`);
    const controller = new AbortController();
    let onRelease: (error: Error) => void = () => {};
    const released = new Promise<never>((_, reject) => {
      onRelease = reject;
    });
    const entry: ActiveJob = {
      async release() {
        try {
          await job.moveToWait(token);
        } catch (error) {
          logger.error(
            { err: error, jobId: job.id },
            "could not release a job at shutdown; it runs again once stalled",
          );
        }
        controller.abort(new Error("the worker is stopping"));
        // BullMQ treats WaitingError as "the job was moved elsewhere": no failed try is recorded.
        onRelease(new WaitingError());
      },
    };
    active.add(entry);
    const waits = waitsFromProgress(job.progress);
    try {
      await Promise.race([
        handler(job.data as JobData, {
          id: job.id!,
          name: job.name,
          // A try cut short by a dead worker counts, as in the embedded queue; BullMQ counts those apart.
          attempt: job.attemptsMade + job.stalledCounter + 1,
          // BullMQ's own test for a retry (Job.shouldRetryJob): tries made so far, plus this one.
          lastAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
          waits,
          signal: controller.signal,
          // Known for a first try (queued, plus its delay); a retry's backoff end is not kept by BullMQ.
          ...(job.attemptsMade === 0 && job.stalledCounter === 0
            ? { dueAt: new Date(job.timestamp + (job.opts.delay ?? 0)) }
            : {}),
        }),
        released,
      ]);
    } catch (error) {
      const wait = token ? planWait(error, waits, Date.now(), options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS) : undefined;
      if (wait) {
        // Delayed without using a try (BullMQ's moveToDelayed skips the attempt); the waits so far
        // go in the job's progress, so the bound holds across workers.
        try {
          await job.updateProgress(waitsToProgress(wait.waits));
          await job.moveToDelayed(Date.now() + wait.delayMs, token);
        } catch (moveError) {
          logger.error({ err: moveError, jobId: job.id }, "could not delay a job; its try counts as failed");
          throw error instanceof Error ? error : new Error(String(error));
        }
        logger.warn(
          { jobId: job.id, job: job.name, delayMs: wait.delayMs, waitedMs: wait.waits.totalMs },
          wait.message,
        );
        throw new DelayedError();
      }
      // BullMQ skips the remaining tries only for its own UnrecoverableError.
      if (error instanceof PermanentJobError) throw new UnrecoverableError(error.message);
      throw error instanceof Error ? error : new Error(String(error));
    } finally {
      active.delete(entry);
    }
  }

  async function stopWorker(graceMs = DEFAULT_GRACE_MS): Promise<void> {
    clearTimeout(startRetry);
    startRetry = undefined;
    const stopping = worker;
    const connection = consumer;
    if (!stopping) return;
    worker = undefined;
    consumer = undefined;
    // close() stops fetching and waits for the running jobs; past the grace, release them so close() can end.
    const closed = stopping.close();
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      closed.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (!inTime) {
      const left = [...active];
      active.clear();
      await Promise.all(left.map((entry) => entry.release()));
      if (left.length > 0) logger.warn({ count: left.length }, "released jobs still running at shutdown");
      await closed;
    }
    connection?.disconnect();
  }

  async function jobsByKey(keys: readonly string[]): Promise<Map<string, KeyedJobState>> {
    const found = new Map<string, KeyedJobState>();
    // Concurrent commands share ioredis's pipeline: a few round trips for the lot.
    await Promise.all(
      keys.map(async (key) => {
        const job = await queue.getJob(jobIdForKey(key));
        if (!job) return;
        const state = await job.getState();
        if (state === "unknown") return;
        found.set(key, {
          state: state === "active" ? "running" : state === "completed" || state === "failed" ? state : "waiting",
          lastError: job.failedReason || null,
        });
      }),
    );
    return found;
  }

  /** SET NX with a lapse, released only by its holder (the token), so a late release cannot free another's lock. */
  async function exclusive<T>(name: string, ttlMs: number, work: () => Promise<T>): Promise<{ value: T } | undefined> {
    // Beside BullMQ's keys, not among them: "<prefix>:<queue>:<id>" is where BullMQ keeps job <id>.
    const lock = `${prefix}-lock:${queueName}:${name}`;
    const token = randomUUID();
    // The connection refuses commands until it is up (no offline queue): wait for it, as enqueueing does.
    await queue.waitUntilReady();
    if ((await producer.set(lock, token, "PX", ttlMs, "NX")) !== "OK") return undefined;
    try {
      return { value: await work() };
    } finally {
      await producer
        .eval(
          `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end return 0`,
          1,
          lock,
          token,
        )
        .catch((error: unknown) => logger.warn({ err: error, lock }, "could not release a lock; it lapses by itself"));
    }
  }

  return {
    driver: "bullmq",
    enqueue: (name, data, enqueueOptions) => inTime(enqueue(name, data, enqueueOptions)),
    enqueueMany,
    startWorker,
    stopWorker,
    jobsByKey,
    exclusive,

    async unfinishedJobs() {
      // BullMQ counts by state, not by name: one row per state, named "all".
      const counts = await queue.getJobCounts("waiting", "prioritized", "delayed", "active", "failed");
      const n = (state: string) => counts[state] ?? 0;
      return [
        { name: "all", state: "waiting" as const, count: n("waiting") + n("prioritized") + n("delayed") },
        { name: "all", state: "running" as const, count: n("active") },
        { name: "all", state: "failed" as const, count: n("failed") },
      ];
    },

    async ping(): Promise<void> {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Redis did not answer within ${PING_TIMEOUT_MS} ms`)),
          PING_TIMEOUT_MS,
        );
      });
      try {
        await Promise.race([queue.waitUntilReady().then(() => producer.ping()), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },

    async close(): Promise<void> {
      await stopWorker();
      await queue.close();
      try {
        await producer.quit();
      } catch {
        producer.disconnect();
      }
    },
  };
}

/**
 * BullMQ refuses custom job ids that contain ':' or are whole numbers (those are its own ids).
 * Percent-encoding ':' (and '%', to stay reversible) and a fixed prefix avoid both, and keep
 * distinct keys distinct.
 */
function jobIdForKey(key: string): string {
  return `key-${key.replaceAll("%", "%25").replaceAll(":", "%3A")}`;
}
