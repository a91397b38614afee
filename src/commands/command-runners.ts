import type { PermissionLevel } from "../approvals/repository-permission.ts";
import type { RepoSettings } from "../config/repo-settings.ts";
import type { CommandRunner } from "./command-context.ts";
import { COMMAND_VERBS, type CommandVerb } from "./parse-commands.ts";
import { runApprove } from "./run-approve.ts";
import { runCancel } from "./run-cancel.ts";
import { runHelp } from "./run-help.ts";
import { runPlan } from "./run-plan.ts";
import { runReject } from "./run-reject.ts";
import { runRetry } from "./run-retry.ts";
import { runRevise } from "./run-revise.ts";
import { runStatus } from "./run-status.ts";

interface CommandSpec {
  run: CommandRunner;
  /**
   * The repository permission needed before the runner is called. Finer rules (the approval
   * policy, "the requester may cancel") live in the runner itself.
   */
  minimum(settings: RepoSettings): PermissionLevel;
}

/** One runner per verb, in one map. `checkCommandRunners` runs at start, so a verb without a runner fails the boot. */
export const COMMAND_RUNNERS: Readonly<Record<CommandVerb, CommandSpec>> = {
  plan: { run: runPlan, minimum: (settings) => settings.commands.requestPermission },
  revise: { run: runRevise, minimum: (settings) => settings.commands.requestPermission },
  approve: { run: runApprove, minimum: () => "none" },
  reject: { run: runReject, minimum: (settings) => settings.approvals.minPermission },
  cancel: { run: runCancel, minimum: () => "read" },
  retry: { run: runRetry, minimum: () => "write" },
  status: { run: runStatus, minimum: () => "read" },
  help: { run: runHelp, minimum: () => "none" },
  unknown: { run: runHelp, minimum: () => "none" },
};

export function checkCommandRunners(runners: Record<string, CommandSpec | undefined> = COMMAND_RUNNERS): void {
  const missing = [...COMMAND_VERBS, "unknown"].filter((verb) => typeof runners[verb]?.run !== "function");
  if (missing.length > 0) throw new Error(`commands without a runner: ${missing.join(", ")}`);
}
