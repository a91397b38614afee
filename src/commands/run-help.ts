import { refusal, refusalComment } from "../refusals/refusals.ts";
import type { CommandRunner } from "./command-context.ts";
import { renderHelp } from "./render-help.ts";

/** `help`, a bare prefix, and any unknown verb: the command list for this repository. */
export const runHelp: CommandRunner = (context) => {
  const help = renderHelp({ settings: context.settings });
  if (context.command.verb !== "unknown") return context.reply(help);
  return context.reply(refusalComment(refusal("command.unknown", { word: context.command.word, help })));
};
