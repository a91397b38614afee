import { Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * What a scrape reads at the moment it is made, from the database or the queue: the one place that
 * knows what every process did. Each source is optional; a process without it simply omits the metric.
 */
export interface ScrapeSources {
  /** Webhook deliveries by status, for "failed" and "retrying". */
  unfinishedDeliveries?(): Promise<Record<string, number>>;
  /** Jobs not finished, by job name and state (waiting, running, failed). */
  jobs?(): Promise<{ name: string; state: string; count: number }[]>;
  /** Runs by status. */
  runs?(): Promise<{ status: string; count: number }[]>;
  /** Events in the audit chain (its last sequence number). */
  auditChainLength?(): Promise<number>;
}

export interface CreateMetricsOptions {
  sources?: ScrapeSources;
  /**
   * The labels a caller may use where the value comes from outside (event names, job names, AI
   * models): anything else is counted as "other", so no sender can grow the label set.
   */
  knownEvents?: readonly string[];
  knownJobs?: readonly string[];
  /** Distinct AI model names kept as labels; later ones are "other" (default 20). */
  maxModels?: number;
}

export type JobOutcome = "succeeded" | "retry" | "failed" | "waiting";
export type AiOutcome = "ok" | "error";

const SECONDS_FAST = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SECONDS_SLOW = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const SECONDS_WAIT = [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600];

/**
 * Every metric Amistio records, in one registry of its own (never prom-client's global one), built
 * once per process in index.ts and handed to whatever records into it. Two instances in one process
 * (tests) never share or clash. Labels are bounded: no ids, no logins, no raw paths.
 */
export function createMetrics(options: CreateMetricsOptions = {}) {
  const registry = new Registry();
  const registers = [registry];
  const { sources = {} } = options;
  const events = new Set(options.knownEvents ?? []);
  const jobNames = new Set(options.knownJobs ?? []);
  const maxModels = options.maxModels ?? 20;
  const models = new Set<string>();
  const jobLabel = (name: string) => (jobNames.size === 0 || jobNames.has(name) ? name : "other");
  const modelLabel = (model: string) => {
    if (models.has(model)) return model;
    if (models.size < maxModels && /^[\w.:/@-]{1,64}$/.test(model)) {
      models.add(model);
      return model;
    }
    return "other";
  };

  if (sources.unfinishedDeliveries) {
    const read = sources.unfinishedDeliveries;
    new Gauge({
      name: "amistio_webhook_deliveries_unfinished",
      help: "Webhook deliveries not handled: failed for good (until replayed or purged), or still retrying.",
      labelNames: ["status"] as const,
      registers,
      async collect() {
        const counts = await read();
        this.reset();
        for (const status of ["failed", "retrying"]) this.set({ status }, counts[status] ?? 0);
      },
    });
  }
  if (sources.jobs) {
    const read = sources.jobs;
    new Gauge({
      name: "amistio_jobs",
      help: "Jobs not finished, by job name and state (waiting, running, failed), read from the queue at scrape time.",
      labelNames: ["name", "state"] as const,
      registers,
      async collect() {
        const rows = await read();
        this.reset();
        for (const row of rows) this.set({ name: jobLabel(row.name), state: row.state }, row.count);
      },
    });
  }
  if (sources.runs) {
    const read = sources.runs;
    new Gauge({
      name: "amistio_runs",
      help: "Runs by status (queued … completed, failed, cancelled), read from the database at scrape time.",
      labelNames: ["status"] as const,
      registers,
      async collect() {
        const rows = await read();
        this.reset();
        for (const row of rows) this.set({ status: row.status }, row.count);
      },
    });
  }
  if (sources.auditChainLength) {
    const read = sources.auditChainLength;
    new Gauge({
      name: "amistio_audit_chain_length",
      help: "Events in the audit chain, read from the database at scrape time.",
      registers,
      async collect() {
        this.set(await read());
      },
    });
  }

  const webhookDeliveries = new Counter({
    name: "amistio_webhook_deliveries_total",
    help: "Webhook deliveries received, by event and by what intake did with them.",
    labelNames: ["event", "outcome"] as const,
    registers,
  });
  const webhookResponse = new Histogram({
    name: "amistio_webhook_response_seconds",
    help: "Time from a webhook request's arrival to its 2xx answer, by outcome.",
    labelNames: ["outcome"] as const,
    buckets: SECONDS_FAST,
    registers,
  });
  const jobWait = new Histogram({
    name: "amistio_job_queue_wait_seconds",
    help: "Time a job waited from when it was due (queued, or its delay or backoff ended) to its start.",
    labelNames: ["name"] as const,
    buckets: SECONDS_WAIT,
    registers,
  });
  const jobDuration = new Histogram({
    name: "amistio_job_duration_seconds",
    help: "Time a job's try ran, by job name and outcome (succeeded, retry, failed for good, waiting out a limit).",
    labelNames: ["name", "outcome"] as const,
    buckets: SECONDS_SLOW,
    registers,
  });
  const jobRetries = new Counter({
    name: "amistio_job_retries_total",
    help: "Failed job tries that will be tried again, by job name.",
    labelNames: ["name"] as const,
    registers,
  });
  const jobFailures = new Counter({
    name: "amistio_job_failures_total",
    help: "Jobs failed for good (no try left, or an error no retry can fix), by job name.",
    labelNames: ["name"] as const,
    registers,
  });
  const githubRequests = new Counter({
    name: "amistio_github_requests_total",
    help: "Requests to GitHub's API, by method, route template and HTTP status (0 when no answer came).",
    labelNames: ["method", "route", "status"] as const,
    registers,
  });
  const githubRemaining = new Gauge({
    name: "amistio_github_rate_limit_remaining",
    help: "x-ratelimit-remaining of GitHub's last answer, by rate limit resource (core, graphql, search…).",
    labelNames: ["resource"] as const,
    registers,
  });
  const aiRequests = new Counter({
    name: "amistio_ai_requests_total",
    help: "Requests to the AI provider, by model and outcome.",
    labelNames: ["model", "outcome"] as const,
    registers,
  });
  const aiTokens = new Counter({
    name: "amistio_ai_tokens_total",
    help: "Tokens the AI provider reported, by model and kind (input, output).",
    labelNames: ["model", "kind"] as const,
    registers,
  });
  const aiLatency = new Histogram({
    name: "amistio_ai_request_duration_seconds",
    help: "Time an AI request took, by model.",
    labelNames: ["model"] as const,
    buckets: SECONDS_SLOW,
    registers,
  });
  const plans = new Counter({
    name: "amistio_plans_total",
    help: "Plan requests by outcome: created, over_budget, or the planning error's code.",
    labelNames: ["outcome"] as const,
    registers,
  });
  const approvalsRefused = new Counter({
    name: "amistio_approvals_refused_total",
    help: "Approvals refused, by reason.",
    labelNames: ["reason"] as const,
    registers,
  });

  return {
    registry,
    /**
     * The X-GitHub-Event header is not covered by the signature, so only the events Amistio knows are
     * labels of their own: any other name is "other".
     */
    countDelivery(event: string | undefined, outcome: string): void {
      const label = event !== undefined && (event === "ping" || events.has(event)) ? event : "other";
      webhookDeliveries.inc({ event: label, outcome });
    },
    /** Seconds from arrival to a 2xx answer. */
    observeWebhookResponse(outcome: string, seconds: number): void {
      webhookResponse.observe({ outcome }, seconds);
    },
    observeJobWait(name: string, seconds: number): void {
      jobWait.observe({ name: jobLabel(name) }, Math.max(0, seconds));
    },
    observeJob(name: string, outcome: JobOutcome, seconds: number): void {
      const label = jobLabel(name);
      jobDuration.observe({ name: label, outcome }, seconds);
      if (outcome === "retry") jobRetries.inc({ name: label });
      if (outcome === "failed") jobFailures.inc({ name: label });
    },
    /** `route` must already be a template (`/repos/{owner}/{repo}/…`), never a path with names or ids. */
    countGithubRequest(method: string, route: string, status: number): void {
      githubRequests.inc({ method, route, status: String(status) });
    },
    setGithubRemaining(resource: string, remaining: number): void {
      githubRemaining.set({ resource: /^[a-z_]{1,32}$/.test(resource) ? resource : "other" }, remaining);
    },
    observeAiRequest(
      model: string,
      outcome: AiOutcome,
      seconds: number,
      tokens: { input: number; output: number } = { input: 0, output: 0 },
    ): void {
      const label = modelLabel(model);
      aiRequests.inc({ model: label, outcome });
      aiLatency.observe({ model: label }, seconds);
      if (tokens.input > 0) aiTokens.inc({ model: label, kind: "input" }, tokens.input);
      if (tokens.output > 0) aiTokens.inc({ model: label, kind: "output" }, tokens.output);
    },
    countPlan(outcome: string): void {
      plans.inc({ outcome });
    },
    countApprovalRefused(reason: string): void {
      approvalsRefused.inc({ reason });
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Seconds since `start` (a `process.hrtime.bigint()` reading). */
export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}
