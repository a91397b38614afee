import type { CommandRunner } from "./command-context.ts";

/** `cancel`: the requester or a writer stops queued or running work. */
export const runCancel: CommandRunner = async (context) => {
  await context.reply("Nothing to cancel yet.");
};
