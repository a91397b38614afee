import MarkdownIt, { type Token } from "markdown-it";
import { DEFAULT_COMMAND_PREFIX } from "../config/command-prefix.ts";
import { type Refusal, refusal } from "../refusals/refusals.ts";

export const COMMAND_VERBS = ["plan", "revise", "approve", "reject", "cancel", "retry", "status", "help"] as const;

export type CommandVerb = (typeof COMMAND_VERBS)[number] | "unknown";

export interface ParsedCommand {
  verb: CommandVerb;
  /** The verb as typed, lower-cased ("" for a bare prefix), so a reply can name an unknown verb. */
  word: string;
  /** Everything after the verb, with runs of whitespace collapsed to one space. */
  args: string;
  /** The command line as written, trimmed. */
  raw: string;
  /** 1-based line number in the comment body. */
  line: number;
  /** The plan version named by `approve vN`. */
  version?: number;
  /** Why the command cannot be acted on as written; absent when it is well formed. */
  problem?: Refusal;
  /** True for the one command that acts: the first command line of the comment. */
  acts: boolean;
}

/** Only this many characters of a comment are scanned, so a huge body costs a bounded amount of work. */
export const MAX_SCANNED_CHARS = 65_536;

const VERBS = new Set<string>(COMMAND_VERBS);
const VERSION_TOKEN = /^v(\d{1,9})$/i;
// html: true so HTML comments and blocks are recognised the way GitHub renders them.
const markdown = new MarkdownIt({ html: true });

/**
 * Finds the Amistio commands in a comment body.
 *
 * A command is a line of an ordinary top-level paragraph (or heading) that starts, after at most
 * three spaces, with the prefix (default `/amistio`, matched case-insensitively) followed by
 * whitespace or the end of the line. Because the body is read as Markdown (CommonMark), lines in
 * block quotes (including lazy continuation lines), fenced code (``` or ~~~, closed only by a fence
 * at least as long), indented code, HTML blocks and comments, and list items are never commands:
 * quoting someone else's command does not repeat it.
 *
 * Several command lines in one comment: all are returned in order, but only the first has
 * `acts: true`; the caller acts on it and reports the others as ignored. One comment therefore
 * never triggers two actions, and the acting command is always the one a reader sees first.
 *
 * `approve` takes nothing or a version `vN` (optionally followed by a note). Anything else as its
 * first word — `vX`, `v0`, `looks good` — sets `problem`: approving is the gate, so it is refused
 * rather than guessed. `revise` without feedback also sets `problem`. A bare prefix means `help`.
 */
export function parseCommands(body: string, options: { prefix?: string } = {}): ParsedCommand[] {
  const prefix = (options.prefix ?? DEFAULT_COMMAND_PREFIX).toLowerCase();
  const source = body.slice(0, MAX_SCANNED_CHARS).replace(/\r\n?/g, "\n").replace(/\0/g, "\uFFFD");
  const lines = source.split("\n");
  const tokens: Token[] = [];
  markdown.block.parse(source, markdown, {}, tokens);

  const commands: ParsedCommand[] = [];
  for (const token of tokens) {
    if (token.level !== 0 || !token.map || (token.type !== "paragraph_open" && token.type !== "heading_open")) continue;
    const [start, end] = token.map;
    for (let index = start; index < end; index++) {
      const command = parseLine(lines[index] ?? "", prefix, index + 1);
      if (command) commands.push({ ...command, acts: commands.length === 0 });
    }
  }
  return commands;
}

function parseLine(text: string, prefix: string, line: number): Omit<ParsedCommand, "acts"> | undefined {
  const indent = /^ {0,3}/.exec(text)?.[0].length ?? 0;
  const rest = text.slice(indent);
  if (rest.slice(0, prefix.length).toLowerCase() !== prefix) return undefined;
  const after = rest.slice(prefix.length);
  if (after !== "" && !/^\s/.test(after)) return undefined;

  const words = after.trim().split(/\s+/).filter(Boolean);
  const word = (words[0] ?? "").toLowerCase();
  const args = words.slice(1).join(" ");
  const raw = rest.trim();
  if (word === "") return { verb: "help", word, args, raw, line };
  if (!VERBS.has(word)) return { verb: "unknown", word, args, raw, line };
  const command = { verb: word as CommandVerb, word, args, raw, line };

  if (command.verb === "approve" && args !== "") {
    const first = words[1] ?? "";
    const version = Number(VERSION_TOKEN.exec(first)?.[1] ?? 0);
    if (version >= 1) return { ...command, version };
    return {
      ...command,
      problem: refusal("command.bad_version", { token: first, prefix }),
    };
  }
  if (command.verb === "revise" && args === "") {
    return {
      ...command,
      problem: refusal("command.no_feedback", { prefix }),
    };
  }
  return command;
}
