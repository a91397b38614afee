import type { Logger } from "pino";
import { Probot, ProbotOctokit } from "probot";
import type { AppEnv } from "../config/env.ts";
import type { Metrics } from "../metrics/amistio-metrics.ts";
import { withGithubMetrics } from "./github-metrics.ts";
import { githubOctokit } from "./github-octokit.ts";
import type { WritePacer } from "./write-pacer.ts";

export interface CreateProbotOptions {
  env: Pick<AppEnv, "APP_ID" | "privateKey" | "WEBHOOK_SECRET" | "githubApiUrl">;
  logger: Logger;
  /**
   * Paces writes and remembers GitHub's rate limits per installation (`githubOctokit`). Tests that
   * pass their own `Octokit` (retries and throttling off) pass none.
   */
  pacer?: WritePacer;
  /** Tests pass an Octokit with retries and throttling off, and a fixed token. */
  Octokit?: typeof ProbotOctokit;
  githubToken?: string;
  /** Requests to GitHub and the rate limit left are recorded here. */
  metrics?: Metrics;
}

/**
 * The Probot instance the worker hands deliveries to (`probot.receive`). Signatures are already
 * checked at intake, so this instance never sees raw HTTP.
 */
export function createProbot(options: CreateProbotOptions): Probot {
  const { env } = options;
  const limited = options.Octokit ?? (options.pacer ? githubOctokit({ pacer: options.pacer }) : undefined);
  const Octokit = options.metrics ? withGithubMetrics(limited ?? ProbotOctokit, options.metrics) : limited;
  return new Probot({
    appId: env.APP_ID,
    privateKey: env.privateKey,
    secret: env.WEBHOOK_SECRET,
    baseUrl: env.githubApiUrl,
    log: options.logger,
    ...(Octokit ? { Octokit } : {}),
    ...(options.githubToken ? { githubToken: options.githubToken } : {}),
  });
}
