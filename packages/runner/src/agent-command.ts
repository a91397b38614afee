import type { RunnerJob } from "@amistio/contract/runner-contract";

export interface AgentCommand {
  /** A program and its arguments, or a shell command line when `shell` is set. */
  command: string;
  args: string[];
  shell: boolean;
}

const INSTRUCTION =
  "Carry out the approved plan given below (it is also in the file named by AMISTIO_PLAN_FILE) in this repository. Change only what the plan asks for. Do not commit or push: the Amistio runner does that.";

/**
 * The command each agent runs with. Every agent gets the plan as text on stdin and as a file
 * (AMISTIO_PLAN_FILE, Markdown; AMISTIO_PLAN_JSON, the approved JSON); none is given a way to
 * commit, push or talk to Amistio.
 */
export function agentCommand(agent: RunnerJob["agent"], planFile: string): AgentCommand {
  switch (agent.kind) {
    case "codex":
      // Non-interactive Codex: the instruction as the prompt, the plan piped in as context; edits
      // allowed inside the working directory only.
      return { command: "codex", args: ["exec", "--sandbox", "workspace-write", INSTRUCTION], shell: false };
    case "claude-code":
      // Claude Code's print mode: the piped plan comes with the instruction; file edits accepted.
      return { command: "claude", args: ["-p", "--permission-mode", "acceptEdits", INSTRUCTION], shell: false };
    case "aider":
      return {
        command: "aider",
        args: ["--yes-always", "--no-auto-commits", "--no-stream", "--no-check-update", "--message-file", planFile],
        shell: false,
      };
    case "command":
      if (!agent.command) {
        throw new Error("runner.agent is `command` but runner.command is not set in .github/amistio.yml");
      }
      return { command: agent.command, args: [], shell: true };
  }
}
