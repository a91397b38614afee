import { agentOutput, codeSpan, fenced } from "./untrusted-text.ts";

/**
 * Every refusal and failure a person or a runner can see, in one registry: a stable code, where it
 * is seen, and its text. The code is shown with the text so people can look it up in
 * `docs/refusals.md`; a test fails when the two lists differ. Codes are `area.reason`; where the
 * audit trail or a metric already records a reason, it is the part after the dot.
 */

/** Where a refusal is seen: a reply on the issue, the tracking comment, the runner API's JSON, or a web page. */
export type Surface = "comment" | "tracking" | "runner_api" | "web";

interface Entry<P> {
  surface: Surface;
  text(params: P): string;
  /** One line: for the tracking comment and a run's stored error, a web page's heading; the text when absent. */
  summary?(params: P): string;
}

function entry<P = Record<string, never>>(
  surface: Surface,
  text: (params: P) => string,
  summary?: (params: P) => string,
): Entry<P> {
  return summary ? { surface, text, summary } : { surface, text };
}

type Prefix = { prefix: string };
type Version = { version: number };

/** A web page's refusal: its heading, then what happened and what to do. */
function page<P = Record<string, never>>(heading: string, text: (params: P) => string): Entry<P> {
  return entry<P>("web", text, () => heading);
}

const RETRY = (prefix: string) => `\`${prefix} retry\``;
const DOCS = "Amistio's `docs/runners.md`";
const MONTH = new Intl.DateTimeFormat("en-GB", { month: "long", year: "numeric", timeZone: "UTC" });
const DAY = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });

/** Why a version may not run: one sentence, said the same way by retry, dispatch and the runner API. */
const notStarted = (reason: string, prefix: string) =>
  `The run was not started: ${reason} Approve the current version (\`${prefix} approve\`) to run it.`;

/** A failure the runner reported: what happened, the runner's own words, its output, what to do. */
function runFailed(reason: string) {
  return entry<{ message: string | null; htmlUrl: string | null; outputTail: string | null } & Prefix>(
    "comment",
    (p) =>
      [
        `**The run failed:** ${reason}${p.message ? ` ${codeSpan(p.message)}` : ""}${p.htmlUrl ? ` ([workflow run](${p.htmlUrl}))` : ""}`,
        ...agentOutput(p.outputTail),
        "",
        `${RETRY(p.prefix)} starts a new run of the same approved plan.`,
      ].join("\n"),
    (p) => (p.message ? `${reason} ${codeSpan(p.message)}` : reason),
  );
}

/** GitHub refused the dispatch for want of access: what it answered, and what to grant. */
function dispatchRefused(what: string) {
  return entry<{ status: number; message: string } & Prefix>(
    "comment",
    (p) =>
      [
        `**Amistio could not start the run:** GitHub answered ${p.status} (${codeSpan(p.message)}).`,
        "",
        what,
        "",
        `Then comment ${RETRY(p.prefix)}.`,
      ].join("\n"),
    (p) => `GitHub answered ${p.status}: ${p.message}`,
  );
}

function planningFailed() {
  return entry<{ detail: string; revising: boolean } & Prefix>(
    "comment",
    (p) =>
      `**Amistio could not write a plan.** ${p.detail}\n\nTry again with \`${p.prefix} ${p.revising ? "revise <feedback>" : "plan"}\`.`,
    (p) => p.detail,
  );
}

