import type { Db } from "../db/create-database.ts";
import { PRIVACY_REQUEST_FIELDS } from "./privacy-requests.ts";

/**
 * Everything Amistio holds about one person, as one JSON-ready object: profile, sign-in identities
 * (never their tokens), workspaces, the tasks they requested, the approvals they gave, the audit
 * events they are the actor of, their privacy requests and their sign-in sessions (times only). Undefined when the account is gone.
 */
export async function exportAccount(db: Db, userId: string, now: Date): Promise<Record<string, unknown> | undefined> {
  const user = await db.user.findUnique({
    where: { id: userId },
    select: {
      id: true,
      auditPseudonym: true,
      githubId: true,
      login: true,
      name: true,
      email: true,
      avatarUrl: true,
      createdAt: true,
      updatedAt: true,
      // Listed field by field so a token column can never slip into the file.
      identities: {
        orderBy: { createdAt: "asc" },
        select: { provider: true, subject: true, email: true, createdAt: true },
      },
      memberships: {
        orderBy: { refreshedAt: "asc" },
        select: {
          role: true,
          refreshedAt: true,
          workspace: { select: { id: true, accountLogin: true, accountType: true, status: true } },
        },
      },
      requestedTasks: {
        orderBy: { createdAt: "asc" },
        select: {
          id: true,
          workspaceId: true,
          repository: { select: { fullName: true } },
          number: true,
          isPullRequest: true,
          title: true,
          state: true,
          createdAt: true,
        },
      },
      approvals: {
        orderBy: { createdAt: "asc" },
        select: {
          id: true,
          contentHash: true,
          permission: true,
          createdAt: true,
          planVersion: { select: { id: true, version: true, taskId: true } },
        },
      },
      privacyRequests: { orderBy: { createdAt: "asc" }, select: PRIVACY_REQUEST_FIELDS },
      // Times only: the session id is a bearer secret and stays out of the file.
      webSessions: { orderBy: { createdAt: "asc" }, select: { createdAt: true, expiresAt: true, lastSeenAt: true } },
    },
  });
  if (!user) return undefined;
  const auditEvents = await db.auditEvent.findMany({
    where: { actorId: user.auditPseudonym },
    orderBy: { seq: "asc" },
    select: { seq: true, createdAt: true, workspaceId: true, action: true, target: true, data: true },
  });
  return {
    format: "amistio-account-export/1",
    exportedAt: now.toISOString(),
    profile: {
      id: user.id,
      githubId: user.githubId?.toString() ?? null,
      login: user.login,
      name: user.name,
      email: user.email,
      avatarUrl: user.avatarUrl,
      createdAt: user.createdAt.toISOString(),
      updatedAt: user.updatedAt.toISOString(),
    },
    identities: user.identities.map((identity) => ({ ...identity, createdAt: identity.createdAt.toISOString() })),
    workspaces: user.memberships.map((membership) => ({
      id: membership.workspace.id,
      account: membership.workspace.accountLogin,
      accountType: membership.workspace.accountType,
      status: membership.workspace.status,
      role: membership.role,
      refreshedAt: membership.refreshedAt.toISOString(),
    })),
    tasksRequested: user.requestedTasks.map((task) => ({
      id: task.id,
      workspaceId: task.workspaceId,
      repository: task.repository.fullName,
      number: task.number,
      isPullRequest: task.isPullRequest,
      title: task.title,
      state: task.state,
      createdAt: task.createdAt.toISOString(),
    })),
    approvalsGiven: user.approvals.map((approval) => ({
      id: approval.id,
      taskId: approval.planVersion.taskId,
      planVersionId: approval.planVersion.id,
      version: approval.planVersion.version,
      contentHash: approval.contentHash,
      permission: approval.permission,
      createdAt: approval.createdAt.toISOString(),
    })),
    auditEvents: auditEvents.map((event) => ({
      seq: event.seq,
      createdAt: event.createdAt.toISOString(),
      workspaceId: event.workspaceId,
      action: event.action,
      target: event.target,
      data: JSON.parse(event.data) as unknown,
    })),
    privacyRequests: user.privacyRequests.map((request) => ({
      ...request,
      createdAt: request.createdAt.toISOString(),
      resolvedAt: request.resolvedAt?.toISOString() ?? null,
    })),
    sessions: user.webSessions.map((session) => ({
      createdAt: session.createdAt.toISOString(),
      expiresAt: session.expiresAt.toISOString(),
      lastSeenAt: session.lastSeenAt.toISOString(),
    })),
  };
}
