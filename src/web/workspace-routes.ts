import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { appendAuditEvent } from "../audit/append-audit-event.ts";
import { refreshMemberships } from "../auth/refresh-memberships.ts";
// Only for its SQL template tag, which both generated clients share.
import { Prisma } from "../db/generated/sqlite/client.ts";
import { monthStart, workspaceTokensThisMonth } from "../planning/token-budget.ts";
import { refusal } from "../refusals/refusals.ts";
import { html } from "./html.ts";
import { MEMBERSHIP_MAX_UNCONFIRMED_MS, MEMBERSHIP_RECHECK_MS } from "./membership-check.ts";
import { auditLogPage } from "./pages/audit-log-page.ts";
import { type TaskView, workspacePage } from "./pages/workspace-page.ts";
import { workspacesPage } from "./pages/workspaces-page.ts";
import { requireViewer } from "./require-viewer.ts";
import { field, type WebContext } from "./web-context.ts";

export interface WorkspaceRoutesOptions {
  ctx: WebContext;
}

const TASKS_PER_PAGE = 20;
const FAILED_DELIVERIES_SHOWN = 10;
const RUNS_PER_TASK = 5;
const EVENTS_PER_PAGE = 50;
const TASK_CURSOR = /^(\d{1,15})_([A-Za-z0-9_-]{1,64})$/;

/** A run as the workspace page shows it, with the task it belongs to. */
type RunRow = TaskView["runs"][number] & { taskId: string };