export const REFUSALS = {
  // Commands as typed.
  "command.bad_version": entry<{ token: string } & Prefix>(
    "comment",
    (p) =>
      `\`${p.token.replace(/`/g, "").slice(0, 40)}\` is not a plan version: write \`${p.prefix} approve\` for the current plan, or \`${p.prefix} approve v3\` to approve version 3 only if it is still current.\n\n\`${p.prefix} help\` lists the commands.`,
  ),
  "command.no_feedback": entry<Prefix>(
    "comment",
    (p) =>
      `\`revise\` needs feedback saying what to change, e.g. \`${p.prefix} revise split step 2 into smaller steps\`.\n\n\`${p.prefix} help\` lists the commands.`,
  ),
  "command.unknown": entry<{ word: string; help: string }>(
    "comment",
    (p) => `\`${p.word.replace(/`/g, "'").slice(0, 40)}\` is not an Amistio command. These are:\n\n${p.help}`,
  ),
  "command.permission": entry<{ login: string; command: string; minimum: string; permission: string }>(
    "comment",
    (p) => `@${p.login} \`${p.command}\` needs ${p.minimum} permission on this repository; you have ${p.permission}.`,
  ),
  "command.ignored": entry<{ acting: string; ignored: string[] }>(
    "comment",
    (p) =>
      `Only the first command in a comment acts (\`${p.acting.slice(0, 80)}\`); ignored: ${p.ignored.map((raw) => `\`${raw.slice(0, 80)}\``).join(", ")}.`,
  ),

  // `.github/amistio.yml`.
  "settings.invalid": entry<{ file: string; problems: { path: string; message: string }[] }>(
    "comment",
    (p) => {
      const rows = p.problems
        .slice(0, MAX_LISTED_PROBLEMS)
        .map(
          (problem) =>
            `| ${problem.path === "" ? "(whole file)" : keySpan(problem.path)} | ${problem.message.replace(/\|/g, "\\|")} |`,
        );
      const more = p.problems.length - rows.length;
      return [
        `**Amistio cannot use \`${p.file}\`**: nothing will run for this repository until it is fixed.`,
        "",
        "| key | problem |",
        "| --- | --- |",
        ...rows,
        ...(more > 0 ? ["", `…and ${more} more.`] : []),
        "",
        "Fix the file on the default branch, then run the command again. Every key and its default is listed in Amistio's `docs/configuration.md`.",
      ].join("\n");
    },
    (p) => `\`${p.file}\` is invalid`,
  ),

  // Planning.
  "plan.no_plan_to_revise": entry<Prefix>(
    "comment",
    (p) => `There is no plan to revise yet: \`${p.prefix} plan\` writes the first one.`,
  ),
  "plan.over_budget": entry<{ used: number; limit: number; resetsAt: Date } & Prefix>(
    "comment",
    (p) =>
      [
        `**This repository has used its AI planning budget for ${MONTH.format(new Date(p.resetsAt.getTime() - 1))}**: ${p.used.toLocaleString("en")} of ${p.limit.toLocaleString("en")} tokens. No plan was written and the model was not called.`,
        "",
        `The budget starts again on ${DAY.format(p.resetsAt)} (00:00 UTC); \`${p.prefix} plan\` works again then. ` +
          "To plan sooner, raise `planner.monthlyTokens` in `.github/amistio.yml`, or set `planner.provider: offline` for a plan built from the issue's own text.",
      ].join("\n"),
    () => "This repository's AI planning budget for the month is used up.",
  ),
  "plan.invalid_output": planningFailed(),
  "plan.refused": planningFailed(),
  "plan.timeout": planningFailed(),
  "plan.rate_limited": planningFailed(),
  "plan.unauthorized": planningFailed(),
  "plan.rejected": planningFailed(),
  "plan.unavailable": planningFailed(),

  // Approving.
  "approval.no_plan": entry<Prefix>(
    "comment",
    (p) => `There is no plan to approve yet: \`${p.prefix} plan\` writes one.`,
  ),
  "approval.stale_version": entry<{ named: number; current: number } & Prefix>(
    "comment",
    (p) =>
      `v${p.named} is not the current plan; the current one is v${p.current}. To approve it: \`${p.prefix} approve v${p.current}\`.`,
  ),
  "approval.unknown_version": entry<{ named: number; current: number } & Prefix>(
    "comment",
    (p) =>
      `There is no v${p.named}; the current one is v${p.current}. To approve it: \`${p.prefix} approve v${p.current}\`.`,
  ),
  "approval.rejected": entry<Version & Prefix>(
    "comment",
    (p) => `v${p.version} was rejected. \`${p.prefix} revise <feedback>\` makes a new version.`,
  ),
  "approval.already_approved": entry<Version>("comment", (p) => `v${p.version} is already approved.`),
  "approval.already_counted": entry<Version>("comment", (p) => `You already approved v${p.version}.`),
  "approval.not_posted": entry<Version & Prefix>(
    "comment",
    (p) =>
      `v${p.version} has not been posted on this issue (GitHub did not accept the comment), so there is nothing shown to approve. Amistio keeps trying while the job has tries left; if it gave up, \`${p.prefix} plan\` writes and posts a new version.`,
  ),
  "approval.comment_deleted": entry<Version & Prefix>(
    "comment",
    (p) =>
      `The comment showing v${p.version} was deleted, so what would be approved is no longer shown. \`${p.prefix} plan\` writes and posts a new version.`,
  ),
  "approval.comment_changed": entry<Version & Prefix>(
    "comment",
    (p) =>
      `The comment showing v${p.version} was edited after Amistio posted it, so what is shown is not what would run. \`${p.prefix} plan\` writes and posts a new version.`,
  ),
  "approval.bot": entry("comment", () => "Bots cannot approve plans."),
  "approval.permission": entry<{ minimum: string; permission: string }>(
    "comment",
    (p) => `Approving needs ${p.minimum} permission on this repository; you have ${p.permission}.`,
  ),
  "approval.self_approval": entry(
    "comment",
    () => "You asked for this plan, so your own approval does not count here.",
  ),
  "approval.not_listed": entry<{ names: string[] }>(
    "comment",
    (p) => `Only these people and teams may approve here: ${p.names.join(", ")}.`,
  ),
  "approval.not_code_owner": entry<{ owners: string[] }>(
    "comment",
    (p) => `This plan touches files with code owners (${p.owners.join(", ")}); approve as one of them.`,
  ),

  // Rejecting.
  "reject.no_plan": entry("comment", () => "There is no plan to reject yet."),
  "reject.not_awaiting": entry<Version & { status: string }>(
    "comment",
    (p) => `v${p.version} is ${p.status.replaceAll("_", " ")}; only a plan awaiting approval can be rejected.`,
  ),

  // Retrying and cancelling.
  "retry.no_plan": entry<Prefix>("comment", (p) => `There is no plan yet: \`${p.prefix} plan\` writes one.`),
  "retry.not_approved": entry<Version & { status: string } & Prefix>(
    "comment",
    (p) =>
      `v${p.version} is ${p.status.replaceAll("_", " ")}, not approved: only an approved plan runs. \`${p.prefix} approve\` it first.`,
  ),
  "retry.still_running": entry<Version & { status: string } & Prefix>(
    "comment",
    (p) =>
      `A run of v${p.version} is still ${p.status.replaceAll("_", " ")}. \`${p.prefix} cancel\` it first to start another.`,
  ),
  "cancel.not_allowed": entry<{ login: string; permission: string }>(
    "comment",
    (p) =>
      `@${p.login} only the person who asked for this work or someone with write permission can cancel it; you have ${p.permission}.`,
  ),
  "cancel.nothing_running": entry("comment", () => "There is no queued or running work to cancel."),
  "cancel.github_conflict": entry<{ htmlUrl: string | null; message: string }>(
    "comment",
    (p) =>
      `GitHub could not cancel the [workflow run](${p.htmlUrl ?? ""}): \`${p.message.replace(/`/g, "'")}\`. It has most likely finished already; its result will be posted here.`,
  ),
  "cancel.github_forbidden": entry<{ status: number }>(
    "comment",
    (p) =>
      `GitHub refused to cancel the workflow run (${p.status}): the Amistio App needs the **Actions: write** permission on this repository.`,
  ),

  // A version that may no longer run: checked by retry, before dispatch, and when the runner asks for the plan.
  "run.plan_not_approved": entry<Version & { status: string } & Prefix>(
    "comment",
    (p) => notStarted(`plan v${p.version} is ${p.status.replaceAll("_", " ")}, not approved.`, p.prefix),
    (p) => `plan v${p.version} is ${p.status.replaceAll("_", " ")}, not approved.`,
  ),
  "run.plan_changed": entry<Version & Prefix>(
    "comment",
    (p) => notStarted(`plan v${p.version} changed after this run was approved.`, p.prefix),
    (p) => `plan v${p.version} changed after this run was approved.`,
  ),
  "run.hash_mismatch": entry<Version & Prefix>(
    "comment",
    (p) => notStarted(`the stored plan v${p.version} no longer matches the content that was approved.`, p.prefix),
    (p) => `the stored plan v${p.version} no longer matches the content that was approved.`,
  ),
  "run.approvals_lapsed": entry<Version & { have: number; need: number } & Prefix>(
    "comment",
    (p) => notStarted(`only ${p.have} of the ${p.need} required approvals of v${p.version} still count.`, p.prefix),
    (p) => `only ${p.have} of the ${p.need} required approvals of v${p.version} still count.`,
  ),

  // Dispatching the workflow.
  "dispatch.no_public_url": entry<Prefix>(
    "comment",
    (p) =>
      `**The run was not started:** this Amistio server has no public address (\`AMISTIO_PUBLIC_URL\`), so a runner could not reach it. Its operator needs to set it; then comment ${RETRY(p.prefix)}.`,
    () => "AMISTIO_PUBLIC_URL is not set",
  ),
  "dispatch.workflow_missing": entry<{ workflow: string; branch: string } & Prefix>(
    "comment",
    (p) =>
      [
        `**Amistio could not start the run:** the workflow \`${p.workflow}\` does not exist on \`${p.branch}\`, the default branch. GitHub only dispatches workflows that are there.`,
        "",
        "Add it, then try again:",
        "",
        `1. In a clone of this repository run \`amistio-runner init\` (it writes \`${p.workflow}\`), or copy \`packages/runner/workflow-template.yml\` from Amistio to that path.`,
        `2. Commit it to \`${p.branch}\` and push.`,
        `3. Comment ${RETRY(p.prefix)}.`,
        "",
        `${DOCS} explains the workflow and the self-hosted runner it needs.`,
      ].join("\n"),
    (p) => `the workflow ${p.workflow} is not on the default branch ${p.branch}`,
  ),
  "dispatch.forbidden": dispatchRefused(
    "The Amistio App needs the **Actions: write** permission to start workflows. An owner of this account can grant it under Settings → GitHub Apps → Amistio (accept the requested permissions).",
  ),
  "dispatch.no_access": dispatchRefused(
    "The App's installation cannot see this repository's workflows: check that the installation includes this repository and grants **Actions: write**.",
  ),
  "dispatch.rejected": entry<{ message: string } & Prefix>(
    "comment",
    (p) =>
      [
        "**Amistio could not start the run:** GitHub rejected the workflow dispatch:",
        "",
        fenced(p.message),
        "",
        `If it names unexpected inputs or a missing \`workflow_dispatch\` trigger, update the workflow from Amistio's \`packages/runner/workflow-template.yml\`; then comment ${RETRY(p.prefix)}.`,
      ].join("\n"),
    (p) => `GitHub rejected the dispatch: ${p.message}`,
  ),
  "dispatch.unavailable": entry<{ message: string; attempts: number } & Prefix>(
    "comment",
    (p) =>
      `**Amistio could not start the run:** GitHub kept failing (${codeSpan(p.message)}) after ${p.attempts} tries. Nothing was started; comment ${RETRY(p.prefix)} to try again.`,
    (p) => `GitHub kept failing: ${p.message}`,
  ),

  // Following the run.
  "run.queued_too_long": entry<{ minutes: number; labels: string[]; htmlUrl: string | null } & Prefix>(
    "comment",
    (p) =>
      [
        `**No runner has picked up the run after ${p.minutes} minutes.** No online self-hosted runner matches the labels ${p.labels.map(codeSpan).join(", ")}${p.htmlUrl ? ` ([workflow run](${p.htmlUrl}))` : ""}.`,
        "",
        `Start a runner with these labels (${DOCS}), or change \`runner.labels\` in \`.github/amistio.yml\`. The run keeps waiting; \`${p.prefix} cancel\` stops it.`,
      ].join("\n"),
    (p) => `no online runner matches the labels ${p.labels.join(", ")}`,
  ),
  "run.ended_without_report": entry<{ conclusion: string | null; htmlUrl: string | null } & Prefix>(
    "comment",
    (p) =>
      [
        `**The run ended before the runner reported a result** (workflow conclusion: ${codeSpan(p.conclusion ?? "unknown")}).${p.htmlUrl ? ` See the [workflow run](${p.htmlUrl}).` : ""}`,
        "",
        `Check that the workflow runs \`amistio-runner run\` as in Amistio's \`packages/runner/workflow-template.yml\`; ${RETRY(p.prefix)} starts a new run.`,
      ].join("\n"),
    (p) => `the workflow run ended (${p.conclusion ?? "no conclusion"}) before the runner reported`,
  ),
  "run.cancelled_before_report": entry<{ htmlUrl: string | null }>(
    "comment",
    (p) =>
      `**The run was cancelled** before the runner reported a result.${p.htmlUrl ? ` See the [workflow run](${p.htmlUrl}).` : ""}`,
    () => "the workflow run ended (cancelled) before the runner reported",
  ),
  "run.plan_hash_mismatch": runFailed(
    "the plan the runner received does not match the approved hash, so the agent was not run.",
  ),
  "run.agent_failed": runFailed("the agent exited with an error."),
  "run.agent_timeout": runFailed("the agent ran past `runner.timeoutMinutes` and was stopped."),
  "run.push_rejected": runFailed("the branch could not be pushed (the push was rejected)."),
  "run.git_failed": runFailed("committing the agent's changes failed."),
  "run.setup_failed": runFailed("the runner could not prepare the run."),
  "run.pull_request_failed": entry<{ branch: string | null; problem: string; htmlUrl: string | null } & Prefix>(
    "comment",
    (p) =>
      [
        `**The branch \`${p.branch}\` was pushed, but Amistio could not open the pull request:** ${codeSpan(p.problem)}${p.htmlUrl ? ` ([workflow run](${p.htmlUrl}))` : ""}.`,
        "",
        `Open it by hand from the branch, or fix the problem and comment ${RETRY(p.prefix)}.`,
      ].join("\n"),
    (p) => `could not open the pull request: ${p.problem}`,
  ),

  // A webhook delivery that failed for good, said on the tracking comment.
  "delivery.failed": entry<{ deliveryId: string }>(
    "tracking",
    (p) =>
      `Amistio could not act on an event for this task (delivery \`${p.deliveryId}\`) and has stopped trying. Type the command again, or ask the operator to replay the delivery (\`npm run deliveries -- replay ${p.deliveryId}\`).`,
  ),

  // The runner API: `{ error, code }` in the JSON body of a refused call.
  "runner.unknown_run": entry("runner_api", () => "no such run"),
  "runner.no_token": entry(
    "runner_api",
    () => "no token: the runner must send a GitHub Actions OIDC token (the job needs `permissions: id-token: write`)",
  ),
  "runner.invalid_token": entry<{ detail: string }>("runner_api", (p) => p.detail),
  "runner.keys_unavailable": entry(
    "runner_api",
    () => "the issuer's signing keys could not be fetched: try again in a minute",
  ),
  "runner.other_repository": entry("runner_api", () => "the token was issued to a workflow of another repository"),
  "runner.other_workflow": entry(
    "runner_api",
    () => "the token was issued to another workflow than the one Amistio dispatched",
  ),
  "runner.other_run": entry("runner_api", () => "the token was issued to another workflow run"),
  "runner.other_attempt": entry("runner_api", () => "the token was issued to another attempt of the workflow run"),
  "runner.run_ended": entry<{ status: string | null }>(
    "runner_api",
    (p) => `the run has ended${p.status ? ` (${p.status})` : ""}`,
  ),
  "runner.not_dispatched": entry("runner_api", () => "the run has not been dispatched"),
  "runner.bad_events": entry("runner_api", () => "events must be { events: [{ kind, message }] }"),
  "runner.bad_result": entry("runner_api", () => "the result does not match the runner contract"),

  // Web pages: signing in.
  "web.sign_in_required": page<{ reason: string }>("Sign in to continue", (p) => p.reason),
  "web.sign_in_not_configured": page<{ provider: string }>(
    "Sign-in not available",
    (p) => `Signing in with ${p.provider} is not configured on this instance.`,
  ),
  "web.sign_in_first": page<{ provider: string }>(
    "Sign in first",
    (p) => `Sign in before linking a ${p.provider} account to yours.`,
  ),
  "web.provider_unreachable": page<{ provider: string }>(
    "Sign-in unavailable",
    (p) => `${p.provider} could not be reached. Try again in a moment.`,
  ),
  "web.sign_in_state_mismatch": page(
    "Sign-in could not be completed",
    () =>
      "This answer does not belong to a sign-in started in this browser: it was already used, or it comes from another browser or tab. Nothing was changed; start again.",
  ),
  "web.sign_in_expired": page(
    "Sign-in took too long",
    () => "The sign-in was started more than 10 minutes ago. Nothing was changed; start again.",
  ),
  "web.sign_in_cancelled": page<{ provider: string; description: string }>(
    "Sign-in cancelled",
    (p) => `${p.provider} did not sign you in: ${p.description.slice(0, 300)}. Nothing was changed.`,
  ),
  "web.link_session_ended": page(
    "Session ended",
    () => "Your session ended while linking an account. Sign in and try again.",
  ),
  "web.sign_in_not_confirmed": page<{ provider: string; detail: string | null }>(
    "Sign-in could not be completed",
    (p) =>
      `${p.provider} did not confirm the sign-in${p.detail ? ` (${p.detail})` : ""}. Nothing was changed; start again.`,
  ),
  "web.identity_taken": page<{ provider: string }>(
    "Account already linked",
    (p) =>
      `This ${p.provider} account is already linked to another Amistio account. Sign in with it to use that account, or delete that account first. Nothing was changed.`,
  ),
  "web.github_account_taken": page<{ otherSignIn: string }>(
    "Account already linked",
    (p) =>
      `This GitHub account already belongs to another Amistio account (from an earlier sign-in or from its activity on GitHub). Sign out, sign in with GitHub, and link ${p.otherSignIn} from that account. Nothing was changed.`,
  ),
  "web.other_github_linked": page(
    "Account already linked",
    () => "Your account is already linked to a different GitHub account. Nothing was changed.",
  ),

  // Web pages: workspaces.
  "web.workspace_not_found": page(
    "Workspace not found",
    () => "There is no such workspace, or GitHub does not list it among the installations you can reach.",
  ),
  "web.access_unconfirmed": page<{ noToken: boolean }>("Access could not be confirmed", (p) =>
    p.noToken
      ? "GitHub last confirmed that you can reach this workspace over an hour ago, and Amistio holds no valid GitHub token to ask again. Sign out and sign in with GitHub, and your workspaces are checked again."
      : "GitHub last confirmed that you can reach this workspace over an hour ago, and it cannot be asked right now. Until it answers, the workspace stays closed. Nothing was changed; try again in a few minutes.",
  ),
  "web.github_token_missing": page(
    "Sign in with GitHub again",
    () =>
      "Amistio holds no valid GitHub token for you. Sign out and sign in with GitHub, and your workspaces are listed again.",
  ),
  "web.github_unreachable": page(
    "GitHub did not answer",
    () => "GitHub could not be asked which workspaces you can reach. Your list was left as it was; try again later.",
  ),
  "web.bad_page_link": page<{ newest: "tasks" | "events" }>(
    "Bad page link",
    (p) => `That page link is not valid. Start from the newest ${p.newest}.`,
  ),

  // Web pages: the account and privacy requests.
  "web.profile_invalid": page<{ problems: string[] }>(
    "Details not saved",
    (p) => `Nothing was changed: ${p.problems.join("; ")}.`,
  ),
  "web.deletion_not_confirmed": page(
    "Account not deleted",
    () => "What you typed does not match the confirmation shown on the account page. Nothing was deleted.",
  ),
  "web.operators_only": page(
    "Operators only",
    () => "Only the instance's operators (AMISTIO_ADMINS) can manage privacy requests.",
  ),
  "web.privacy_request_kind": page(
    "Request not sent",
    () => "Choose what you ask for from the list. Nothing was sent.",
  ),
  "web.privacy_request_details": page<{ max: number }>(
    "Request not sent",
    (p) => `Describe your request in 1 to ${p.max} characters. Nothing was sent.`,
  ),
  "web.privacy_status_missing": page("Not updated", () => "Choose a new status. Nothing was changed."),
  "web.privacy_note_too_long": page<{ max: number }>(
    "Not updated",
    (p) => `The note is longer than ${p.max} characters. Nothing was changed.`,
  ),
  "web.privacy_request_not_found": page(
    "No such request",
    () => "That privacy request does not exist (it may have been deleted with its account).",
  ),
  "web.privacy_status_change": page<{ from: string; to: string }>(
    "Not updated",
    (p) =>
      `A request that is ${p.from.replace("_", " ")} cannot become ${p.to.replace("_", " ")}. Nothing was changed.`,
  ),
};

