import type { Plan } from "@amistio/contract/plan-schema";
import nock from "nock";
import pino from "pino";
import { ProbotOctokit } from "probot";
import { afterEach, describe, expect, it } from "vitest";
import { gatherContext } from "../../../src/planning/gather-context.ts";
import { createOpenAiPlanner, type OpenAiPlannerOptions } from "../../../src/planning/openai-planner.ts";
import { PlanningError } from "../../../src/planning/planner.ts";
import { fakeGitHubToken, fakeOpenAiProjectKey, fakeSlackBotToken } from "../../unit/planning/helpers/fake-secrets.ts";
import { planningContext } from "../../unit/planning/helpers/planning-context.ts";
import { type ScriptedReply, startFakeOpenAi } from "./helpers/fake-openai-server.ts";

const logger = pino({ level: "silent" });

const goodPlan: Plan = {
  summary: "Add CSV export.",
  steps: [{ title: "Write the encoder", details: "RFC 4180 quoting.", files: ["src/export/csv.ts"] }],
  risks: ["Large exports may be slow."],
  tests: ["Encoder round-trip test."],
  questions: [],
};
const context = planningContext({ title: "Export widgets as CSV", body: "We need CSV export." });

let servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  nock.cleanAll();
});

async function plannerWith(script: ScriptedReply[], options: Partial<OpenAiPlannerOptions> = {}) {
  const server = await startFakeOpenAi(script);
  servers.push(server);
  const planner = createOpenAiPlanner({
    apiKey: "test-key",
    baseURL: server.baseURL,
    model: "gpt-test",
    maxRetries: 2,
    logger,
    ...options,
  });
  return { planner, received: server.received };
}

async function planningError(promise: Promise<unknown>): Promise<PlanningError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PlanningError);
  return error as PlanningError;
}

