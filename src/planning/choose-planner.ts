import type { Logger } from "pino";
import type { AppEnv } from "../config/env.ts";
import { choosePlannerProvider, type RepoSettings } from "../config/repo-settings.ts";
import type { Metrics } from "../metrics/amistio-metrics.ts";
import { createOfflinePlanner } from "./offline-planner.ts";
import { type Planner, PlanningError } from "./planner.ts";

export const DEFAULT_OPENAI_MODEL = "gpt-4o-mini";

/**
 * The planner for a repository's settings: OpenAI-compatible when the server has a key (or the
 * repository asks for it), else the offline planner. One client per model is kept.
 */
export function createPlannerChooser(options: {
  env: Pick<AppEnv, "OPENAI_API_KEY" | "OPENAI_BASE_URL" | "OPENAI_MODEL" | "AMISTIO_PLANNER_TIMEOUT_SECONDS">;
  logger: Logger;
  metrics?: Pick<Metrics, "observeAiRequest">;
}): (settings: RepoSettings) => Promise<Planner> {
  const { env, logger } = options;
  const offline = createOfflinePlanner();
  const byModel = new Map<string, Planner>();
  return async (settings) => {
    const provider = choosePlannerProvider(settings.planner, { openAiConfigured: env.OPENAI_API_KEY !== undefined });
    if (provider === "offline") return offline;
    const apiKey = env.OPENAI_API_KEY;
    if (apiKey === undefined) {
      return {
        source: "openai",
        overheadTokens: async () => 0,
        plan: async () => {
          throw new PlanningError(
            "unavailable",
            "This repository asks for the OpenAI planner, but this Amistio server has no OPENAI_API_KEY. Ask its operator to set one, or set `planner.provider: offline` in .github/amistio.yml.",
          );
        },
      };
    }
    const model = settings.planner.model ?? env.OPENAI_MODEL ?? DEFAULT_OPENAI_MODEL;
    let planner = byModel.get(model);
    if (!planner) {
      // The SDK and the tokenizer load with the first AI plan, keeping an idle server small.
      const { createOpenAiPlanner } = await import("./openai-planner.ts");
      planner = createOpenAiPlanner({
        apiKey,
        baseURL: env.OPENAI_BASE_URL,
        model,
        logger,
        timeoutMs: env.AMISTIO_PLANNER_TIMEOUT_SECONDS * 1000,
        ...(options.metrics ? { metrics: options.metrics } : {}),
      });
      byModel.set(model, planner);
    }
    return planner;
  };
}
