import type { CommandRunner } from "./command-context.ts";
import { renderHelp } from "./render-help.ts";

/** `help`, a bare prefix, and any unknown verb: the command list for this repository. */
export const runHelp: CommandRunner = (context) =>
  context.reply(
    renderHelp({
      settings: context.settings,
      ...(context.command.verb === "unknown" ? { unknownVerb: context.command.word } : {}),
    }),
  );