export type RefusalCode = keyof typeof REFUSALS;
type ParamsOf<C extends RefusalCode> = Parameters<(typeof REFUSALS)[C]["text"]>[0];

/** A refusal rendered for its surface, with its code. */
export interface Refusal {
  code: RefusalCode;
  text: string;
  /** One line, for the tracking comment and a run's stored error. */
  summary: string;
}

export function refusal<C extends RefusalCode>(
  code: C,
  ...params: ParamsOf<C> extends Record<string, never> ? [] : [ParamsOf<C>]
): Refusal {
  const spec = REFUSALS[code] as Entry<ParamsOf<C>>;
  const given = (params[0] ?? {}) as ParamsOf<C>;
  const text = spec.text(given);
  return { code, text, summary: spec.summary?.(given) ?? text };
}

/** A refusal as a reply on the issue: its text, then its code to look up. */
export function refusalComment(refused: Refusal): string {
  return `${refused.text}\n\n${codeLine(refused.code)}`;
}

/** The line that names a code where people read it. */
export function codeLine(code: RefusalCode): string {
  return `<sub>Amistio code \`${code}\` · what it means and what to do: Amistio's \`docs/refusals.md\`</sub>`;
}

/** What the runner API answers a refused call with: one line (no Markdown table in a job log) and its code. */
export function runnerApiError(refused: Refusal): { error: string; code: RefusalCode } {
  return { error: refused.summary, code: refused.code };
}

const MAX_LISTED_PROBLEMS = 20;

// Keys come from the user's file: keep them inside one code span and one table cell.
function keySpan(text: string): string {
  return `\`${text.slice(0, 100).replace(/`/g, "'").replace(/\|/g, "\\|")}\``;
}
