import { createPlanVersion } from "../planning/create-plan-version.ts";
import type { CommandRunner } from "./command-context.ts";

/** `revise <feedback>`: version N+1 from version N and the feedback; earlier approvals stop counting. */
export const runRevise: CommandRunner = (context) => createPlanVersion(context, { feedback: context.command.args });
