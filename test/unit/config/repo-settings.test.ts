import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import {
  choosePlannerProvider,
  DEFAULT_REPO_SETTINGS,
  parseRepoSettings,
  type SettingsProblem,
} from "../../../src/config/repo-settings.ts";
import { refusal } from "../../../src/refusals/refusals.ts";

const problemsOf = (yamlText: string) => {
  const result = parseRepoSettings(parseYaml(yamlText));
  if (result.ok) throw new Error("expected problems");
  return result.problems;
};

const settingsOf = (yamlText: string) => {
  const result = parseRepoSettings(parseYaml(yamlText));
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.settings;
};

describe("parseRepoSettings", () => {
  it("gives every default for a missing or empty file", () => {
    expect(parseRepoSettings(null)).toEqual({ ok: true, settings: DEFAULT_REPO_SETTINGS });
    expect(parseRepoSettings(undefined)).toEqual({ ok: true, settings: DEFAULT_REPO_SETTINGS });
    expect(settingsOf("")).toEqual(DEFAULT_REPO_SETTINGS);
    expect(DEFAULT_REPO_SETTINGS).toEqual({
      commands: { prefix: "/amistio", triggerLabel: "amistio", requestPermission: "triage" },
      approvals: {
        required: 1,
        minPermission: "write",
        users: [],
        teams: [],
        codeowners: false,
        allowSelfApproval: false,
      },
      planner: { contextTokens: 12000 },
      runner: {
        workflow: ".github/workflows/amistio.yml",
        labels: ["self-hosted"],
        agent: "command",
        timeoutMinutes: 60,
        queuedTimeoutMinutes: 15,
      },
      retention: { runEventsDays: 90 },
    });
  });

  it("keeps the defaults frozen so no caller can change them for everyone", () => {
    expect(() => {
      (DEFAULT_REPO_SETTINGS.runner.labels as string[]).push("x");
    }).toThrow();
  });

  it("merges a partial file over the defaults", () => {
    const settings = settingsOf(`
approvals:
  required: 2
  teams: [acme/platform-leads]
planner:
  provider: offline
  instructions: Prefer small steps.
runner:
  labels: [self-hosted, linux, gpu]
  agent: codex
`);
    expect(settings.approvals).toMatchObject({ required: 2, teams: ["acme/platform-leads"], minPermission: "write" });
    expect(settings.planner).toEqual({
      provider: "offline",
      instructions: "Prefer small steps.",
      contextTokens: 12000,
    });
    expect(settings.runner.labels).toEqual(["self-hosted", "linux", "gpu"]);
    expect(settings.commands.prefix).toBe("/amistio");
  });

  it("treats a key written without a value as not set", () => {
    expect(settingsOf("approvals:\nrunner:\n  labels:\n")).toEqual(DEFAULT_REPO_SETTINGS);
  });

  it("accepts a bare workflow file name and Probot's _extends", () => {
    expect(settingsOf("_extends: .github\nrunner:\n  workflow: agent.yaml").runner.workflow).toBe("agent.yaml");
  });

  it.each([
    ["approvals:\n  required: 0", "approvals.required", "must be at least 1"],
    ["approvals:\n  required: 11", "approvals.required", "must be at most 10"],
    ["approvals:\n  required: 1.5", "approvals.required", "must be a whole number"],
    ["approvals:\n  required: two", "approvals.required", "must be a number"],
    [
      "approvals:\n  minPermission: owner",
      "approvals.minPermission",
      "must be one of read, triage, write, maintain, admin",
    ],
    ["approvals:\n  users: alice", "approvals.users", "must be a list"],
    ["approvals:\n  users: [alice, 'bob smith']", "approvals.users[1]", "must be a GitHub login"],
    ["approvals:\n  teams: [platform]", "approvals.teams[0]", "must be org/team-slug"],
    ["approvals:\n  codeowners: yes please", "approvals.codeowners", "must be true or false"],
    [
      "approvals:\n  quorum: 2",
      "approvals.quorum",
      "unknown key (allowed: required, minPermission, users, teams, codeowners, allowSelfApproval)",
    ],
    ["aprovals:\n  required: 2", "aprovals", "unknown key (allowed: commands, approvals, planner, runner, retention)"],
    ["approvals: 2", "approvals", "must be a mapping of keys to values"],
    [
      "commands:\n  prefix: amistio",
      "commands.prefix",
      "must be a slash word such as /amistio (letters, digits, - or _)",
    ],
    ["commands:\n  triggerLabel: ''", "commands.triggerLabel", "must not be empty"],
    ["planner:\n  provider: anthropic", "planner.provider", "must be one of openai, offline"],
    ["planner:\n  contextTokens: 999", "planner.contextTokens", "must be at least 1000"],
    ["planner:\n  contextTokens: 200001", "planner.contextTokens", "must be at most 200000"],
    [`planner:\n  instructions: ${"x".repeat(4001)}`, "planner.instructions", "must be at most 4000 characters"],
    [
      "runner:\n  workflow: ../../evil.yml",
      "runner.workflow",
      "must be a workflow file in .github/workflows, e.g. .github/workflows/amistio.yml",
    ],
    ["runner:\n  labels: []", "runner.labels", "must have at least 1 entry"],
    ["runner:\n  agent: copilot", "runner.agent", "must be one of codex, claude-code, aider, command"],
    ["runner:\n  timeoutMinutes: 721", "runner.timeoutMinutes", "must be at most 720"],
    ["retention:\n  runEventsDays: 0", "retention.runEventsDays", "must be at least 1"],
  ])("%s → %s", (yamlText, path, message) => {
    expect(problemsOf(yamlText)).toEqual([{ path, message }]);
  });

  it("rejects a file that is not a mapping", () => {
    expect(problemsOf("- a\n- b")).toEqual([{ path: "", message: "must be a mapping of keys to values" }]);
  });

  it("reports every problem at once", () => {
    expect(problemsOf("approvals:\n  required: 0\n  extra: 1\nrunner:\n  agent: x").map((p) => p.path)).toEqual([
      "approvals.required",
      "approvals.extra",
      "runner.agent",
    ]);
  });
});

describe("choosePlannerProvider", () => {
  it("uses OpenAI only when a key is configured, unless the repository chose", () => {
    const auto = DEFAULT_REPO_SETTINGS.planner;
    expect(choosePlannerProvider(auto, { openAiConfigured: true })).toBe("openai");
    expect(choosePlannerProvider(auto, { openAiConfigured: false })).toBe("offline");
    expect(choosePlannerProvider({ ...auto, provider: "offline" }, { openAiConfigured: true })).toBe("offline");
  });
});

describe("the settings.invalid reply", () => {
  const render = (problems: SettingsProblem[], file = ".github/amistio.yml") =>
    refusal("settings.invalid", { file, problems }).text;

  it("names each key and its problem", () => {
    expect(render(problemsOf("approvals:\n  required: 0\n  quorum: 2\nrunner:\n  agent: copilot"))).toMatchSnapshot();
  });

  it("keeps hostile keys inside their code span and bounds the list", () => {
    const keys = Array.from({ length: 25 }, (_, i) => `"k\`${i} | @everyone": 1`).join("\n");
    const text = render(problemsOf(keys), ".github/amistio.yaml");
    expect(text).toContain("`.github/amistio.yaml`");
    expect(text).toContain("| `k'0 \\| @everyone` |");
    expect(text).toContain("…and 5 more.");
    expect(text.split("\n").filter((line) => line.startsWith("| `"))).toHaveLength(20);
  });
});
