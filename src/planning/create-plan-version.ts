import { planContentHash } from "@amistio/contract/plan-hash";
import { type Plan, planSchema } from "@amistio/contract/plan-schema";
import { choosePlannerProvider } from "../config/repo-settings.ts";
import { postComment } from "../github/post-comment.ts";
import { repositorySnapshot } from "../indexing/repository-index.ts";
import { refusal } from "../refusals/refusals.ts";
import type { ContextComment } from "./gather-context.ts";
import type { PlanRequest } from "./plan-request.ts";
import { PlanningError } from "./planner.ts";
import { renderPlanComment } from "./render-plan-comment.ts";
import { hashShownPlan } from "./shown-plan.ts";
import { checkTokenBudget } from "./token-budget.ts";

// Amistio's own comments (plans, tracking, replies) carry this marker and are never fed back as input.
const OWN_COMMENT = "<!-- amistio:";
const MAX_COMMENTS = 300;
// Even a large previous plan leaves the issue itself some room.
const MIN_CONTEXT_TOKENS = 1_000;

/**
 * Writes a new plan version for the task — from the issue for `plan`, from the previous version and
 * the feedback for `revise` — and posts it. A retried job finds the version its delivery already
 * made (by `requestKey`) and only finishes what is missing, so nothing is planned or posted twice.
 */