/** The workspaces a person can reach, each one's tasks → plans → approvals → runs, and its audit log. */
export async function workspaceRoutes(app: FastifyInstance, { ctx }: WorkspaceRoutesOptions): Promise<void> {
  const { db, now } = ctx;
  app.addHook("preHandler", requireViewer(ctx));
  const message = ctx.refusesIn("workspaces", () => html`<p><a href="/workspaces">Your workspaces</a></p>`);

  /**
   * The latest runs of each task, in one round trip. Each branch reads at most RUNS_PER_TASK index
   * entries; Prisma's nested `take` would load every run of the page's tasks and cut in memory,
   * so a task retried thousands of times would slow its page down.
   */
  async function latestRuns(taskIds: string[]): Promise<RunRow[]> {
    if (taskIds.length === 0) return [];
    const branches = taskIds.map(
      (
        taskId,
        index,
      ) => Prisma.sql`SELECT * FROM (SELECT "id", "taskId", "status", "conclusion", "planVersionId", "htmlUrl",
        "pullRequestUrl", "runnerName", "createdAt" FROM "Run" WHERE "taskId" = ${taskId}
        ORDER BY "createdAt" DESC LIMIT ${RUNS_PER_TASK}) AS ${Prisma.raw(`r${index}`)}`,
    );
    const rows = await db.$queryRaw<RunRow[]>`${Prisma.join(branches, " UNION ALL ")}`;
    // UNION ALL keeps no order of its own.
    return rows.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  }

  const notFound = (request: FastifyRequest, reply: FastifyReply, workspaceId: string, reason: string) =>
    message(request, reply, 404, refusal("web.workspace_not_found"), { reason, workspaceId });

  /**
   * The membership, or a 404 that does not tell whether the workspace exists. A membership GitHub
   * confirmed more than MEMBERSHIP_RECHECK_MS ago is confirmed again first: one GitHub no longer
   * lists is removed, and the page is a 404 like any other. When GitHub cannot be asked, the cached
   * answer stands for up to MEMBERSHIP_MAX_UNCONFIRMED_MS; past that the page stays closed.
   */
  async function membershipOf(request: FastifyRequest, reply: FastifyReply, workspaceId: string) {
    const viewer = request.viewer!;
    const find = () =>
      db.membership.findUnique({
        where: { userId_workspaceId: { userId: viewer.id, workspaceId } },
        select: {
          role: true,
          refreshedAt: true,
          workspace: { select: { id: true, accountLogin: true, status: true, installationId: true } },
        },
      });
    const membership = await find();
    if (!membership) {
      await notFound(request, reply, workspaceId, "not_a_member");
      return null;
    }
    const age = now().getTime() - membership.refreshedAt.getTime();
    if (age <= MEMBERSHIP_RECHECK_MS) return membership;

    const outcome = await ctx.memberships.recheck(viewer);
    if (outcome.ok) {
      const confirmed = await find();
      if (!confirmed) await notFound(request, reply, workspaceId, "no_longer_listed_by_github");
      return confirmed;
    }
    if (age <= MEMBERSHIP_MAX_UNCONFIRMED_MS) {
      request.log.info(
        { reason: outcome.reason, err: outcome.error, workspaceId, confirmedAgoMs: age },
        "membership not re-confirmed with GitHub; the recent answer stands",
      );
      return membership;
    }
    const noToken = outcome.reason === "no_github_token";
    const status = noToken ? 403 : 503;
    await message(request, reply, status, refusal("web.access_unconfirmed", { noToken }), {
      reason: outcome.reason,
      err: outcome.error,
      workspaceId,
      confirmedAgoMs: age,
    });
    return null;
  }

  app.get("/workspaces", async (request, reply) => {
    const viewer = request.viewer!;
    const list = () =>
      db.membership.findMany({
        where: { userId: viewer.id },
        orderBy: { workspace: { accountLogin: "asc" } },
        select: {
          role: true,
          refreshedAt: true,
          workspace: { select: { id: true, accountLogin: true, accountType: true, status: true } },
        },
      });
    let [memberships, github] = await Promise.all([
      list(),
      db.identity.findFirst({ where: { userId: viewer.id, provider: "github" }, select: { id: true } }),
    ]);
    // The list follows the same rule as the workspace pages: nothing listed that GitHub has not confirmed lately.
    const at = now().getTime();
    let notice: string | undefined;
    if (memberships.some((membership) => at - membership.refreshedAt.getTime() > MEMBERSHIP_RECHECK_MS)) {
      const outcome = await ctx.memberships.recheck(viewer);
      if (outcome.ok) {
        memberships = await list();
      } else {
        const shown = memberships.filter(
          (membership) => at - membership.refreshedAt.getTime() <= MEMBERSHIP_MAX_UNCONFIRMED_MS,
        );
        if (shown.length < memberships.length) {
          request.log.info(
            { reason: outcome.reason, err: outcome.error, hidden: memberships.length - shown.length },
            "workspaces not re-confirmed with GitHub for over an hour are hidden",
          );
          notice =
            outcome.reason === "no_github_token"
              ? "Some workspaces are hidden: GitHub last confirmed them over an hour ago, and Amistio holds no valid GitHub token to ask again. Sign out and sign in with GitHub."
              : "Some workspaces are hidden: GitHub last confirmed them over an hour ago and cannot be asked right now. Try again in a few minutes.";
        }
        memberships = shown;
      }
    }
    return ctx.page(request, reply, {
      ...(notice ? { notice } : {}),
      title: "Your workspaces",
      body: workspacesPage({
        workspaces: memberships.map((membership) => ({
          ...membership.workspace,
          role: membership.role,
          refreshedAt: membership.refreshedAt,
        })),
        hasGithub: github !== null,
        githubConfigured: Boolean(ctx.github),
        csrfToken: reply.generateCsrf(),
      }),
    });
  });

  app.post("/workspaces/refresh", { preHandler: app.csrfProtection }, async (request, reply) => {
    const viewer = request.viewer!;
    const identity = await db.identity.findFirst({
      where: { userId: viewer.id, provider: "github" },
      select: { id: true, provider: true, accessToken: true, refreshToken: true, expiresAt: true },
    });
    const token = identity && viewer.githubId !== null ? await ctx.tokens.githubAccessToken(identity) : undefined;
    if (!ctx.github || !token) {
      return message(request, reply, 409, refusal("web.github_token_missing"));
    }
    let count: number;
    try {
      count = await refreshMemberships({
        db,
        github: ctx.github,
        accessToken: token,
        userId: viewer.id,
        githubUserId: viewer.githubId!,
        now: now(),
      });
    } catch (error) {
      return message(request, reply, 502, refusal("web.github_unreachable"), { err: error });
    }
    await appendAuditEvent(
      db,
      { actorPseudonym: viewer.auditPseudonym, action: "memberships.refreshed", data: { workspaces: count } },
      { now },
    );
    return reply.redirect("/workspaces", 303);
  });

  app.get<{ Params: { id: string } }>("/workspaces/:id", async (request, reply) => {
    const membership = await membershipOf(request, reply, request.params.id);
    if (!membership) return reply;
    const after = field(request.query, "after");
    const cursor = after === undefined ? undefined : TASK_CURSOR.exec(after);
    if (after !== undefined && !cursor)
      return message(request, reply, 400, refusal("web.bad_page_link", { newest: "tasks" }));
    const at = cursor ? new Date(Number(cursor[1])) : undefined;
    const person = { select: { login: true, name: true } };
    const rows = await db.task.findMany({
      where: {
        workspaceId: membership.workspace.id,
        ...(cursor ? { OR: [{ createdAt: { lt: at } }, { createdAt: at, id: { lt: cursor[2] } }] } : {}),
      },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: TASKS_PER_PAGE + 1,
      select: {
        id: true,
        number: true,
        title: true,
        state: true,
        isPullRequest: true,
        createdAt: true,
        repository: { select: { fullName: true } },
        requester: person,
        planVersions: {
          orderBy: { version: "desc" },
          select: {
            id: true,
            version: true,
            status: true,
            contentHash: true,
            source: true,
            createdAt: true,
            approvals: {
              orderBy: { createdAt: "asc" },
              select: { id: true, permission: true, createdAt: true, approver: person },
            },
          },
        },
      },
    });
    const page = rows.slice(0, TASKS_PER_PAGE);
    const runs = await latestRuns(page.map((task) => task.id));
    // Deliveries Amistio gave up on: shown with the newest tasks, so nothing fails out of sight.
    const failedDeliveries = cursor
      ? []
      : await db.webhookDelivery.findMany({
          where: { installationId: membership.workspace.installationId, status: "failed" },
          orderBy: { receivedAt: "desc" },
          take: FAILED_DELIVERIES_SHOWN,
          select: { id: true, event: true, action: true, receivedAt: true, error: true },
        });
    const tasks = page.map((task) => ({ ...task, runs: runs.filter((run) => run.taskId === task.id) }));
    const last = tasks.at(-1);
    return ctx.page(request, reply, {
      title: membership.workspace.accountLogin,
      body: workspacePage({
        workspace: membership.workspace,
        role: membership.role,
        tasks,
        next: rows.length > TASKS_PER_PAGE && last ? `${last.createdAt.getTime()}_${last.id}` : undefined,
        paged: cursor !== undefined,
        runsShown: RUNS_PER_TASK,
        failedDeliveries,
        tokens: {
          since: monthStart(now()),
          repositories: await workspaceTokensThisMonth(db, membership.workspace.id, now()),
        },
      }),
    });
  });

  app.get<{ Params: { id: string } }>("/workspaces/:id/audit", async (request, reply) => {
    const membership = await membershipOf(request, reply, request.params.id);
    if (!membership) return reply;
    const beforeText = field(request.query, "before");
    const before = beforeText === undefined ? undefined : Number(beforeText);
    if (before !== undefined && (!/^\d{1,12}$/.test(beforeText!) || !Number.isSafeInteger(before))) {
      return message(request, reply, 400, refusal("web.bad_page_link", { newest: "events" }));
    }
    const [rows, chain] = await Promise.all([
      db.auditEvent.findMany({
        where: { workspaceId: membership.workspace.id, ...(before !== undefined ? { seq: { lt: before } } : {}) },
        orderBy: { seq: "desc" },
        take: EVENTS_PER_PAGE + 1,
        select: { seq: true, createdAt: true, actorId: true, action: true, target: true, data: true, hash: true },
      }),
      ctx.chain.status(),
    ]);
    const events = rows.slice(0, EVENTS_PER_PAGE);
    // Events name people by pseudonym; a pseudonym no User row holds is a deleted person.
    const pseudonyms = [...new Set(events.map((event) => event.actorId).filter((id): id is string => id !== null))];
    const actors = await db.user.findMany({
      where: { auditPseudonym: { in: pseudonyms } },
      select: { auditPseudonym: true, login: true, name: true },
    });
    return ctx.page(request, reply, {
      title: `Audit log of ${membership.workspace.accountLogin}`,
      body: auditLogPage({
        workspace: membership.workspace,
        events,
        actors: new Map(actors.map((actor) => [actor.auditPseudonym, actor])),
        chain,
        next: rows.length > EVENTS_PER_PAGE ? events.at(-1)!.seq : undefined,
        paged: before !== undefined,
      }),
    });
  });
}
