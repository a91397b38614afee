import type { Logger } from "pino";
import type { Context } from "probot";
import type { AppEnv } from "../config/env.ts";
import type { Db } from "../db/create-database.ts";
import type { JobQueue, JobTry } from "../queue/job-queue.ts";

export type Octokit = Context["octokit"];

/** What the run jobs, webhook handlers and runner API share; built once in index.ts. */
export interface RunServices {
  db: Db;
  queue: JobQueue;
  env: Pick<AppEnv, "AMISTIO_PUBLIC_URL" | "githubWebUrl">;
  logger: Logger;
  /** An Octokit for one installation (`probot.auth(id)`). */
  octokitFor(installationId: bigint): Promise<Octokit>;
  now?: () => Date;
  /**
   * The try of the job (or delivery) this work runs in, set by each job handler on its own copy of
   * the services: a post looks for its earlier self only on a retry or after a wait. Absent outside
   * jobs (the runner API).
   */
  job?: JobTry;
}
