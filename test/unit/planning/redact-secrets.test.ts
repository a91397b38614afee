import { performance } from "node:perf_hooks";
import { mergeFindings, redactSecrets } from "@amistio/contract/redact-secrets";
import { describe, expect, it } from "vitest";
import {
  fakeAwsAccessKeyId,
  fakeAwsSecretAccessKey,
  fakeGitHubToken,
  fakeOpenAiLegacyKey,
  fakeOpenAiProjectKey,
  fakePemPrivateKey,
  fakeSlackBotToken,
} from "./helpers/fake-secrets.ts";

/** The parts of a secret that must not survive: the whole value, and any 12-character piece of it. */
function expectGone(text: string, secret: string) {
  expect(text).not.toContain(secret);
  for (let i = 0; i + 12 <= secret.length; i += 6) expect(text).not.toContain(secret.slice(i, i + 12));
}

describe("redactSecrets", () => {
  it.each([
    ["a GitHub token", fakeGitHubToken, "github"],
    ["an OpenAI project key", fakeOpenAiProjectKey, "openai"],
    ["an OpenAI legacy key", fakeOpenAiLegacyKey, "openai"],
    ["a Slack bot token", fakeSlackBotToken, "slack"],
    ["a PEM private key", fakePemPrivateKey, "privatekey"],
    ["an AWS access key id", fakeAwsAccessKeyId, "aws"],
  ])("removes %s", async (_name, make, rule) => {
    const secret = make();
    const { text, findings } = await redactSecrets(`Before.\nHere it is: ${secret}\nAfter.`);
    expectGone(text, secret);
    expect(text).toContain(`[REDACTED:${rule}]`);
    expect(text).toMatch(/^Before\.\nHere it is: /);
    expect(text).toMatch(/\nAfter\.$/);
    expect(findings).toEqual([{ rule, count: 1 }]);
  });

  it("removes an AWS key pair, including all of the secret access key", async () => {
    const id = fakeAwsAccessKeyId();
    const secret = fakeAwsSecretAccessKey();
    const input = `[default]\naws_access_key_id = ${id}\naws_secret_access_key = ${secret}\nregion = eu-west-1\n`;
    const { text, findings } = await redactSecrets(input);
    expectGone(text, id);
    expectGone(text, secret);
    expect(text).toContain("region = eu-west-1");
    expect(findings).toEqual([{ rule: "aws", count: 2 }]);
  });

  it("removes AWS secret access keys that end in / or +, which secretlint's own pattern misses", async () => {
    for (const end of ["/", "+"]) {
      const secret = `${fakeAwsSecretAccessKey().slice(0, 39)}${end}`;
      for (const after of ["\n", " ", ""]) {
        const { text, findings } = await redactSecrets(`aws_secret_access_key = ${secret}${after}`);
        expectGone(text, secret);
        expect(findings).toEqual([{ rule: "aws", count: 1 }]);
      }
    }
  });

  it("removes every secret in a mixed text and counts them per rule", async () => {
    const secrets = [fakeGitHubToken(), fakeGitHubToken(), fakeSlackBotToken(), fakeOpenAiProjectKey()];
    const { text, findings } = await redactSecrets(secrets.map((s, i) => `line ${i}: ${s}`).join("\n"));
    for (const secret of secrets) expectGone(text, secret);
    expect(text.split("\n")).toHaveLength(4);
    expect(mergeFindings(findings)).toEqual([
      { rule: "github", count: 2 },
      { rule: "openai", count: 1 },
      { rule: "slack", count: 1 },
    ]);
  });

  it("cannot be switched off by a secretlint-disable comment in the text", async () => {
    const token = fakeGitHubToken();
    const { text } = await redactSecrets(`<!-- secretlint-disable -->\n${token}\n<!-- secretlint-enable -->`);
    expectGone(text, token);
  });

  it("leaves text without secrets untouched", async () => {
    const input = "Rename `parseCommands` and update src/commands/parse-commands.ts.\nsk-not-a-key";
    expect(await redactSecrets(input)).toEqual({ text: input, findings: [] });
    expect(await redactSecrets("")).toEqual({ text: "", findings: [] });
  });

  it("handles a 1 MB text", async () => {
    const token = fakeGitHubToken();
    const { text } = await redactSecrets(`${"lorem ipsum ".repeat(90_000)}${token}`);
    expectGone(text, token);
  });

  it("does not accumulate profiler marks across calls (secretlint 11 leaked them)", async () => {
    await redactSecrets("warm up");
    const before = performance.getEntriesByType("mark").length;
    for (let i = 0; i < 50; i++) await redactSecrets(`call ${i}`);
    expect(performance.getEntriesByType("mark").length).toBe(before);
  });
});

describe("mergeFindings", () => {
  it("adds counts per rule", () => {
    expect(
      mergeFindings(
        [{ rule: "aws", count: 1 }],
        [
          { rule: "aws", count: 2 },
          { rule: "github", count: 1 },
        ],
      ),
    ).toEqual([
      { rule: "aws", count: 3 },
      { rule: "github", count: 1 },
    ]);
  });
});
