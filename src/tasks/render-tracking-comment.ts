import type { Refusal } from "../refusals/refusals.ts";

export interface TrackingView {
  taskId: string;
  state: string;
  requester: string | null;
  plan: {
    version: number;
    shortHash: string;
    status: string;
    source: string;
    /** Its comment is on the issue; until then it cannot be approved. */
    posted: boolean;
  } | null;
  approvals: { have: number; need: number; by: string[] };
  run: {
    status: string;
    conclusion: string | null;
    htmlUrl: string | null;
    runnerName: string | null;
    pullRequestUrl: string | null;
    error: string | null;
  } | null;
  /** Set when something went wrong (planning failed, no runner…); shown, with its code, until the next update. */
  problem: Refusal | null;
  /**
   * Set when the job writing this update had to wait for GitHub's rate limit: until then nothing
   * could be written, so it is said on the first update after the limit lifted.
   */
  delayedUntil?: Date | null;
}

const STAGES = ["requested", "planning", "awaiting_approval", "approved", "running", "done"] as const;

/**
 * The one comment per task that Amistio edits in place: a checklist of where the task stands.
 * Names come from GitHub logins at the time of rendering; nothing else personal is shown.
 */
export function renderTrackingComment(view: TrackingView): string {
  const reached = STAGES.indexOf(stageOf(view.state));
  const done = (stage: (typeof STAGES)[number]) => (STAGES.indexOf(stage) <= reached ? "x" : " ");
  const who = (logins: string[]) => logins.map((login) => `@${login}`).join(", ");
  const lines = ["### Amistio", ""];
  lines.push(`- [${done("requested")}] Requested${view.requester ? ` by @${view.requester}` : ""}`);
  lines.push(
    view.plan
      ? `- [${done("awaiting_approval")}] Plan v${view.plan.version} written (\`${view.plan.shortHash}\`${view.plan.source === "offline" ? ", offline" : ""})${view.plan.posted ? "" : ", **not posted yet**: it can be approved only once it is shown here"}`
      : `- [${done("awaiting_approval")}] Planning`,
  );
  const approvers = view.approvals.by.length > 0 ? ` — ${who(view.approvals.by)}` : "";
  lines.push(`- [${done("approved")}] Approved: ${view.approvals.have}/${view.approvals.need}${approvers}`);
  const run = view.run;
  const runText = run
    ? `Run ${run.status.replaceAll("_", " ")}${run.runnerName ? ` on \`${run.runnerName}\`` : ""}${run.htmlUrl ? ` ([workflow run](${run.htmlUrl}))` : ""}`
    : "Run on a self-hosted runner";
  lines.push(`- [${done("running")}] ${runText}`);
  const outcome = run?.pullRequestUrl
    ? `Done: ${run.pullRequestUrl}`
    : run?.conclusion
      ? `Finished: ${run.conclusion}`
      : "Done";
  lines.push(`- [${done("done")}] ${outcome}`);
  const notes: string[] = [];
  if (view.state === "rejected") notes.push("**Rejected.** `/amistio revise <feedback>` makes a new version.");
  if (view.state === "cancelled") notes.push("**Cancelled.**");
  if (view.state === "failed") notes.push(`**Failed.**${run?.error ? ` ${run.error}` : ""}`);
  if (view.problem) notes.push(`**Problem:** ${view.problem.summary} (\`${view.problem.code}\`)`);
  if (view.delayedUntil) {
    const until = view.delayedUntil.toISOString().slice(11, 16);
    notes.push(`_Delayed by GitHub's rate limit until ${until} UTC; Amistio carried on once it lifted._`);
  }
  if (notes.length > 0) lines.push("", ...notes);
  lines.push("", "<sub>Kept up to date by Amistio · `/amistio help` lists the commands</sub>");
  lines.push(`<!-- amistio:tracking task=${view.taskId} -->`);
  return lines.join("\n");
}

function stageOf(state: string): (typeof STAGES)[number] {
  switch (state) {
    case "requested":
    case "planning":
    case "awaiting_approval":
    case "approved":
    case "running":
    case "done":
      return state;
    case "rejected":
      return "awaiting_approval";
    case "failed":
    case "cancelled":
      return "approved";
    default:
      return "requested";
  }
}
