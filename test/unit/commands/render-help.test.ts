import { describe, expect, it } from "vitest";
import { parseCommands } from "../../../src/commands/parse-commands.ts";
import { renderHelp } from "../../../src/commands/render-help.ts";
import { DEFAULT_REPO_SETTINGS } from "../../../src/config/repo-settings.ts";

describe("renderHelp", () => {
  it("lists every command with the default settings", () => {
    expect(renderHelp()).toMatchSnapshot();
  });

  it("shows the repository's prefix, label and approval policy, and names an unknown verb", () => {
    const text = renderHelp({
      settings: {
        commands: { prefix: "/bot", triggerLabel: "ai-plan", requestPermission: "write" },
        approvals: { ...DEFAULT_REPO_SETTINGS.approvals, required: 2, teams: ["acme/leads"], allowSelfApproval: true },
      },
      unknownVerb: "deploy",
    });
    expect(text).toMatchSnapshot();
  });

  it("is never itself read as a command", () => {
    expect(parseCommands(renderHelp({ unknownVerb: "x" }))).toEqual([]);
  });
});