export async function createPlanVersion(context: PlanRequest, options: { feedback?: string } = {}): Promise<void> {
  const { db, task, octokit, owner, repo, settings, log } = context;
  let version = await db.planVersion.findUnique({ where: { requestKey: context.deliveryId } });
  if (!version) {
    const previous = await db.planVersion.findFirst({ where: { taskId: task.id }, orderBy: { version: "desc" } });
    if (options.feedback !== undefined && !previous) {
      await context.refuse(refusal("plan.no_plan_to_revise", { prefix: settings.commands.prefix }));
      return;
    }
    // Over the month's token budget, the model is not called (the offline planner costs nothing).
    if (
      choosePlannerProvider(settings.planner, { openAiConfigured: context.env.OPENAI_API_KEY !== undefined }) !==
      "offline"
    ) {
      const budget = await checkTokenBudget(db, {
        repositoryId: task.repositoryId,
        limit: settings.planner.monthlyTokens ?? context.env.AMISTIO_MONTHLY_TOKENS,
        now: new Date(),
      });
      if (budget.over) {
        context.metrics?.countPlan("over_budget");
        await context.audit("plan.over_budget", { used: budget.used, limit: budget.limit });
        const over = refusal("plan.over_budget", {
          used: budget.used,
          limit: budget.limit,
          resetsAt: budget.resetsAt,
          prefix: settings.commands.prefix,
        });
        await context.refuse(over, "budget");
        await context.refresh(over);
        return;
      }
    }
    const stateBefore = (await db.task.findUniqueOrThrow({ where: { id: task.id }, select: { state: true } })).state;
    await db.task.update({
      where: { id: task.id },
      // The first to ask is the requester for good: decided on the GitHub account, which stays when
      // their web account is deleted (requesterId is then null, requesterGithubId is not).
      data: {
        state: "planning",
        ...(task.requesterGithubId !== null
          ? {}
          : { requesterId: context.actor.userId, requesterGithubId: context.actor.githubId }),
      },
    });
    await context.refresh();

    const { data: issue } = await octokit.rest.issues.get({ owner, repo, issue_number: task.number });
    const comments: ContextComment[] = [];
    for await (const page of octokit.paginate.iterator(octokit.rest.issues.listComments, {
      owner,
      repo,
      issue_number: task.number,
      per_page: 100,
    })) {
      for (const comment of page.data) {
        if (comment.body && !comment.body.includes(OWN_COMMENT)) {
          comments.push({ id: comment.id, author: comment.user?.login ?? "ghost", body: comment.body });
        }
      }
      if (comments.length >= MAX_COMMENTS) break;
    }
    const planner = await context.plannerFor(settings);
    const previousPlan = previous ? planSchema.safeParse(previous.content) : undefined;
    const revising =
      options.feedback !== undefined && previous && previousPlan?.success
        ? { plan: previousPlan.data, version: previous.version, feedback: options.feedback }
        : undefined;
    // The whole request fits the budget: what the planner adds is taken off the context's share.
    const overhead = await planner.overheadTokens(revising);
    // The files ranked by content come from the repository index, built or brought up to date
    // here when it must be (at most one archive download); without it, files are chosen by path.
    const indexed = await repositorySnapshot({ db, octokit, log, owner, repo, repositoryId: task.repositoryId });
    // The tokenizer's tables are large: loaded on the first plan, not at start.
    const { gatherContext } = await import("./gather-context.ts");
    const planningContext = await gatherContext({
      octokit,
      logger: log,
      owner,
      repo,
      issue: {
        number: issue.number,
        title: issue.title,
        body: issue.body ?? null,
        labels: issue.labels.map((label) => (typeof label === "string" ? label : (label.name ?? ""))).filter(Boolean),
        author: issue.user?.login ?? "ghost",
      },
      comments: comments.slice(-MAX_COMMENTS),
      budgetTokens: Math.max(MIN_CONTEXT_TOKENS, settings.planner.contextTokens - overhead),
      instructions: settings.planner.instructions,
      ...(indexed.snapshot ? { snapshot: indexed.snapshot } : {}),
    });
    if (indexed.note) planningContext.report.omitted.unshift(indexed.note);

    let result: Awaited<ReturnType<typeof planner.plan>>;
    try {
      result = await planner.plan({ context: planningContext, ...(revising ? { previous: revising } : {}) });
    } catch (error) {
      if (!(error instanceof PlanningError)) throw error;
      log.warn({ err: error, code: error.code }, "planning failed");
      context.metrics?.countPlan(error.code);
      await db.task.update({
        where: { id: task.id },
        data: { state: stateBefore === "planning" ? "requested" : stateBefore },
      });
      await context.audit("plan.failed", { code: error.code });
      const failed = refusal(`plan.${error.code}`, {
        detail: error.message,
        revising: options.feedback !== undefined,
        prefix: settings.commands.prefix,
      });
      await context.refuse(failed);
      await context.refresh(failed);
      return;
    }

    const contentHash = planContentHash(result.plan);
    version = await db.$transaction(async (tx) => {
      const latest = await tx.planVersion.findFirst({ where: { taskId: task.id }, orderBy: { version: "desc" } });
      await tx.planVersion.updateMany({
        where: { taskId: task.id, status: { in: ["awaiting_approval", "approved"] } },
        data: { status: "superseded" },
      });
      const created = await tx.planVersion.create({
        data: {
          taskId: task.id,
          version: (latest?.version ?? 0) + 1,
          contentHash,
          content: result.plan,
          source: result.source,
          model: result.model,
          inputTokens: result.usage?.input ?? null,
          outputTokens: result.usage?.output ?? null,
          contextReport: { ...planningContext.report, tokenCount: planningContext.tokenCount } as object,
          createdById: context.actor.userId,
          createdByGithubId: context.actor.githubId,
          requestKey: context.deliveryId,
        },
      });
      await tx.task.update({ where: { id: task.id }, data: { state: "awaiting_approval" } });
      return created;
    });
    context.metrics?.countPlan("created");
    await context.audit("plan.created", {
      version: version.version,
      contentHash,
      source: result.source,
      model: result.model,
      tokensIn: result.usage?.input ?? null,
      tokensOut: result.usage?.output ?? null,
      redactions: planningContext.report.redactions.reduce((sum, finding) => sum + finding.count, 0),
    });
  }

  if (version.commentId === null) {
    const report = version.contextReport as unknown as Parameters<typeof renderPlanComment>[0]["report"];
    const body = renderPlanComment({
      taskId: task.id,
      version: version.version,
      contentHash: version.contentHash,
      plan: version.content as unknown as Plan,
      source: version.source as "openai" | "offline",
      model: version.model,
      report,
      prefix: settings.commands.prefix,
      ...(version.version > 1 && options.feedback !== undefined ? { replaces: version.version - 1 } : {}),
    });
    let posted: Awaited<ReturnType<typeof postComment>>;
    try {
      posted = await postComment(octokit, {
        owner,
        repo,
        issueNumber: task.number,
        body,
        key: `plan:${version.id}`,
        job: context.job,
      });
    } catch (error) {
      // The tracking comment must not read as if the plan were there to approve. Best effort: the
      // same failure may refuse this edit too, and the job's retry is what matters.
      await context.refresh().catch((refreshError: unknown) => {
        log.warn({ err: refreshError }, "could not show that the plan is not posted yet");
      });
      throw error;
    }
    // Only now can the version be approved: it is shown, and approval checks it still says this.
    await db.planVersion.update({
      where: { id: version.id },
      data: { commentId: BigInt(posted.id), postedBodyHash: hashShownPlan(posted.body) },
    });
  }
  await context.refresh();
}
