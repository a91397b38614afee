import type { PlanningContext } from "../../../../src/planning/gather-context.ts";

/** A gathered context built by hand, for planner tests that need no GitHub. */
export function planningContext(
  issue: { title: string; body: string; number?: number },
  options: { files?: string[]; sections?: PlanningContext["sections"] } = {},
): PlanningContext {
  const number = issue.number ?? 42;
  return {
    owner: "acme",
    repo: "widgets",
    issue: { number, title: issue.title, body: issue.body, labels: [], author: "alice" },
    sections: options.sections ?? [
      { kind: "issue", title: `issue #${number}`, text: `## Issue #${number}: ${issue.title}\n${issue.body}` },
    ],
    tokenCount: 0,
    report: { comments: [], files: options.files ?? [], redactions: [], omitted: [] },
  };
}
