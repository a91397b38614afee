import { DEFAULT_REPO_SETTINGS, type RepoSettings } from "../config/repo-settings.ts";

export interface HelpOptions {
  /** The repository's settings: the prefix, label and permissions shown are the ones in force. */
  settings?: Pick<RepoSettings, "commands" | "approvals">;
}

/** The reply to `help` and to a bare prefix, and the list under an unknown verb: every command and who may use it. */
export function renderHelp(options: HelpOptions = {}): string {
  const { commands, approvals } = options.settings ?? DEFAULT_REPO_SETTINGS;
  const p = commands.prefix;
  const requesters = `${commands.requestPermission}+`;
  const approvers = [
    `${approvals.minPermission}+`,
    approvals.users.length > 0 || approvals.teams.length > 0 ? "on the approver list" : "",
    approvals.allowSelfApproval ? "" : "not the requester",
  ]
    .filter(Boolean)
    .join(", ");
  const quorum =
    approvals.required === 1 ? "one approval starts the run" : `${approvals.required} approvals start the run`;
  const lines = [
    "| command | who | what it does |",
    "| --- | --- | --- |",
    `| \`${p} plan [instructions]\` | ${requesters} | write a plan for this issue (or a new one) |`,
    `| \`${p} revise <feedback>\` | ${requesters} | a new plan version from your feedback; earlier approvals stop counting |`,
    `| \`${p} approve [vN]\` | ${approvers} | approve the current version (a stated \`vN\` must be the current one); ${quorum} |`,
    `| \`${p} reject [reason]\` | write+ | mark the current version rejected |`,
    `| \`${p} cancel\` | the requester, or write+ | cancel queued or running work |`,
    `| \`${p} retry\` | write+ | run the approved version again |`,
    `| \`${p} status\` | anyone who can read the repository | where this task stands |`,
    `| \`${p} help\` | anyone | this list |`,
    "",
    `Adding the \`${commands.triggerLabel}\` label to an issue is the same as \`${p} plan\`.`,
    `A command is a line of its own that starts with \`${p}\`; commands in quotes or code blocks are ignored, and only the first command in a comment acts.`,
  ];
  return lines.join("\n");
}
