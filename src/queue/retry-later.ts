/** How long one job may wait in all (rate limits and the like) before a wait counts as a failed try. */
export const DEFAULT_MAX_WAIT_MS = 60 * 60 * 1000;

/**
 * Thrown by a handler that cannot go on before `until` through no fault of its own (GitHub's rate
 * limit): the queue runs the job again then, and the try is not counted, up to `DEFAULT_MAX_WAIT_MS`
 * of waiting per job. Past that it is an ordinary error.
 */
export class RetryLaterError extends Error {
  override name = "RetryLaterError";
  readonly until: Date;

  constructor(message: string, until: Date, options?: { cause?: unknown }) {
    super(message, options);
    this.until = until;
  }
}

/** What a job has waited so far; kept by the queue with the job. */
export interface JobWaits {
  /** How many times the job went back to the queue to wait. */
  count: number;
  /** The waits' total, in milliseconds. */
  totalMs: number;
  /** When the last wait ended (the `until` it was given); null before any wait. */
  lastUntil: Date | null;
}

export const NO_WAITS: JobWaits = Object.freeze({ count: 0, totalMs: 0, lastUntil: null });

/**
 * The error that says "wait", found where Probot and @octokit/webhooks put a handler's error (an
 * AggregateError's `errors`, an error's `cause`). When several errors came together, the job
 * waits only if every one of them says so, until the latest `until`; any other error fails the try.
 */
export function retryLaterIn(error: unknown, depth = 0): RetryLaterError | undefined {
  if (error instanceof RetryLaterError) return error;
  if (depth > 4 || typeof error !== "object" || error === null) return undefined;
  if (error instanceof AggregateError && error.errors.length > 0) {
    const found = error.errors.map((inner) => retryLaterIn(inner, depth + 1));
    if (found.some((inner) => inner === undefined)) return undefined;
    return (found as RetryLaterError[]).reduce((latest, inner) => (inner.until > latest.until ? inner : latest));
  }
  const cause = (error as { cause?: unknown }).cause;
  return cause === undefined ? undefined : retryLaterIn(cause, depth + 1);
}

export interface PlannedWait {
  delayMs: number;
  waits: JobWaits;
  /** For the job's `lastError` while it waits, and the logs. */
  message: string;
}

/**
 * Whether a failed try may wait instead of counting: only for a `RetryLaterError` whose wait keeps
 * the job's total within `maxWaitMs`. The delay is at least 1 s, so a stale `until` cannot spin.
 */
export function planWait(
  error: unknown,
  before: JobWaits,
  nowMs: number,
  maxWaitMs = DEFAULT_MAX_WAIT_MS,
): PlannedWait | undefined {
  const wait = retryLaterIn(error);
  if (!wait || Number.isNaN(wait.until.getTime())) return undefined;
  const delayMs = Math.max(1_000, wait.until.getTime() - nowMs);
  if (before.totalMs + delayMs > maxWaitMs) return undefined;
  const waits = { count: before.count + 1, totalMs: before.totalMs + delayMs, lastUntil: new Date(nowMs + delayMs) };
  return { delayMs, waits, message: `${wait.message} (waiting, not a failed try)` };
}

// The embedded queue keeps a job's waits in its `lastError` while it waits, as a marker before the
// message: the Job table has no column for them. An ordinary failure overwrites it, so the budget
// then starts again; a job can still wait only `maxAttempts` hours at most.
const MARKER = /^\[waits (\d+) (\d+) (\d+)\] /;

export function waitsToText(plan: PlannedWait): string {
  const { count, totalMs, lastUntil } = plan.waits;
  return `[waits ${count} ${totalMs} ${lastUntil?.getTime() ?? 0}] ${plan.message}`;
}

export function waitsFromText(text: string | null | undefined): JobWaits {
  const match = text ? MARKER.exec(text) : null;
  if (!match) return NO_WAITS;
  const until = Number(match[3]);
  return { count: Number(match[1]), totalMs: Number(match[2]), lastUntil: until > 0 ? new Date(until) : null };
}

/** BullMQ keeps them in the job's `progress`, which Amistio uses for nothing else. */
export function waitsFromProgress(progress: unknown): JobWaits {
  const value = (progress ?? {}) as { waits?: unknown };
  const waits = value.waits as { count?: unknown; totalMs?: unknown; lastUntil?: unknown } | undefined;
  if (!waits || typeof waits.count !== "number" || typeof waits.totalMs !== "number") return NO_WAITS;
  return {
    count: waits.count,
    totalMs: waits.totalMs,
    lastUntil: typeof waits.lastUntil === "number" ? new Date(waits.lastUntil) : null,
  };
}

export function waitsToProgress(waits: JobWaits): { waits: { count: number; totalMs: number; lastUntil: number } } {
  return { waits: { count: waits.count, totalMs: waits.totalMs, lastUntil: waits.lastUntil?.getTime() ?? 0 } };
}
