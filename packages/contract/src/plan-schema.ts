import { z } from "zod";

// Bounds keep a plan readable in one GitHub comment (65,536 characters) and stop a runaway model
// from filling the database.
export const MAX_PLAN_JSON_CHARS = 40_000;

const text = (max: number) => z.string().trim().min(1).max(max);

export const planStepSchema = z.object({
  title: text(200).describe("What this step does, as a short imperative sentence"),
  details: z.string().trim().max(4000).describe("How to do it: the changes, in enough detail for a coding agent"),
  files: z
    .array(text(300).refine((path) => !/[\n\r]/.test(path), "must be a single path"))
    .max(30)
    .describe("Repository paths this step creates or changes"),
});

/**
 * A plan as the planners produce it and as humans approve it. Unknown keys are dropped rather than
 * refused: they could never be shown or approved anyway.
 */
export const planSchema = z
  .object({
    summary: text(2000).describe("What will change and why, in a few sentences"),
    steps: z.array(planStepSchema).min(1).max(25).describe("Ordered steps"),
    risks: z.array(text(1000)).max(15).describe("What could go wrong or break"),
    tests: z.array(text(1000)).max(15).describe("Tests to add or change"),
    questions: z.array(text(1000)).max(15).describe("Open questions for the people approving the plan"),
  })
  // Every word of a plan must be shown in its comment (at most 65,536 characters) before anyone
  // approves it, so a plan may not be longer than a comment can show.
  .refine((plan) => JSON.stringify(plan).length <= MAX_PLAN_JSON_CHARS, {
    message: `the plan is too long: keep it under ${MAX_PLAN_JSON_CHARS.toLocaleString("en")} characters of JSON`,
  });

export type Plan = z.output<typeof planSchema>;
export type PlanStep = Plan["steps"][number];

type JsonSchema = { [key: string]: unknown };

/**
 * The plan's JSON Schema in the form OpenAI's strict structured output accepts: every object closed
 * (`additionalProperties: false`) with all its keys required, and without the string-length
 * keywords strict mode does not support (the zod schema still enforces them on the answer).
 */
export const PLAN_JSON_SCHEMA: JsonSchema = toStrictSchema(z.toJSONSchema(planSchema, { target: "draft-7" }));

function toStrictSchema(node: unknown): JsonSchema {
  if (Array.isArray(node)) return node.map(toStrictSchema) as unknown as JsonSchema;
  if (node === null || typeof node !== "object") return node as JsonSchema;
  const result: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "$schema" || key === "minLength" || key === "maxLength") continue;
    result[key] = key === "properties" ? mapValues(value as JsonSchema, toStrictSchema) : toStrictSchema(value);
  }
  if (result.type === "object") {
    result.additionalProperties = false;
    result.required = Object.keys((result.properties as JsonSchema | undefined) ?? {});
  }
  return result;
}

function mapValues(record: JsonSchema, map: (value: unknown) => unknown): JsonSchema {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, map(value)]));
}