describe("createOpenAiPlanner", () => {
  it("asks for strict structured output and returns the validated plan with model and usage", async () => {
    const { planner, received } = await plannerWith([{ content: JSON.stringify(goodPlan) }]);
    const result = await planner.plan({ context });

    expect(result).toEqual({
      plan: goodPlan,
      source: "openai",
      model: "gpt-test-2025-01-01",
      usage: { input: 100, output: 20 },
    });
    expect(received).toHaveLength(1);
    const request = received[0]!;
    expect(request.url).toBe("/v1/chat/completions");
    expect(request.headers.authorization).toBe("Bearer test-key");
    expect(request.body.model).toBe("gpt-test");
    expect(request.body.response_format).toMatchObject({
      type: "json_schema",
      json_schema: { name: "amistio_plan", strict: true, schema: { type: "object", additionalProperties: false } },
    });
    expect(request.body.messages.map((m) => m.role)).toEqual(["system", "user"]);
    expect(request.body.messages[1]?.content).toContain("## Issue #42: Export widgets as CSV");
  });

  it("repairs an answer that is not JSON, sending the problem back once", async () => {
    const { planner, received } = await plannerWith([
      { content: "Sure! Here is the plan: step 1..." },
      { content: JSON.stringify(goodPlan) },
    ]);
    const result = await planner.plan({ context });

    expect(result.plan).toEqual(goodPlan);
    expect(result.usage).toEqual({ input: 200, output: 40 });
    expect(received).toHaveLength(2);
    const repair = received[1]!.body.messages;
    expect(repair.map((m) => m.role)).toEqual(["system", "user", "assistant", "user"]);
    expect(repair[2]?.content).toBe("Sure! Here is the plan: step 1...");
    expect(repair[3]?.content).toContain("the answer is not valid JSON");
  });

  it("fails clearly when fields are missing twice", async () => {
    const missing = JSON.stringify({ summary: "Only a summary" });
    const { planner, received } = await plannerWith([{ content: missing }, { content: missing }]);
    const error = await planningError(planner.plan({ context }));

    expect(error.code).toBe("invalid_output");
    expect(error.message).toMatch(/did not return a usable plan, even when asked again \(steps: /);
    expect(received).toHaveLength(2);
    expect(received[1]!.body.messages[3]?.content).toMatch(/steps: .*; risks: /);
  });

  it("repairs a plan with no steps", async () => {
    const { planner, received } = await plannerWith([
      { content: JSON.stringify({ ...goodPlan, steps: [] }) },
      { content: JSON.stringify(goodPlan) },
    ]);
    expect((await planner.plan({ context })).plan).toEqual(goodPlan);
    expect(received[1]!.body.messages[3]?.content).toContain("steps:");
  });

  it("drops extra fields without a repair, but repairs wrong types", async () => {
    const extra = await plannerWith([{ content: JSON.stringify({ ...goodPlan, confidence: 0.9 }) }]);
    expect((await extra.planner.plan({ context })).plan).toEqual(goodPlan);
    expect(extra.received).toHaveLength(1);

    const wrong = await plannerWith([
      { content: JSON.stringify({ ...goodPlan, risks: "none", steps: [{ title: 3, details: "", files: "a" }] }) },
      { content: JSON.stringify(goodPlan) },
    ]);
    expect((await wrong.planner.plan({ context })).plan).toEqual(goodPlan);
    expect(wrong.received).toHaveLength(2);
    expect(wrong.received[1]!.body.messages[3]?.content).toMatch(/steps\.0\.title: .*risks: /s);
  });

  it("retries a 429 with backoff: exactly one plan from two requests", async () => {
    const { planner, received } = await plannerWith([
      { status: 429, headers: { "retry-after-ms": "10" }, body: { error: { message: "slow down" } } },
      { content: JSON.stringify(goodPlan) },
    ]);
    const result = await planner.plan({ context });
    expect(result.plan).toEqual(goodPlan);
    expect(result.usage).toEqual({ input: 100, output: 20 });
    expect(received).toHaveLength(2);
  });

  it("gives up after the retries on 5xx with a clear error", async () => {
    const failure = { status: 503, headers: { "retry-after-ms": "1" }, body: { error: { message: "down" } } };
    const { planner, received } = await plannerWith([failure, failure, failure], { maxRetries: 2 });
    const error = await planningError(planner.plan({ context }));
    expect(error.code).toBe("unavailable");
    expect(error.message).toBe("The AI provider failed (HTTP 503). Try again later.");
    expect(received).toHaveLength(3);
  });

  it.each([
    [401, "unauthorized", /rejected Amistio's API key/],
    [400, "rejected", /refused the request \(HTTP 400\)/],
  ])("maps HTTP %i to %s", async (status, code, message) => {
    const { planner } = await plannerWith([{ status, body: { error: { message: "no" } } }]);
    const error = await planningError(planner.plan({ context }));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it("turns a model refusal into a clear error", async () => {
    const { planner } = await plannerWith([
      {
        body: {
          id: "x",
          object: "chat.completion",
          created: 0,
          model: "gpt-test",
          choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: null, refusal: "No." } }],
        },
      },
    ]);
    expect((await planningError(planner.plan({ context }))).code).toBe("refused");
  });

  it("times out with a PlanningError", async () => {
    const { planner, received } = await plannerWith([{ hang: true }], { timeoutMs: 300, maxRetries: 0 });
    const error = await planningError(planner.plan({ context }));
    expect(error.code).toBe("timeout");
    expect(error.message).toBe("The AI provider did not answer within 300 ms. Try again later.");
    expect(received).toHaveLength(1);
  });

  it("sends a revision the previous plan and the (redacted) feedback", async () => {
    const token = fakeGitHubToken();
    const { planner, received } = await plannerWith([{ content: JSON.stringify(goodPlan) }]);
    await planner.plan({ context, previous: { plan: goodPlan, version: 2, feedback: `Split step 1. ${token}` } });
    const user = received[0]!.body.messages[1]!.content;
    expect(user).toContain("Revise plan version 2");
    expect(user).toContain('"title": "Write the encoder"');
    expect(user).toContain("Split step 1. [REDACTED:github]");
    expect(received[0]!.raw).not.toContain(token);
  });

  it("never sends a secret planted in the issue, a comment or a repository file", async () => {
    const secrets = { body: fakeGitHubToken(), comment: fakeSlackBotToken(), file: fakeOpenAiProjectKey() };
    nock("https://api.github.com")
      .get("/repos/acme/widgets/git/trees/main")
      .query(true)
      .reply(200, {
        truncated: false,
        tree: [{ path: "src/config.ts", type: "blob", sha: "f1", size: 300 }],
      })
      .get("/repos/acme/widgets/readme")
      .query(true)
      .reply(404, { message: "Not Found" })
      .get("/repos/acme/widgets/git/blobs/f1")
      .reply(200, {
        encoding: "base64",
        content: Buffer.from(`export const key = "${secrets.file}";\n`).toString("base64"),
      });
    const gathered = await gatherContext({
      octokit: new ProbotOctokit({ auth: { token: "t" }, retry: { enabled: false }, throttle: { enabled: false } }),
      logger,
      owner: "acme",
      repo: "widgets",
      ref: "main",
      issue: {
        number: 9,
        title: "Rotate the key in src/config.ts",
        body: `It leaked: ${secrets.body}`,
        labels: [],
        author: "alice",
      },
      comments: [{ id: 1, author: "bob", body: `Slack too: ${secrets.comment}` }],
      budgetTokens: 12_000,
    });
    const { planner, received } = await plannerWith([{ content: "not json" }, { content: JSON.stringify(goodPlan) }]);
    await planner.plan({ context: gathered });

    expect(received).toHaveLength(2);
    for (const request of received) {
      expect(request.raw).toContain("src/config.ts");
      for (const secret of Object.values(secrets)) expect(request.raw).not.toContain(secret);
    }
    expect(received[0]!.raw).toContain("[REDACTED:github]");
    expect(received[0]!.raw).toContain("[REDACTED:slack]");
    expect(received[0]!.raw).toContain("[REDACTED:openai]");
  });
});
