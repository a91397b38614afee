import type { Plan } from "@amistio/contract/plan-schema";
import type { PlanningContext } from "./gather-context.ts";

export type PlanSource = "openai" | "offline";

export interface PlannerInput {
  context: PlanningContext;
  /** For `revise`: the plan being replaced and what the reviewer asked to change. */
  previous?: { plan: Plan; version: number; feedback: string };
}

export interface PlannerResult {
  plan: Plan;
  source: PlanSource;
  /** The model that answered (as the provider names it); null for the offline planner. */
  model: string | null;
  /** Tokens used, summed over every request made for this plan; null when no model was used. */
  usage: { input: number; output: number } | null;
}

export interface Planner {
  readonly source: PlanSource;
  /** Tokens the planner sends besides the context (instructions, a previous plan, feedback), so the whole request fits the budget. */
  overheadTokens(previous?: PlannerInput["previous"]): Promise<number>;
  plan(input: PlannerInput): Promise<PlannerResult>;
}

export type PlanningErrorCode =
  | "invalid_output"
  | "refused"
  | "timeout"
  | "rate_limited"
  | "unauthorized"
  | "rejected"
  | "unavailable";

/**
 * A plan could not be made. `message` is written for the people on the issue and names no secret;
 * `cause` keeps the underlying error for the logs.
 */
export class PlanningError extends Error {
  constructor(
    readonly code: PlanningErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "PlanningError";
  }
}
