import type { Logger } from "pino";
import type { Context } from "probot";
import type { PermissionLevel, PermissionQuery } from "../approvals/repository-permission.ts";
import type { AppEnv } from "../config/env.ts";
import type { RepoSettings } from "../config/repo-settings.ts";
import type { Db } from "../db/create-database.ts";
import type { Metrics } from "../metrics/amistio-metrics.ts";
import type { Planner } from "../planning/planner.ts";
import type { JobQueue, JobTry } from "../queue/job-queue.ts";
import type { Refusal } from "../refusals/refusals.ts";
import type { EnsuredTask } from "../tasks/ensure-task.ts";
import type { ParsedCommand } from "./parse-commands.ts";

export type Octokit = Context["octokit"];

/** The services every command runner may use; built once in index.ts. */
export interface CommandServices {
  db: Db;
  queue: JobQueue;
  env: AppEnv;
  /** The planner this repository's settings ask for. */
  plannerFor(settings: RepoSettings): Promise<Planner>;
  repositoryPermission(octokit: Octokit, query: PermissionQuery): Promise<PermissionLevel>;
  /** The process's metrics (plans, refused approvals); absent in tests that do not look. */
  metrics?: Metrics;
}

/** One accepted command, already authorised for its verb's base permission. */
export interface CommandContext extends CommandServices {
  octokit: Octokit;
  log: Logger;
  settings: RepoSettings;
  command: ParsedCommand;
  /** The delivery (or label event) that carried the command; keys every post so retries never repeat one. */
  deliveryId: string;
  /** The delivery job's try (attempt, waits): a retry finishes what an earlier try started. */
  job: JobTry;
  owner: string;
  repo: string;
  task: EnsuredTask;
  /** Who sent the command: `githubId` is what rules about people are decided on. */
  actor: { userId: string; githubId: bigint; login: string; type: string; permission: PermissionLevel };
  /** Replies once per delivery and purpose. */
  reply(body: string, purpose?: string): Promise<void>;
  /** Replies with a refusal and its code, once per delivery and purpose. */
  refuse(refused: Refusal, purpose?: string): Promise<void>;
  audit(action: string, data?: Record<string, unknown>): Promise<void>;
  /** Re-renders the tracking comment; `problem` is shown until the next update. */
  refresh(problem?: Refusal): Promise<void>;
}

export type CommandRunner = (context: CommandContext) => Promise<void>;
