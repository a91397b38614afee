import { planContentHash } from "@amistio/contract/plan-hash";
import { PLAN_JSON_SCHEMA, type Plan, planSchema } from "@amistio/contract/plan-schema";
import { describe, expect, it } from "vitest";

const plan: Plan = {
  summary: "Add a status command.",
  steps: [{ title: "Parse the verb", details: "Extend the parser.", files: ["src/commands/parse-commands.ts"] }],
  risks: ["None known."],
  tests: ["A unit test for the verb."],
  questions: [],
};

describe("planSchema", () => {
  it("accepts a well-formed plan and trims its text", () => {
    const parsed = planSchema.parse({ ...plan, summary: "  Add a status command.  " });
    expect(parsed).toEqual(plan);
  });

  it("drops unknown keys", () => {
    expect(planSchema.parse({ ...plan, confidence: 0.9 })).toEqual(plan);
  });

  it.each([
    ["no steps", { ...plan, steps: [] }, "steps"],
    ["an empty summary", { ...plan, summary: "   " }, "summary"],
    ["a missing field", { summary: plan.summary, steps: plan.steps, risks: [], tests: [] }, "questions"],
    ["a wrong type", { ...plan, risks: "none" }, "risks"],
    ["a step without a title", { ...plan, steps: [{ details: "x", files: [] }] }, "steps.0.title"],
    ["a multi-line path", { ...plan, steps: [{ title: "t", details: "", files: ["a\nb"] }] }, "steps.0.files.0"],
    ["too many steps", { ...plan, steps: Array.from({ length: 26 }, () => plan.steps[0]) }, "steps"],
    ["an overlong summary", { ...plan, summary: "x".repeat(2001) }, "summary"],
    [
      "a plan too long for one comment",
      { ...plan, steps: Array.from({ length: 25 }, () => ({ title: "t", details: "d".repeat(1900), files: [] })) },
      "",
    ],
  ])("rejects %s", (_name, input, path) => {
    const result = planSchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join("."))).toContain(path);
  });
});

describe("PLAN_JSON_SCHEMA (OpenAI strict mode)", () => {
  /** Every object node in the schema, wherever it is nested. */
  function objects(node: unknown): Record<string, unknown>[] {
    if (node === null || typeof node !== "object") return [];
    const own = (node as { type?: unknown }).type === "object" ? [node as Record<string, unknown>] : [];
    return [...own, ...Object.values(node).flatMap(objects)];
  }

  it("closes every object and requires all its keys", () => {
    const all = objects(PLAN_JSON_SCHEMA);
    expect(all).toHaveLength(2);
    for (const node of all) {
      expect(node.additionalProperties).toBe(false);
      expect(node.required).toEqual(Object.keys(node.properties as object));
    }
  });

  it("uses no keyword strict mode rejects", () => {
    const text = JSON.stringify(PLAN_JSON_SCHEMA);
    for (const keyword of ["$schema", "minLength", "maxLength", "$ref", "allOf", "oneOf"]) {
      expect(text).not.toContain(`"${keyword}"`);
    }
    expect(PLAN_JSON_SCHEMA).toMatchObject({ properties: { steps: { type: "array", minItems: 1 } } });
  });
});

describe("planContentHash", () => {
  it("is a SHA-256 hex digest that ignores key order", () => {
    const reordered = {
      questions: [],
      tests: plan.tests,
      steps: [{ files: plan.steps[0]!.files, details: plan.steps[0]!.details, title: plan.steps[0]!.title }],
      risks: plan.risks,
      summary: plan.summary,
    };
    expect(planContentHash(plan)).toMatch(/^[0-9a-f]{64}$/);
    expect(planContentHash(reordered)).toBe(planContentHash(plan));
  });

  it("changes with any change to the content", () => {
    const hash = planContentHash(plan);
    expect(planContentHash({ ...plan, summary: "Add a status command!" })).not.toBe(hash);
    expect(planContentHash({ ...plan, steps: [{ ...plan.steps[0]!, files: [] }] })).not.toBe(hash);
    expect(planContentHash({ ...plan, questions: [""] })).not.toBe(hash);
  });

  it("is stable across releases (approvals stored today must still match)", () => {
    expect(planContentHash(plan)).toMatchInlineSnapshot(
      `"b99503ddcfcfae17f63a685496b0d971e2821274f9fe4c28592d84782a4a9dae"`,
    );
  });
});
