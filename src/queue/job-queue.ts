import type { JobRecord } from "../db/delivery-job-store.ts";
import { type JobWaits, NO_WAITS } from "./retry-later.ts";

/** Tries before a job is kept as failed, unless `EnqueueOptions.maxAttempts` says otherwise. */
export const DEFAULT_MAX_ATTEMPTS = 5;
/** How long `stopWorker` waits for running jobs before releasing them. */
export const DEFAULT_GRACE_MS = 5_000;

/** JSON-serialisable job input. Handlers must treat it as untrusted-shaped and validate it. */
export type JobData = Record<string, unknown>;

/**
 * What code deep inside a job (a Probot handler a delivery reaches, `postComment`) needs of the try
 * it runs in. Passed down explicitly, as the job's context or a part of it: never ambient state.
 */
export interface JobTry {
  /** 1 on the first try. A try cut short by a dead worker counts; one released by `stopWorker` does not. */
  attempt: number;
  /**
   * What the job waited so far (rate limits): a job run again after a wait has already run once,
   * though `attempt` does not say so (the wait used no try).
   */
  waits: JobWaits;
}

/** A first try that never waited: for work that runs outside any job (tests, tools). */
export const FIRST_TRY: JobTry = Object.freeze({ attempt: 1, waits: NO_WAITS });

/**
 * Whether an earlier try or run of this job may have done part of the work already: then a post
 * looks for its earlier self before posting. The common first try costs nothing.
 */
export function mayHaveRunBefore(job: JobTry): boolean {
  return job.attempt > 1 || job.waits.count > 0;
}

export interface JobContext extends JobTry {
  id: string;
  name: string;
  /**
   * True when no try remains after this one: a failure now is final (the job is kept as failed).
   * Both drivers set it; optional only so that code calling a handler by hand need not.
   */
  lastAttempt?: boolean;
  /** Aborted when the queue is stopping; long handlers should give up and let the job run again. */
  signal: AbortSignal;
  /**
   * When the job became due (queued, or its delay or backoff ended), for the queue wait metric;
   * absent where the driver cannot tell (a BullMQ retry).
   */
  dueAt?: Date;
}

/**
 * Thrown by a handler when trying again cannot help (its input is invalid or gone): the job fails
 * at once, without its remaining tries, on either driver.
 */
export class PermanentJobError extends Error {
  override name = "PermanentJobError";
}

export type JobHandler = (data: JobData, context: JobContext) => Promise<void>;
export type JobHandlers = Readonly<Record<string, JobHandler>>;

export interface EnqueueOptions {
  /**
   * Idempotency key. While a job with this key is queued, running or completed, enqueueing again
   * does nothing; a job with this key that failed for good is queued again (a redelivery retries it).
   */
  key?: string;
  delayMs?: number;
  /** Tries before the job is kept as failed (default 5). */
  maxAttempts?: number;
}

export interface NewJob {
  name: string;
  data: JobData;
  /**
   * `data` already as JSON text, when the caller has it cheaper than serialising `data` (a webhook
   * payload kept as received). A queue that stores text stores this as is.
   */
  dataJson?: string;
  options?: EnqueueOptions;
}

export interface EnqueueResult {
  id: string;
  /** False when the key matched a job that already existed and was left as it was. */
  created: boolean;
}

/**
 * Storing a job in the caller's own transaction, offered only by a queue whose jobs live in the app's
 * database (the embedded one): a record and the job that acts on it are stored together or not at
 * all, in one round trip (`db/delivery-job-store.ts`).
 */
export interface SameDatabaseEnqueue {
  /** The job as this queue stores it. */
  jobRecord(job: NewJob): JobRecord;
  /** To call once the transaction committed, with the jobs it stored: wakes this process's worker. */
  queued(jobs: readonly JobRecord[]): void;
}

/** What became of a keyed job, in the words of both drivers. */
export interface KeyedJobState {
  /** waiting covers queued, delayed and waiting out a retry's backoff. */
  state: "waiting" | "running" | "completed" | "failed";
  lastError: string | null;
}

export interface WorkerOptions {
  concurrency: number;
}

/**
 * The one queue interface; `embedded-queue.ts` (durable in the database) and `bullmq-queue.ts`
 * (Redis) implement it, and the same handlers run on both. Failed tries are retried with
 * exponential backoff; a job whose worker died is run again.
 */
export interface JobQueue {
  readonly driver: "embedded" | "bullmq";
  enqueue(name: string, data: JobData, options?: EnqueueOptions): Promise<EnqueueResult>;
  /** The same as `enqueue` for each job, written in as few round trips as the driver can (webhook intake batches). */
  enqueueMany(jobs: readonly NewJob[]): Promise<EnqueueResult[]>;
  readonly sameDatabase?: SameDatabaseEnqueue;
  /** Starts working jobs with these handlers. A job whose name has no handler fails with a clear error. */
  startWorker(handlers: JobHandlers, options: WorkerOptions): Promise<void>;
  /** Stops taking jobs, waits for running ones (up to `graceMs`), and releases the rest to run again. */
  stopWorker(graceMs?: number): Promise<void>;
  /** The jobs with these idempotency keys, as stored now; a key without a job is left out of the map. */
  jobsByKey(keys: readonly string[]): Promise<Map<string, KeyedJobState>>;
  /**
   * Runs `work` only where no other process runs work under this name at the same moment (a lock in
   * Redis that lapses after `ttlMs` if its holder dies); undefined when another process holds it.
   * Offered by the BullMQ driver; for the embedded queue the database's own locks serve.
   */
  exclusive?<T>(name: string, ttlMs: number, work: () => Promise<T>): Promise<{ value: T } | undefined>;
  /**
   * Jobs not finished (waiting, running, failed), by name where the driver can tell ("all" where it
   * cannot, BullMQ): read at each metrics scrape, so it costs one grouped query or one Redis call.
   */
  unfinishedJobs(): Promise<{ name: string; state: "waiting" | "running" | "failed"; count: number }[]>;
  /** Throws when the backing store cannot be reached (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
