import { describe, expect, it } from "vitest";
import { parseCommands } from "../../../src/commands/parse-commands.ts";
import { renderHelp } from "../../../src/commands/render-help.ts";
import { DEFAULT_REPO_SETTINGS } from "../../../src/config/repo-settings.ts";
import { refusal, refusalComment } from "../../../src/refusals/refusals.ts";

describe("renderHelp", () => {
  it("lists every command with the default settings", () => {
    expect(renderHelp()).toMatchSnapshot();
  });

  it("shows the repository's prefix, label and approval policy, and names an unknown verb", () => {
    const help = renderHelp({
      settings: {
        commands: { prefix: "/bot", triggerLabel: "ai-plan", requestPermission: "write" },
        approvals: { ...DEFAULT_REPO_SETTINGS.approvals, required: 2, teams: ["acme/leads"], allowSelfApproval: true },
      },
    });
    const { text } = refusal("command.unknown", { word: "deploy", help });
    expect(text).toMatchSnapshot();
  });

  it("is never itself read as a command", () => {
    expect(parseCommands(renderHelp())).toEqual([]);
    expect(parseCommands(refusalComment(refusal("command.unknown", { word: "x", help: renderHelp() })))).toEqual([]);
  });
});
