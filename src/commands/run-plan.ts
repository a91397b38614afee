import { createPlanVersion } from "../planning/create-plan-version.ts";
import type { CommandRunner } from "./command-context.ts";

/** `plan [instructions]` (and the trigger label): a new plan version from the issue. */
export const runPlan: CommandRunner = (context) => createPlanVersion(context);
