import type { CommandRunner } from "./command-context.ts";

/** `retry`: a new run of the approved version, while its approvals and hash still hold. */
export const runRetry: CommandRunner = async (context) => {
  await context.reply("Nothing to retry yet.");
};
