import type { Logger } from "pino";
import type { Probot } from "probot";
import type { AppEnv } from "../config/env.ts";
import type { Db } from "../db/create-database.ts";
import type { JobQueue } from "../queue/job-queue.ts";
import type { JobHandlerMap } from "../queue/jobs.ts";
import { dispatchRunJob } from "./dispatch-run-job.ts";
import { finishRunJob } from "./finish-run-job.ts";
import { followWorkflowRuns } from "./follow-workflow-runs.ts";
import { queuedRunCheckJob } from "./queued-run-check-job.ts";
import type { Octokit, RunServices } from "./run-services.ts";
import type { RunnerApiOptions } from "./runner-api.ts";
import { createRunnerTokenVerifier, GITHUB_ACTIONS_ISSUER } from "./verify-runner-token.ts";

export interface CreateRunsOptions {
  env: Pick<AppEnv, "AMISTIO_PUBLIC_URL" | "AMISTIO_RUNNER_OIDC_ISSUER" | "GHE_HOST" | "githubWebUrl">;
  db: Db;
  queue: JobQueue;
  logger: Logger;
  probot: Probot;
}

/** Everything about runs that index.ts wires in: job handlers, webhook handlers, the runner API. */
export function createRuns(options: CreateRunsOptions) {
  const { env, probot } = options;
  const services: RunServices = {
    db: options.db,
    queue: options.queue,
    env,
    logger: options.logger.child({ component: "runs" }),
    octokitFor: async (installationId) => (await probot.auth(Number(installationId))) as unknown as Octokit,
  };
  const runnerApi: RunnerApiOptions = {
    services,
    verifyToken: createRunnerTokenVerifier({ issuer: runnerTokenIssuer(env) }),
  };
  const jobHandlers = {
    "run.dispatch": dispatchRunJob(services),
    "run.queued-check": queuedRunCheckJob(services),
    "run.finish": finishRunJob(services),
  } satisfies Partial<JobHandlerMap>;
  return {
    services,
    jobHandlers,
    runnerApi,
    /** Registers the workflow_run / workflow_job handlers on the Probot app. */
    follow: (app: Probot) => followWorkflowRuns(app, services),
  };
}

/** github.com's issuer, or the Enterprise Server's own, unless AMISTIO_RUNNER_OIDC_ISSUER says otherwise. */
export function runnerTokenIssuer(env: CreateRunsOptions["env"]): string {
  if (env.AMISTIO_RUNNER_OIDC_ISSUER) return env.AMISTIO_RUNNER_OIDC_ISSUER;
  return env.GHE_HOST ? `${env.githubWebUrl}/_services/token` : GITHUB_ACTIONS_ISSUER;
}
