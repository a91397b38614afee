import type { Logger } from "pino";
import { Probot, type ProbotOctokit } from "probot";
import type { AppEnv } from "../config/env.ts";
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
}

/**
 * The Probot instance the worker hands deliveries to (`probot.receive`). Signatures are already
 * checked at intake, so this instance never sees raw HTTP.
 */
export function createProbot(options: CreateProbotOptions): Probot {
  const { env } = options;
  const Octokit = options.Octokit ?? (options.pacer ? githubOctokit({ pacer: options.pacer }) : undefined);
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
