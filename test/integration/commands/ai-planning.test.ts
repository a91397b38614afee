import { afterEach, describe, expect, it } from "vitest";
import { commentPayload, type FakeGithub, fakeGithub } from "../../helpers/fake-github.ts";
import { startTestAmistio, type TestAmistio } from "../../helpers/test-amistio.ts";
import { webhookExample } from "../../helpers/webhook-examples.ts";
import {
  fakeAwsAccessKeyId,
  fakeAwsSecretAccessKey,
  fakeGitHubToken,
  fakeOpenAiProjectKey,
  fakePemPrivateKey,
  fakeSlackBotToken,
} from "../../unit/planning/helpers/fake-secrets.ts";
import { type ScriptedReply, startFakeOpenAi } from "../planning/helpers/fake-openai-server.ts";

const GOOD_PLAN = JSON.stringify({
  summary: "Cache widgets in memory.",
  steps: [{ title: "Add the cache", details: "A Map keyed by id.", files: ["src/cache.ts"] }],
  risks: ["Stale entries"],
  tests: ["Cache hit and miss"],
  questions: [],
});

describe("planning with an OpenAI-compatible endpoint, end to end", () => {
  let amistio: TestAmistio;
  let github: FakeGithub;
  let ai: Awaited<ReturnType<typeof startFakeOpenAi>>;
  const example = webhookExample("issue_comment", "created");

  async function start(script: ScriptedReply[], issueBody = "Add a cache.", extraFiles: Record<string, string> = {}) {
    ai = await startFakeOpenAi(script);
    github = fakeGithub({
      roles: { alice: "write" },
      issues: { 3: { title: "Cache widgets", body: issueBody, author: "alice" } },
      files: { "README.md": "# Widgets\n", "src/cache.ts": "export {};\n", ...extraFiles },
    });
    amistio = await startTestAmistio({
      env: {
        OPENAI_API_KEY: "test-key",
        OPENAI_BASE_URL: ai.baseURL,
        OPENAI_MODEL: "test-model",
        AMISTIO_PLANNER_TIMEOUT_SECONDS: "1",
      },
    });
  }
  afterEach(async () => {
    await amistio?.close();
    github?.stop();
    await ai?.close();
  });
  const plan = async (body = "/amistio plan") => {
    await amistio.deliver("issue_comment", commentPayload(example, github, { issue: 3, author: "alice", body }));
    await amistio.drain(20_000);
  };

  it("never sends a planted secret to the AI endpoint", async () => {
    const secrets = [
      fakeGitHubToken(),
      fakeAwsAccessKeyId(),
      fakeAwsSecretAccessKey(),
      fakePemPrivateKey(),
      fakeOpenAiProjectKey(),
      fakeSlackBotToken(),
    ];
    const body = `Our deploy fails.\n\nGITHUB_TOKEN=${secrets[0]}\naws_access_key_id = ${secrets[1]}\naws_secret_access_key = ${secrets[2]}\n\n${secrets[3]}\n\nOPENAI_API_KEY=${secrets[4]}`;
    await start([{ content: GOOD_PLAN }], body, { "src/cache.ts": `const slack = "${secrets[5]}";\n` });
    await plan(`/amistio plan\n\nAlso this one: ${secrets[0]}`);
    expect(ai.received).toHaveLength(1);
    const sent = ai.received[0]!.raw;
    expect(sent).toContain("Our deploy fails");
    for (const secret of secrets) {
      for (const line of secret.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----"))) {
        expect(sent).not.toContain(line);
      }
    }
    const version = await amistio.database.db.planVersion.findFirstOrThrow();
    expect(ai.received[0]!.body.model).toBe("test-model");
    // The model as the provider names it in its answer.
    expect(version).toMatchObject({ source: "openai", model: "gpt-test-2025-01-01" });
    expect(version.inputTokens).toBeGreaterThan(0);
    const comment = github.replies().find((c) => c.body.includes("<!-- amistio:plan"))!;
    expect(comment.body).toContain("AI-generated — review before approving");
    expect(comment.body).toMatch(/redact/i);
  });

  it("makes exactly one plan when the endpoint answers 429 and then 200", async () => {
    await start([
      { status: 429, headers: { "retry-after": "0" }, body: { error: { message: "slow down" } } },
      { content: GOOD_PLAN },
    ]);
    await plan();
    expect(ai.received).toHaveLength(2);
    expect(await amistio.database.db.planVersion.count()).toBe(1);
    expect(github.replies().filter((c) => c.body.includes("<!-- amistio:plan"))).toHaveLength(1);
  });

  it("repairs output that is not JSON, and posts a clear failure when repair fails too", async () => {
    await start([{ content: "Sure! Here is the plan: step 1..." }, { content: GOOD_PLAN }]);
    await plan();
    expect(await amistio.database.db.planVersion.count()).toBe(1);
    await ai.close();

    await amistio.close();
    github.stop();
    await start([{ content: '{"summary": "x", "steps": []}' }, { content: "not json either" }]);
    await plan();
    expect(await amistio.database.db.planVersion.count()).toBe(0);
    expect(github.replies().at(-1)!.body).toContain("Amistio could not write a plan");
    expect((await amistio.database.db.task.findFirstOrThrow()).state).toBe("requested");
  });

  it("posts a failure on a timeout, and a later /amistio plan works", async () => {
    await start([{ hang: true }, { hang: true }, { hang: true }, { content: GOOD_PLAN }]);
    await plan();
    expect(github.replies().at(-1)!.body).toContain("Amistio could not write a plan");
    expect(github.tracking()[0]!.body).toContain("**Problem:**");
    expect(await amistio.database.db.planVersion.count()).toBe(0);
    await plan();
    expect(await amistio.database.db.planVersion.count()).toBe(1);
    expect(github.tracking()[0]!.body).not.toContain("**Problem:**");
  });
});
