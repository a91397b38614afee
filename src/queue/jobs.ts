import { z } from "zod";
import { type JobOutcome, type Metrics, secondsSince } from "../metrics/amistio-metrics.ts";
import {
  DEFAULT_MAX_ATTEMPTS,
  type EnqueueOptions,
  type EnqueueResult,
  type JobContext,
  type JobHandler,
  type JobHandlers,
  type JobQueue,
  type NewJob,
  PermanentJobError,
} from "./job-queue.ts";
import { retryLaterIn } from "./retry-later.ts";

const runInput = z.object({ runId: z.string().min(1) });
const jsonObject = z.custom<object>(
  (value) => typeof value === "object" && value !== null && !Array.isArray(value),
  "expected a JSON object",
);

/**
 * Every job Amistio runs: its name, what it does, its input's schema and its retry policy (tries
 * before it is kept as failed). Producers queue through `enqueueJob` / `newJob`, so a name or an input
 * that is not here does not compile; the worker gets its handlers through `jobHandlers`, which
 * refuses at start a list that misses one, and fails at once, naming the job and the schema's
 * complaint, a job whose stored input does not fit (no retry can fix it).
 */
export const JOBS = {
  "webhook.deliver": {
    does: "hands a stored webhook delivery to the Probot handlers (webhooks/deliver-webhook.ts)",
    input: z.object({
      deliveryId: z.string().regex(/^[0-9a-zA-Z-]{1,100}$/, "not a delivery id"),
      event: z.string().regex(/^[a-z_]{1,64}$/, "not an event name"),
      /** With the embedded queue. Without it or `body`, the payload is read from the delivery's row (BullMQ). */
      payload: jsonObject.optional(),
      /** Instead of `payload`, in jobs queued by 0.1.0: the body as received. */
      body: z.string().optional(),
    }),
    maxAttempts: DEFAULT_MAX_ATTEMPTS,
  },
  "run.dispatch": {
    does: "starts an approved run's workflow and finds the workflow run it started (runs/dispatch-run-job.ts)",
    input: runInput,
    // The last try posts the failure on the task instead of throwing.
    maxAttempts: 5,
  },
  "run.queued-check": {
    does: "tells the task when a dispatched run still waits for a runner (runs/queued-run-check-job.ts)",
    input: runInput,
    maxAttempts: DEFAULT_MAX_ATTEMPTS,
  },
  "run.finish": {
    does: "acts on the runner's report: pull request, comment, check run (runs/finish-run-job.ts)",
    input: runInput,
    maxAttempts: DEFAULT_MAX_ATTEMPTS,
  },
  "repository.index": {
    does: "builds or updates a repository's index ahead of its next plan (indexing/index-ahead.ts)",
    input: z.object({
      installationId: z.number().int().positive(),
      repositoryId: z.string().min(1),
      fullName: z.string().regex(/^[^/\s]+\/[^/\s]+$/),
    }),
    maxAttempts: 2,
  },
} as const satisfies Record<string, { does: string; input: z.ZodType<Record<string, unknown>>; maxAttempts: number }>;

export type JobName = keyof typeof JOBS;
export type JobInput<N extends JobName> = z.infer<(typeof JOBS)[N]["input"]>;
export type TypedJobHandler<N extends JobName> = (data: JobInput<N>, context: JobContext) => Promise<void>;
/** One handler for every job in `JOBS`. */
export type JobHandlerMap = { readonly [N in JobName]: TypedJobHandler<N> };

/** What a producer may choose; the tries come from `JOBS`. */
export type JobOptions = Omit<EnqueueOptions, "maxAttempts">;

export function enqueueJob<N extends JobName>(
  queue: JobQueue,
  name: N,
  data: JobInput<N>,
  options: JobOptions = {},
): Promise<EnqueueResult> {
  return queue.enqueue(name, data, { ...options, maxAttempts: JOBS[name].maxAttempts });
}

/** A job to queue with others (`enqueueMany`, or stored with a delivery by `SameDatabaseEnqueue`). */
export function newJob<N extends JobName>(
  name: N,
  data: JobInput<N>,
  options: JobOptions = {},
  /** `data` already as JSON text, when the caller has it cheaper than serialising `data`. */
  dataJson?: string,
): NewJob {
  return {
    name,
    data,
    ...(dataJson === undefined ? {} : { dataJson }),
    options: { ...options, maxAttempts: JOBS[name].maxAttempts },
  };
}

/**
 * A job whose input is already stored as JSON text (a replay of what the queue kept): the worker
 * checks it against the job's schema when it runs.
 */
export function storedJob(name: JobName, dataJson: string, options: JobOptions = {}): NewJob {
  return { name, data: {}, dataJson, options: { ...options, maxAttempts: JOBS[name].maxAttempts } };
}

/** The handler the worker runs: the input checked against the job's schema first. */
export function checkedJobHandler<N extends JobName>(name: N, handler: TypedJobHandler<N>): JobHandler {
  // One schema per name; TypeScript cannot narrow the union of schemas by a generic key.
  const schema = JOBS[name].input as unknown as z.ZodType<JobInput<N>>;
  return async (data, context) => {
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(input)"}: ${issue.message}`);
      throw new PermanentJobError(`job ${name}: invalid input: ${problems.join("; ")}`);
    }
    await handler(parsed.data, context);
  };
}

/**
 * The worker's handlers, checked at start: one for every job in `JOBS` and nothing else, so a job
 * without a handler fails the boot rather than every job of its name.
 */
export function jobHandlers(
  handlers: JobHandlerMap,
  options: { metrics?: Pick<Metrics, "observeJob" | "observeJobWait"> } = {},
): JobHandlers {
  const names = Object.keys(JOBS) as JobName[];
  const missing = names.filter((name) => typeof handlers[name] !== "function");
  const unknown = Object.keys(handlers).filter((name) => !(name in JOBS));
  if (missing.length > 0 || unknown.length > 0) {
    throw new Error(
      `job handlers do not match the job list (src/queue/jobs.ts): ${[
        ...missing.map((name) => `no handler for ${name}`),
        ...unknown.map((name) => `${name} is not a job`),
      ].join("; ")}`,
    );
  }
  const { metrics } = options;
  return Object.fromEntries(
    names.map((name) => {
      const handler = checkedJobHandler(name, handlers[name] as TypedJobHandler<typeof name>);
      return [name, metrics ? measuredJobHandler(name, handler, metrics) : handler];
    }),
  );
}

/** What a failed try comes to, as the queue will treat it. */
function failedOutcome(error: unknown, context: JobContext): JobOutcome {
  if (retryLaterIn(error)) return "waiting";
  return error instanceof PermanentJobError || context.lastAttempt === true ? "failed" : "retry";
}

/** The handler with its queue wait, duration and outcome recorded (both drivers run it the same). */
function measuredJobHandler(
  name: JobName,
  handler: JobHandler,
  metrics: Pick<Metrics, "observeJob" | "observeJobWait">,
): JobHandler {
  return async (data, context) => {
    const started = process.hrtime.bigint();
    const dueAt = context.dueAt?.getTime();
    if (dueAt !== undefined && Number.isFinite(dueAt)) metrics.observeJobWait(name, (Date.now() - dueAt) / 1000);
    try {
      await handler(data, context);
      metrics.observeJob(name, "succeeded", secondsSince(started));
    } catch (error) {
      metrics.observeJob(name, failedOutcome(error, context), secondsSince(started));
      throw error;
    }
  };
}
