import type { Logger } from "pino";
import type { Context } from "probot";
import type { AppEnv } from "../config/env.ts";
import type { RepoSettings } from "../config/repo-settings.ts";
import type { Db } from "../db/create-database.ts";
import type { Metrics } from "../metrics/amistio-metrics.ts";
import type { JobTry } from "../queue/job-queue.ts";
import type { Refusal } from "../refusals/refusals.ts";
import type { EnsuredTask } from "../tasks/ensure-task.ts";
import type { Planner } from "./planner.ts";

/**
 * What writing a plan version needs from the command that asked for it (`plan`, `revise`, the trigger
 * label). Commands' `CommandContext` has all of it; planning does not import commands.
 */
export interface PlanRequest {
  db: Db;
  env: AppEnv;
  octokit: Context["octokit"];
  log: Logger;
  settings: RepoSettings;
  /** The delivery that carried the command: a retried delivery finds the version it already made. */
  deliveryId: string;
  /** The delivery job's try: a retry looks for the plan comment an earlier try posted. */
  job: JobTry;
  owner: string;
  repo: string;
  task: EnsuredTask;
  actor: { userId: string; githubId: bigint };
  plannerFor(settings: RepoSettings): Promise<Planner>;
  reply(body: string, purpose?: string): Promise<void>;
  /** Replies with a refusal and its code, once per delivery and purpose. */
  refuse(refused: Refusal, purpose?: string): Promise<void>;
  audit(action: string, data?: Record<string, unknown>): Promise<void>;
  refresh(problem?: Refusal): Promise<void>;
  /** Plans counted by outcome. */
  metrics?: Pick<Metrics, "countPlan">;
}
