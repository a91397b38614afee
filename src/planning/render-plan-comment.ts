import type { Plan } from "@amistio/contract/plan-schema";
import { DEFAULT_COMMAND_PREFIX } from "../config/command-prefix.ts";
import type { ContextReport } from "./gather-context.ts";
import type { PlanSource } from "./planner.ts";

export interface PlanCommentInput {
  taskId: string;
  version: number;
  contentHash: string;
  plan: Plan;
  source: PlanSource;
  model?: string | null;
  report: ContextReport;
  /** The repository's command prefix. */
  prefix?: string;
  /** The version this one replaces, after `revise`. */
  replaces?: number;
}

const MAX_LISTED = 30;

/**
 * The plan comment. Everything in the plan is untrusted (AI output or issue text), so it is shown
 * as text: no HTML (nothing can be hidden from the reviewer), no links or images, no mentions that
 * notify anyone, and invisible direction-changing characters made visible. What is approved is
 * exactly what is shown.
 */
/** The hidden first line of a plan comment: which task and version it shows. */
export function planCommentMarker(taskId: string, version: number): string {
  return `<!-- amistio:plan task=${taskId} version=${version} -->`;
}

export function renderPlanComment(input: PlanCommentInput): string {
  const { plan, version, report } = input;
  const prefix = input.prefix ?? DEFAULT_COMMAND_PREFIX;
  const shortHash = input.contentHash.slice(0, 12);
  const lines: string[] = [
    planCommentMarker(input.taskId, version),
    `### Amistio plan v${version} · \`${shortHash}\``,
    "",
    input.source === "openai"
      ? `> **AI-generated — review before approving.** Written by ${input.model ? codeSpan(input.model) : "an AI model"} from the issue, its comments and files of this repository.`
      : "> **Offline plan built from the issue text.** No AI model was used: review before approving.",
  ];
  if (input.replaces !== undefined) {
    lines.push(">", `> Replaces v${input.replaces}: approvals of earlier versions no longer count.`);
  }
  lines.push("", ...escapeBlock(plan.summary), "", "#### Steps", "");
  plan.steps.forEach((step, index) => {
    lines.push(`${index + 1}. **${escapeLine(step.title)}**`);
    const details = escapeBlock(step.details);
    for (const line of details) lines.push(line === "" ? "" : `    ${line}`);
    // The blank line keeps "Files" out of a list the details may end with.
    if (step.files.length > 0)
      lines.push(...(details.length > 0 ? [""] : []), `    Files: ${step.files.map(codeSpan).join(", ")}`);
  });
  lines.push(
    ...listSection("Risks", plan.risks),
    ...listSection("Tests", plan.tests),
    ...listSection("Open questions", plan.questions),
    "",
    "#### What next",
    "",
    `- Approve this version: \`${prefix} approve v${version}\``,
    `- Ask for changes: \`${prefix} revise <what to change>\``,
    `- Reject it: \`${prefix} reject <reason>\``,
    "",
    `An approval counts only for v${version} with content hash \`${shortHash}\`; a new version needs new approvals.`,
    "",
    "<details>",
    "<summary>Where this plan came from</summary>",
    "",
    ...provenance(report),
    "",
    "</details>",
  );
  return lines.join("\n");
}

function listSection(title: string, items: string[]): string[] {
  return ["", `#### ${title}`, "", ...(items.length > 0 ? items.map((item) => `- ${escapeLine(item)}`) : ["_None._"])];
}

function provenance(report: ContextReport): string[] {
  const comments = report.comments.map((id) => `[${id}](#issuecomment-${id})`);
  const redactions = report.redactions.reduce((sum, finding) => sum + finding.count, 0);
  return [
    `- Comments: ${comments.length > 0 ? bounded(comments) : "none"}`,
    `- Repository files: ${report.files.length > 0 ? bounded(report.files.map(codeSpan)) : "none"}`,
    redactions > 0
      ? `- Secrets redacted before anything was sent: ${redactions} (${report.redactions.map((f) => `${escapeLine(f.rule)} ×${f.count}`).join(", ")})`
      : "- Secrets redacted: none found",
    ...(report.omitted.length > 0
      ? [
          "- Left out or cut:",
          ...report.omitted.slice(0, MAX_LISTED).map((o) => `  - ${escapeLine(o.what)}: ${escapeLine(o.why)}`),
          ...(report.omitted.length > MAX_LISTED ? [`  - …and ${report.omitted.length - MAX_LISTED} more`] : []),
        ]
      : ["- Left out or cut: nothing"]),
  ];
}

function bounded(items: string[]): string {
  const shown = items.slice(0, MAX_LISTED).join(", ");
  return items.length > MAX_LISTED ? `${shown} and ${items.length - MAX_LISTED} more` : shown;
}

/** Multi-line untrusted text as Markdown lines that cannot open code blocks, HTML, headings or tables. */
function escapeBlock(text: string): string[] {
  const lines: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" && (lines.length === 0 || lines.at(-1) === "")) continue;
    lines.push(line === "" ? "" : escapeStart(escapeLine(line)));
  }
  while (lines.at(-1) === "") lines.pop();
  return lines;
}

/**
 * A line that would start a fence, heading, quote, table row or setext underline is escaped, and so
 * is one that would look like a command.
 */
function escapeStart(line: string): string {
  if (/^(```|~~~|#|>|\||\/|[-=:|\s]+$)/.test(line)) return `\\${line}`;
  return line;
}

const INVISIBLE = /[\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF]/g;

/**
 * One line of untrusted text: code spans kept literally, and outside them `<` (HTML), `[` (links
 * and images) and mentions neutralised. Newlines become spaces.
 */
function escapeLine(text: string): string {
  const visible = text
    .replace(/\s*\r?\n\s*/g, " ")
    .replace(INVISIBLE, (c) => `⟨U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}⟩`);
  let result = "";
  let last = 0;
  for (const match of visible.matchAll(/(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)/g)) {
    result += escapeProse(visible.slice(last, match.index)) + match[0];
    last = match.index + match[0].length;
  }
  return result + escapeProse(visible.slice(last));
}

function escapeProse(text: string): string {
  return text
    .replace(/</g, "&lt;")
    .replace(/\[/g, "\\[")
    .replace(/(^|[^\w`])@([A-Za-z\d][\w-]*(?:\/[\w.-]+)?)/g, "$1`@$2`");
}

/** A code span that holds any text, backticks included. */
function codeSpan(text: string): string {
  const clean = text.replace(/\s*\r?\n\s*/g, " ");
  const longest = Math.max(0, ...[...clean.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  const pad = clean.startsWith("`") || clean.endsWith("`") ? " " : "";
  return `${fence}${pad}${clean}${pad}${fence}`;
}
