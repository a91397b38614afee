import { RetryLaterError } from "../queue/retry-later.ts";

/** What said wait: GitHub's answer (primary, secondary), an earlier answer still in force (known), or Amistio's own pacing. */
export type RateLimitKind = "primary" | "secondary" | "known" | "pacing";

// GitHub: "If you receive a secondary rate limit without retry-after, wait at least one minute."
const FALLBACK_WAIT_MS = 60_000;
// A header claiming more than this is not believed: an installation is never held back longer.
const LONGEST_BLOCK_MS = 2 * 60 * 60 * 1000;

export interface RateLimit {
  kind: "primary" | "secondary";
  until: Date;
}

interface ErrorLike {
  status?: unknown;
  message?: unknown;
  response?: { headers?: Record<string, unknown>; data?: unknown };
}

/**
 * Whether GitHub's answer is a rate limit, and until when to wait, as GitHub documents it: a 403
 * or 429 with `retry-after` (seconds, or an HTTP date) means wait that long; with
 * `x-ratelimit-remaining: 0`, until `x-ratelimit-reset` (epoch seconds) and a second more; a 429,
 * or a 403 whose message names a secondary rate limit, without either header, a minute. Any other
 * 403 is a refusal, not a limit. The wait is at least 1 s and at most 2 h, whatever a header says.
 */
export function rateLimitOf(error: unknown, nowMs: number): RateLimit | undefined {
  const { status, response } = (error ?? {}) as ErrorLike;
  if (status !== 403 && status !== 429) return undefined;
  const headers = response?.headers ?? {};
  const clamp = (ms: number) => new Date(nowMs + Math.min(LONGEST_BLOCK_MS, Math.max(1_000, ms)));
  const retryAfter = retryAfterMs(headers["retry-after"], nowMs);
  if (retryAfter !== undefined) return { kind: "secondary", until: clamp(retryAfter) };
  if (String(headers["x-ratelimit-remaining"]) === "0") {
    const reset = Number(headers["x-ratelimit-reset"]);
    const ms = Number.isFinite(reset) && reset > 0 ? reset * 1000 + 1000 - nowMs : FALLBACK_WAIT_MS;
    return { kind: "primary", until: clamp(ms) };
  }
  if (status === 429 || /secondary rate limit|abuse detection|rate limit exceeded/i.test(messageOf(error))) {
    return { kind: "secondary", until: clamp(FALLBACK_WAIT_MS) };
  }
  return undefined;
}

function retryAfterMs(value: unknown, nowMs: number): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Otherwise an HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT"); "-5" or "soon" count as absent.
  if (!/^[A-Za-z]{3}, \d/.test(text)) return undefined;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : date - nowMs;
}

function messageOf(error: unknown): string {
  const { message, response } = (error ?? {}) as ErrorLike;
  const data = response?.data as { message?: unknown } | undefined;
  return `${typeof message === "string" ? message : ""} ${typeof data?.message === "string" ? data.message : ""}`;
}

/** "14:05 UTC" (with seconds when the wait is short), for people. */
export function utcTime(date: Date, withSeconds = false): string {
  return `${date.toISOString().slice(11, withSeconds ? 19 : 16)} UTC`;
}

/**
 * GitHub (or Amistio's own write pacing) says: not before `until`. The job goes back to the queue
 * and waits without using a try. It keeps what code that inspects GitHub errors looks at (`status`,
 * `response`, `request`): a request refused before it was sent, because the installation is known
 * to be limited, has status 429 and no response.
 */
export class GithubRateLimitedError extends RetryLaterError {
  override name = "GithubRateLimitedError";
  readonly kind: RateLimitKind;
  readonly status: number;
  readonly response: unknown;
  readonly request: unknown;

  constructor(input: {
    kind: RateLimitKind;
    until: Date;
    route: string;
    status?: number;
    response?: unknown;
    request?: unknown;
    sent: boolean;
    cause?: unknown;
  }) {
    const what =
      input.kind === "pacing"
        ? "Amistio's pacing of content-creating requests (GitHub allows 80 a minute, 500 an hour)"
        : input.kind === "known"
          ? "GitHub's rate limit for this installation"
          : `GitHub's ${input.kind} rate limit`;
    const how = input.sent ? `answered ${input.status}` : "not sent";
    super(`${what}: waiting until ${input.until.toISOString()} (${input.route} ${how})`, input.until, {
      cause: input.cause,
    });
    this.kind = input.kind;
    this.status = input.status ?? 429;
    this.response = input.response;
    this.request = input.request;
  }
}
