import { type Plan, type PlanStep, planSchema } from "@amistio/contract/plan-schema";
import { redactSecrets } from "@amistio/contract/redact-secrets";
import MarkdownIt, { type Token } from "markdown-it";
import type { Planner, PlannerInput, PlannerResult } from "./planner.ts";

const MAX_STEPS = 25;
const MAX_QUESTIONS = 5;
const markdown = new MarkdownIt({ html: true });

interface Outline {
  from: "task list" | "sections" | "description";
  steps: { title: string; details: string }[];
  /** Task list items already checked off. */
  done: number;
  questions: string[];
}

/**
 * A planner that needs no AI provider: the plan is the issue's own structure. Open task-list items
 * (`- [ ]`) become the steps; without any, its headings do; without those, one step from the title
 * and description. The result is labelled offline (source "offline", no model, no usage).
 */
export function createOfflinePlanner(): Planner {
  return {
    source: "offline",
    // Nothing is sent anywhere.
    overheadTokens: async () => 0,
    async plan(input: PlannerInput): Promise<PlannerResult> {
      const { issue, report } = input.context;
      const outline = outlineOf(issue.title, issue.body);
      const steps: PlanStep[] = outline.steps.slice(0, MAX_STEPS).map((step) => ({
        title: clip(step.title, 200),
        details: clip(step.details, 4000),
        // The files the context found that this step's own text mentions.
        files: report.files.filter((path) => step.title.includes(path) || step.details.includes(path)).slice(0, 30),
      }));
      const summary = [
        `Offline plan for issue #${issue.number} (“${clip(issue.title, 200)}”), built from its ${describe(outline)}.`,
        outline.steps.length > MAX_STEPS ? `Only the first ${MAX_STEPS} of ${outline.steps.length} are listed.` : "",
        outline.done > 0 ? `${outline.done} checked-off task${outline.done === 1 ? " is" : "s are"} left out.` : "",
        "No AI model was used.",
      ];
      if (input.previous) {
        const feedback = (await redactSecrets(input.previous.feedback)).text;
        steps.push({ title: "Address the review feedback", details: clip(feedback, 4000), files: [] });
        summary.push(`Revises version ${input.previous.version} by adding the reviewer's feedback as the last step.`);
      }
      const plan: Plan = planSchema.parse({
        summary: summary.filter(Boolean).join(" "),
        steps,
        risks: [
          "Built from the issue text alone, without an AI model: nobody has checked these steps against the code.",
        ],
        tests: [],
        questions: outline.questions.slice(0, MAX_QUESTIONS).map((q) => clip(q, 1000)),
      });
      return { plan, source: "offline", model: null, usage: null };
    },
  };
}

function outlineOf(title: string, body: string): Outline {
  const source = body.replace(/\r\n?/g, "\n");
  const lines = source.split("\n");
  const tokens: Token[] = [];
  markdown.block.parse(source, markdown, {}, tokens);

  const tasks: Outline["steps"] = [];
  const headings: { title: string; start: number; end: number }[] = [];
  const questions: string[] = [];
  let done = 0;
  // Quoted text is someone else's words, kept for reference: not the plan's outline.
  let quoteDepth = 0;
  tokens.forEach((token, index) => {
    if (token.type === "blockquote_open") quoteDepth++;
    if (token.type === "blockquote_close") quoteDepth--;
    if (token.type !== "inline" || quoteDepth > 0) return;
    const opener = tokens[index - 1];
    if (opener?.type === "heading_open" && opener.map) {
      headings.push({ title: token.content.trim(), start: opener.map[0], end: opener.map[1] });
      return;
    }
    const task = /^\[([ xX])\]\s+([\s\S]*)$/.exec(token.content);
    if (task && tokens[index - 2]?.type === "list_item_open") {
      const [first = "", ...rest] = (task[2] ?? "").split("\n");
      if (task[1] === " ") tasks.push({ title: first.trim(), details: rest.join("\n").trim() });
      else done++;
      return;
    }
    for (const line of token.content.split("\n")) if (line.trim().endsWith("?")) questions.push(line.trim());
  });

  const usable = (steps: Outline["steps"]) => steps.filter((step) => step.title !== "");
  if (usable(tasks).length > 0) return { from: "task list", steps: usable(tasks), done, questions };
  const sections = headings.map((heading, i) => ({
    title: heading.title,
    details: lines
      .slice(heading.end, headings[i + 1]?.start ?? lines.length)
      .join("\n")
      .trim(),
  }));
  if (usable(sections).length > 0) return { from: "sections", steps: usable(sections), done, questions };
  return {
    from: "description",
    steps: [{ title: title.trim() || "Do what the issue asks", details: source.trim() }],
    done,
    questions,
  };
}

function describe(outline: Outline): string {
  const count = Math.min(outline.steps.length, MAX_STEPS);
  if (outline.from === "task list") return `task list (${count} open item${count === 1 ? "" : "s"})`;
  if (outline.from === "sections") return `${count} section${count === 1 ? "" : "s"}`;
  return "title and description, as a single step";
}

function clip(text: string, max: number): string {
  const trimmed = text.trim();
  return trimmed.length <= max ? trimmed : `${trimmed.slice(0, max - 1).trimEnd()}…`;
}
