import type { Context, Probot } from "probot";
import { atLeast } from "../approvals/repository-permission.ts";
import { appendAuditEvent } from "../audit/append-audit-event.ts";
import { parseRepoSettings, REPO_SETTINGS_FILE, type RepoSettings } from "../config/repo-settings.ts";
import { onEvent } from "../github/on-event.ts";
import { postComment } from "../github/post-comment.ts";
import type { JobTry } from "../queue/job-queue.ts";
import { type Refusal, refusal, refusalComment } from "../refusals/refusals.ts";
import { ensureTask, type TaskSource } from "../tasks/ensure-task.ts";
import { updateTrackingComment } from "../tasks/update-tracking-comment.ts";
import { ensureGithubUser } from "../workspaces/ensure-github-user.ts";
import type { CommandContext, CommandServices, Octokit } from "./command-context.ts";
import { COMMAND_RUNNERS, checkCommandRunners } from "./command-runners.ts";
import { type ParsedCommand, parseCommands } from "./parse-commands.ts";

interface Sender {
  id: number;
  login: string;
  type: string;
}

interface CommandEvent {
  context: Context;
  /** The delivery job's try: a retry looks for what an earlier try already posted. */
  job: JobTry;
  source: TaskSource;
  sender: Sender;
  /** The comment to react to; none for the label trigger. */
  commentId?: { id: number; kind: "issue" | "review" };
  text: string | null;
  /** A label event stands for `plan` without parsing anything. */
  labelPlan?: boolean;
}

/**
 * Commands come only from newly created comments (issues, pull requests, review comments) and
 * the trigger label; edited and deleted comments never act. Each accepted command gets 👀 at
 * once; each refusal a short reply saying why; every decision is an audit event.
 */
export function handleCommands(app: Probot, services: CommandServices): void {
  checkCommandRunners();

  onEvent(app, "issue_comment.created", async (context, job) => {
    const { issue, comment, repository, installation, sender } = context.payload;
    if (!installation) return;
    await handle(services, {
      context,
      job,
      sender,
      source: {
        installation,
        repository,
        number: issue.number,
        title: issue.title,
        isPullRequest: Boolean(issue.pull_request),
      },
      commentId: { id: comment.id, kind: "issue" },
      text: comment.body,
    });
  });

  onEvent(app, "pull_request_review_comment.created", async (context, job) => {
    const { pull_request, comment, repository, installation, sender } = context.payload;
    if (!installation) return;
    await handle(services, {
      context,
      job,
      sender,
      source: { installation, repository, number: pull_request.number, title: pull_request.title, isPullRequest: true },
      commentId: { id: comment.id, kind: "review" },
      text: comment.body,
    });
  });

  onEvent(app, "issues.labeled", async (context, job) => {
    const { issue, label, repository, installation, sender } = context.payload;
    if (!installation || !label) return;
    await handle(services, {
      context,
      job,
      sender,
      source: { installation, repository, number: issue.number, title: issue.title, isPullRequest: false },
      text: null,
      labelPlan: true,
    });
  });
}

