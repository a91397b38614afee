import { ProbotOctokit } from "probot";
import { GithubRateLimitedError, rateLimitOf } from "./github-rate-limit.ts";
import type { WritePacer } from "./write-pacer.ts";

/** Waits up to this long inside one try (a write slot, a short `retry-after`); longer ones go back to the queue. */
export const DEFAULT_IN_PROCESS_WAIT_MS = 5_000;

// @octokit/plugin-retry's own list, plus 429: it would retry a 429 three times within 14 s whatever
// `retry-after` says, sending more requests into the limit; rate limits are handled below instead.
const DO_NOT_RETRY = [400, 401, 403, 404, 410, 422, 429, 451];

export interface GithubLimitsOptions {
  pacer: WritePacer;
  inProcessWaitMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

interface PluginOptions extends GithubLimitsOptions {
  /** Whose limits: the installation id, or "app" for the App itself (and a fixed test token). */
  key: string;
}

/** A request as Octokit's `request` hook sees it. */
export interface RequestOptions {
  method: string;
  url: string;
  [name: string]: unknown;
}

/** The part of an Octokit instance a plugin wraps requests with. */
export interface RequestHook {
  hook: {
    wrap(
      name: "request",
      wrapper: (request: (options: RequestOptions) => Promise<unknown>, options: RequestOptions) => Promise<unknown>,
    ): void;
  };
}

interface HookedOctokit extends RequestHook {
  log: { warn(...args: unknown[]): void };
}

/**
 * Probot's Octokit with Amistio's handling of GitHub's limits:
 *
 * - Writes (POST, PATCH, PUT, DELETE) are paced per installation by the `WritePacer` — in Redis
 *   when there is one, so that more workers do not mean more writes against one installation.
 * - A rate-limited answer (403/429 with `retry-after` or `x-ratelimit-remaining: 0`) becomes a
 *   `GithubRateLimitedError`: the job goes back to the queue until the limit lifts without using a
 *   try, and the installation is marked limited, so no other job sends it anything before then.
 * - Probot's throttling plugin still retries in-process, but only waits of up to `inProcessWaitMs`
 *   (Probot's defaults would retry a primary limit three times, waiting up to an hour each inside
 *   one try), and the retry plugin no longer retries 429s.
 */
export function githubOctokit(options: GithubLimitsOptions & { base?: typeof ProbotOctokit }): typeof ProbotOctokit {
  const base = options.base ?? ProbotOctokit;
  const shortSeconds = (options.inProcessWaitMs ?? DEFAULT_IN_PROCESS_WAIT_MS) / 1000;
  // Called by @octokit/plugin-throttling with (retryAfter in seconds, options, octokit, retryCount).
  const shortOnly = (retryAfter: number, _options: unknown, _octokit: unknown, retryCount: number) =>
    retryAfter <= shortSeconds && retryCount < 1;
  const withPlugin = base.plugin(githubLimitsPlugin as never) as unknown as typeof ProbotOctokit;
  return withPlugin.defaults((instance: Record<string, unknown>) => {
    const auth = instance.auth as { installationId?: number | string } | undefined;
    const throttle = (instance.throttle ?? {}) as Record<string, unknown>;
    const retry = (instance.retry ?? {}) as Record<string, unknown>;
    const key =
      auth?.installationId !== undefined
        ? String(auth.installationId)
        : typeof throttle.id === "string" && throttle.id !== "no-id"
          ? throttle.id
          : "app";
    return {
      ...instance,
      // The throttling plugin keys its in-process write lane by `id`: per installation, not one for all.
      throttle: { ...throttle, id: key, onRateLimit: shortOnly, onSecondaryRateLimit: shortOnly },
      retry: { ...retry, doNotRetry: DO_NOT_RETRY },
      githubLimits: { ...options, key } satisfies PluginOptions,
    };
  }) as typeof ProbotOctokit;
}

function githubLimitsPlugin(octokit: HookedOctokit, octokitOptions: { githubLimits?: PluginOptions }): object {
  const limits = octokitOptions.githubLimits;
  if (!limits) return {};
  const { pacer, key } = limits;
  const now = limits.now ?? Date.now;
  const sleep = limits.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const inProcessWaitMs = limits.inProcessWaitMs ?? DEFAULT_IN_PROCESS_WAIT_MS;

  octokit.hook.wrap("request", async (request, options) => {
    const method = String(options.method).toUpperCase();
    const path = new URL(String(options.url), "http://github.test").pathname;
    // Installation tokens are the App's own requests, outside an installation's limits.
    if (isAuthRequest(method, path)) return request(options);
    const route = `${method} ${options.url}`;
    const blocked = await pacer.blockedUntil(key);
    if (blocked) throw new GithubRateLimitedError({ kind: "known", until: blocked, route, sent: false });
    if (isWrite(method, path)) {
      const slot = await pacer.reserve(key, inProcessWaitMs);
      if (!slot.reserved) {
        throw new GithubRateLimitedError({ kind: "pacing", until: new Date(now() + slot.waitMs), route, sent: false });
      }
      if (slot.waitMs > 0) await sleep(slot.waitMs);
    }
    try {
      return await request(options);
    } catch (error) {
      const limit = rateLimitOf(error, now());
      if (!limit) throw error;
      try {
        await pacer.block(key, limit.until);
      } catch (blockError) {
        octokit.log.warn({ err: blockError }, "could not record a GitHub rate limit for other workers");
      }
      const {
        status,
        response,
        request: sentRequest,
      } = error as {
        status?: number;
        response?: unknown;
        request?: unknown;
      };
      throw new GithubRateLimitedError({
        kind: limit.kind,
        until: limit.until,
        route,
        sent: true,
        ...(status !== undefined ? { status } : {}),
        response,
        request: sentRequest,
        cause: error,
      });
    }
  });
  return {};
}

function isWrite(method: string, path: string): boolean {
  return method !== "GET" && method !== "HEAD" && method !== "OPTIONS" && !path.endsWith("/graphql");
}

/** The same routes @octokit/plugin-throttling treats as authentication. */
function isAuthRequest(method: string, path: string): boolean {
  return (
    (method === "PATCH" && /^\/applications\/[^/]+\/token\/scoped$/.test(path)) ||
    (method === "POST" &&
      (/^\/applications\/[^/]+\/token$/.test(path) ||
        /\/app\/installations\/[^/]+\/access_tokens$/.test(path) ||
        path === "/login/oauth/access_token"))
  );
}
