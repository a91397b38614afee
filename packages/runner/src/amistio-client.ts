import { setTimeout as sleep } from "node:timers/promises";
import {
  RUNNER_API_PREFIX,
  type RunnerEvents,
  type RunnerJob,
  type RunnerResult,
} from "@amistio/contract/runner-contract";

export class RunnerApiError extends Error {
  override name = "RunnerApiError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface AmistioClientOptions {
  baseUrl: string;
  runId: string;
  token: () => Promise<string>;
  fetch?: typeof fetch;
  /** Tries per call on network errors and 5xx (default 4). */
  attempts?: number;
  backoffMs?: number;
}

/**
 * Amistio's runner API as seen from the job. Network errors and 5xx are retried with backoff; a
 * 4xx is Amistio's decision (wrong token, run ended, bad input) and is final.
 */
export function createAmistioClient(options: AmistioClientOptions) {
  const doFetch = options.fetch ?? fetch;
  const attempts = options.attempts ?? 4;
  const backoffMs = options.backoffMs ?? 1_000;
  const base = `${options.baseUrl.replace(/\/+$/, "")}${RUNNER_API_PREFIX}/runs/${encodeURIComponent(options.runId)}`;

  async function call<T>(path: string, body: unknown): Promise<T> {
    let last: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const response = await doFetch(`${base}${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${await options.token()}`, "content-type": "application/json" },
          body: JSON.stringify(body ?? {}),
          signal: AbortSignal.timeout(60_000),
        });
        const text = await response.text();
        const data = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        if (response.ok) return data as T;
        const message = typeof data.error === "string" ? data.error : `HTTP ${response.status}`;
        if (response.status < 500) throw new RunnerApiError(response.status, message);
        last = new RunnerApiError(response.status, message);
      } catch (error) {
        if (error instanceof RunnerApiError && error.status < 500) throw error;
        last = error;
      }
      if (attempt < attempts) await sleep(backoffMs * 2 ** (attempt - 1));
    }
    throw last;
  }

  return {
    start: () => call<RunnerJob>("/start", {}),
    events: (events: RunnerEvents) => call<{ accepted: boolean; more: boolean }>("/events", events),
    result: (result: RunnerResult) => call<{ status: string }>("/result", result),
  };
}

export type AmistioClient = ReturnType<typeof createAmistioClient>;