async function handle(services: CommandServices, event: CommandEvent): Promise<void> {
  const { context, source, sender, job } = event;
  const { db } = services;
  const owner = source.repository.owner.login;
  const repo = source.repository.name;
  const octokit = context.octokit as Octokit;
  const deliveryId = context.id;
  const reply = (body: string, purpose = "reply") =>
    postComment(octokit, { owner, repo, issueNumber: source.number, body, key: `${purpose}:${deliveryId}`, job }).then(
      () => undefined,
    );
  const refuse = (refused: Refusal, purpose?: string) => reply(refusalComment(refused), purpose);

  // Cheap filter first: most comments have no line starting with a slash, and settings cost an API call.
  if (event.text !== null && !/(^|\n)[ \t]*\//.test(event.text)) return;

  const loaded = await loadSettings(context);
  if (!loaded.ok) {
    await refuse(refusal("settings.invalid", { file: REPO_SETTINGS_FILE, problems: loaded.problems }), "settings");
    context.log.warn({ problems: loaded.problems.length }, "invalid .github/amistio.yml; nothing runs");
    return;
  }
  const settings: RepoSettings = loaded.settings;

  let command: ParsedCommand;
  let ignored: ParsedCommand[] = [];
  if (event.labelPlan) {
    const label = (context.payload as { label?: { name?: string } }).label?.name ?? "";
    if (label.toLowerCase() !== settings.commands.triggerLabel.toLowerCase()) return;
    command = { verb: "plan", word: "plan", args: "", raw: `label ${label}`, line: 0, acts: true };
  } else {
    const commands = parseCommands(event.text ?? "", { prefix: settings.commands.prefix });
    const acting = commands.find((candidate) => candidate.acts);
    if (!acting) return;
    command = acting;
    ignored = commands.filter((candidate) => !candidate.acts);
  }

  const actor = await ensureGithubUser(db, sender);
  const task = await ensureTask(db, source, null);
  const audit = (action: string, data: Record<string, unknown> = {}) =>
    appendAuditEvent(db, {
      workspaceId: task.workspaceId,
      actorPseudonym: actor.auditPseudonym,
      action,
      target: `task:${task.id}`,
      data: { verb: command.verb, ...data },
      deliveryId,
    }).then(() => undefined);

  if (sender.type === "Bot") {
    // No reply: answering bots invites loops. The decision is still recorded.
    await audit("command.denied", { reason: "bot" });
    context.log.info({ verb: command.verb }, "command from a bot ignored");
    return;
  }
  if (command.problem) {
    await audit("command.refused", { reason: "malformed" });
    await refuse(command.problem);
    return;
  }

  const permission = await services.repositoryPermission(octokit, {
    installationId: source.installation.id,
    owner,
    repo,
    username: sender.login,
  });
  const spec = COMMAND_RUNNERS[command.verb];
  const minimum = spec.minimum(settings);
  if (!atLeast(permission, minimum)) {
    await audit("command.denied", { reason: "permission", permission, minimum });
    await refuse(
      refusal("command.permission", {
        login: sender.login,
        command: `${settings.commands.prefix} ${command.verb}`,
        minimum,
        permission,
      }),
    );
    return;
  }

  if (event.commentId) {
    const reaction = { owner, repo, comment_id: event.commentId.id, content: "eyes" as const };
    if (event.commentId.kind === "review") await octokit.rest.reactions.createForPullRequestReviewComment(reaction);
    else await octokit.rest.reactions.createForIssueComment(reaction);
  }
  await audit("command.accepted", { permission });
  if (ignored.length > 0) {
    await refuse(refusal("command.ignored", { acting: command.raw, ignored: ignored.map((c) => c.raw) }), "ignored");
  }

  const commandContext: CommandContext = {
    ...services,
    octokit,
    log: context.log,
    settings,
    command,
    deliveryId,
    job,
    owner,
    repo,
    task,
    actor: { userId: actor.id, githubId: BigInt(sender.id), login: sender.login, type: sender.type, permission },
    reply,
    refuse,
    audit,
    refresh: (problem) =>
      updateTrackingComment({
        db,
        octokit,
        owner,
        repo,
        taskId: task.id,
        requiredApprovals: settings.approvals.required,
        problem: problem ?? null,
        delayedUntil: job.waits.lastUntil,
      }),
  };
  await spec.run(commandContext);
}

/** `.github/amistio.yml` through Probot, so an org's `.github` repository and `_extends` work. */
async function loadSettings(context: Context): Promise<ReturnType<typeof parseRepoSettings>> {
  try {
    return parseRepoSettings(await context.config("amistio.yml"));
  } catch (error) {
    // A GitHub API failure is retried by the queue; anything else is the file's YAML.
    if ((error as { status?: number }).status !== undefined) throw error;
    return {
      ok: false,
      problems: [{ path: "", message: `is not valid YAML: ${(error as Error).message.split("\n")[0]}` }],
    };
  }
}
