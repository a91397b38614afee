import { planSchema } from "@amistio/contract/plan-schema";
import { describe, expect, it } from "vitest";
import { createOfflinePlanner } from "../../../src/planning/offline-planner.ts";
import { fakeGitHubToken } from "./helpers/fake-secrets.ts";
import { planningContext } from "./helpers/planning-context.ts";

const planner = createOfflinePlanner();
const planFor = async (body: string, options: { title?: string; files?: string[] } = {}) =>
  planner.plan({ context: planningContext({ title: options.title ?? "Export widgets", body }, options) });

describe("createOfflinePlanner", () => {
  it("turns the open items of a task list into steps and says it used no model", async () => {
    const result = await planFor(
      [
        "We need CSV export.",
        "",
        "- [ ] Add an export button to src/ui/toolbar.ts",
        "- [x] Agree on the format",
        "- [ ] Write the CSV encoder",
        "  in src/export/csv.ts",
        "",
        "Should empty widgets be exported?",
      ].join("\n"),
      { files: ["src/ui/toolbar.ts", "src/export/csv.ts", "README.md"] },
    );
    expect(result.source).toBe("offline");
    expect(result.model).toBeNull();
    expect(result.usage).toBeNull();
    expect(result.plan.steps).toEqual([
      { title: "Add an export button to src/ui/toolbar.ts", details: "", files: ["src/ui/toolbar.ts"] },
      { title: "Write the CSV encoder", details: "in src/export/csv.ts", files: ["src/export/csv.ts"] },
    ]);
    expect(result.plan.summary).toBe(
      "Offline plan for issue #42 (“Export widgets”), built from its task list (2 open items). 1 checked-off task is left out. No AI model was used.",
    );
    expect(result.plan.questions).toEqual(["Should empty widgets be exported?"]);
    expect(result.plan.risks[0]).toMatch(/without an AI model/);
    expect(planSchema.parse(result.plan)).toEqual(result.plan);
  });

  it("uses the headings when there is no task list", async () => {
    const result = await planFor("## Parse the file\nRead it line by line.\n\n## Store rows\nUse the db.\n");
    expect(result.plan.steps.map((s) => [s.title, s.details])).toEqual([
      ["Parse the file", "Read it line by line."],
      ["Store rows", "Use the db."],
    ]);
    expect(result.plan.summary).toContain("built from its 2 sections.");
  });

  it("falls back to one step from the title and description", async () => {
    const result = await planFor("The export button does nothing.", { title: "Fix export" });
    expect(result.plan.steps).toEqual([{ title: "Fix export", details: "The export button does nothing.", files: [] }]);
    expect(result.plan.summary).toContain("title and description, as a single step");
  });

  it("ignores task items and headings inside code blocks and quotes", async () => {
    const result = await planFor("```md\n- [ ] not a task\n## not a heading\n```\n> - [ ] quoted task\n\nJust text.");
    expect(result.plan.steps).toHaveLength(1);
    expect(result.plan.steps[0]?.title).toBe("Export widgets");
  });

  it("keeps at most 25 steps and says so", async () => {
    const body = Array.from({ length: 30 }, (_, i) => `- [ ] Task ${i + 1}`).join("\n");
    const result = await planFor(body);
    expect(result.plan.steps).toHaveLength(25);
    expect(result.plan.summary).toContain("Only the first 25 of 30 are listed.");
  });

  it("adds revise feedback as the last step, redacted", async () => {
    const token = fakeGitHubToken();
    const result = await planner.plan({
      context: planningContext({ title: "Export widgets", body: "- [ ] Add a button" }),
      previous: {
        plan: {
          summary: "s",
          steps: [{ title: "t", details: "", files: [] }],
          risks: [],
          tests: [],
          questions: [],
        },
        version: 1,
        feedback: `Use the token ${token} for the test account`,
      },
    });
    expect(result.plan.steps.at(-1)).toEqual({
      title: "Address the review feedback",
      details: "Use the token [REDACTED:github] for the test account",
      files: [],
    });
    expect(result.plan.summary).toContain("Revises version 1");
  });
});
