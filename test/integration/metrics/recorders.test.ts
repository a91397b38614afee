import nock from "nock";
import pino from "pino";
import { ProbotOctokit } from "probot";
import { afterEach, describe, expect, it } from "vitest";
import { withGithubMetrics } from "../../../src/github/github-metrics.ts";
import { createMetrics } from "../../../src/metrics/amistio-metrics.ts";
import { createOpenAiPlanner } from "../../../src/planning/openai-planner.ts";
import { type JobContext, PermanentJobError } from "../../../src/queue/job-queue.ts";
import { type JobHandlerMap, jobHandlers } from "../../../src/queue/jobs.ts";
import { NO_WAITS, RetryLaterError } from "../../../src/queue/retry-later.ts";
import { planningContext } from "../../unit/planning/helpers/planning-context.ts";
import { startFakeOpenAi } from "../planning/helpers/fake-openai-server.ts";

const logger = pino({ level: "silent" });

function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

afterEach(() => {
  nock.cleanAll();
});

describe("what records into the metrics", () => {
  it("GitHub: requests by route class and status, and the rate limit left by resource", async () => {
    const metrics = createMetrics();
    const Octokit = withGithubMetrics(
      ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }),
      metrics,
    );
    const octokit = new Octokit({ auth: "test-token" });
    nock("https://api.github.com")
      .get("/repos/acme/widgets/issues/7")
      .reply(200, { number: 7 }, { "x-ratelimit-remaining": "4321", "x-ratelimit-resource": "core" })
      .get("/repos/acme/widgets/issues/8")
      .reply(404, { message: "Not Found" }, { "x-ratelimit-remaining": "4320", "x-ratelimit-resource": "core" });
    await octokit.rest.issues.get({ owner: "acme", repo: "widgets", issue_number: 7 });
    await expect(octokit.rest.issues.get({ owner: "acme", repo: "widgets", issue_number: 8 })).rejects.toMatchObject({
      status: 404,
    });
    const text = await metrics.registry.metrics();
    const series = 'amistio_github_requests_total{method="GET",route="/repos/{owner}/{repo}/issues/{issue_number}"';
    expect(sample(text, `${series},status="200"}`)).toBe(1);
    expect(sample(text, `${series},status="404"}`)).toBe(1);
    expect(sample(text, 'amistio_github_rate_limit_remaining{resource="core"}')).toBe(4320);
    expect(text).not.toContain("acme");
  });

  it("AI: requests, tokens and latency by model; a model name from settings cannot grow the labels for ever", async () => {
    const metrics = createMetrics({ maxModels: 1 });
    const server = await startFakeOpenAi([
      { content: "not json" },
      { status: 400, body: { error: { message: "no" } } },
    ]);
    try {
      const planner = createOpenAiPlanner({
        apiKey: "test-key",
        baseURL: server.baseURL,
        model: "gpt-test",
        maxRetries: 0,
        logger,
        metrics,
      });
      await expect(planner.plan({ context: planningContext({ title: "t", body: "b" }) })).rejects.toBeDefined();
      const other = createOpenAiPlanner({
        apiKey: "k",
        baseURL: server.baseURL,
        model: "x",
        maxRetries: 0,
        logger,
        metrics,
      });
      await expect(other.plan({ context: planningContext({ title: "t", body: "b" }) })).rejects.toBeDefined();
    } finally {
      await server.close();
    }
    const text = await metrics.registry.metrics();
    expect(sample(text, 'amistio_ai_requests_total{model="gpt-test",outcome="ok"}')).toBe(1);
    expect(sample(text, 'amistio_ai_requests_total{model="gpt-test",outcome="error"}')).toBe(1);
    expect(sample(text, 'amistio_ai_tokens_total{model="gpt-test",kind="input"}')).toBe(100);
    expect(sample(text, 'amistio_ai_tokens_total{model="gpt-test",kind="output"}')).toBe(20);
    expect(sample(text, 'amistio_ai_request_duration_seconds_count{model="gpt-test"}')).toBe(2);
    expect(sample(text, 'amistio_ai_requests_total{model="other",outcome="error"}')).toBe(1);
  });

  it("jobs: duration by outcome, retries, final failures and waits", async () => {
    const metrics = createMetrics({ knownJobs: ["run.finish"] });
    const noop = async () => {};
    let failWith: unknown;
    const handlers = jobHandlers(
      {
        "webhook.deliver": noop,
        "run.dispatch": noop,
        "run.queued-check": noop,
        "repository.index": noop,
        "run.finish": async () => {
          if (failWith) throw failWith;
        },
      } satisfies JobHandlerMap,
      { metrics },
    );
    const context = (attempt: number, lastAttempt: boolean): JobContext => ({
      id: "j",
      name: "run.finish",
      attempt,
      lastAttempt,
      waits: NO_WAITS,
      signal: new AbortController().signal,
      dueAt: new Date(Date.now() - 2000),
    });
    const run = (ctx: JobContext) => handlers["run.finish"]!({ runId: "r" }, ctx);
    await run(context(1, false));
    failWith = new Error("boom");
    await expect(run(context(1, false))).rejects.toThrow("boom");
    await expect(run(context(5, true))).rejects.toThrow("boom");
    failWith = new PermanentJobError("gone");
    await expect(run(context(1, false))).rejects.toThrow("gone");
    failWith = new RetryLaterError("limited", new Date(Date.now() + 1000));
    await expect(run(context(1, false))).rejects.toThrow("limited");
    // An input that fails its schema is a final failure too.
    failWith = undefined;
    await expect(handlers["run.finish"]!({}, context(1, false))).rejects.toThrow(/invalid input/);

    const text = await metrics.registry.metrics();
    const duration = (outcome: string) =>
      sample(text, `amistio_job_duration_seconds_count{name="run.finish",outcome="${outcome}"}`);
    expect(duration("succeeded")).toBe(1);
    expect(duration("retry")).toBe(1);
    expect(duration("failed")).toBe(3);
    expect(duration("waiting")).toBe(1);
    expect(sample(text, 'amistio_job_retries_total{name="run.finish"}')).toBe(1);
    expect(sample(text, 'amistio_job_failures_total{name="run.finish"}')).toBe(3);
    expect(sample(text, 'amistio_job_queue_wait_seconds_count{name="run.finish"}')).toBe(6);
    expect(sample(text, 'amistio_job_queue_wait_seconds_sum{name="run.finish"}')).toBeGreaterThanOrEqual(12);
  });
});
