import type { Probot } from "probot";
import { appendAuditEvent } from "../audit/append-audit-event.ts";
import type { Db } from "../db/create-database.ts";
import { onEvent } from "../github/on-event.ts";
import { queueIndexing } from "../indexing/index-ahead.ts";
import { dropRepositoryIndexes } from "../indexing/repository-index.ts";
import type { JobQueue } from "../queue/job-queue.ts";
import { ensureGithubUser } from "./ensure-github-user.ts";

interface RepositoryRef {
  id: number;
  full_name: string;
  private: boolean;
}

export interface SyncInstallationOptions {
  db: Db;
  /** For building the indexes of added repositories ahead of their first plan. */
  queue?: JobQueue;
}

const STATUS_BY_ACTION: Record<string, string> = {
  created: "active",
  unsuspend: "active",
  new_permissions_accepted: "active",
  suspend: "suspended",
  deleted: "deleted",
};

/** Keeps workspaces (installations) and their repositories current, auditing every change. */
export function syncInstallation(app: Probot, { db, queue }: SyncInstallationOptions): void {
  onEvent(app, "installation", async (context) => {
    const { action, installation, sender } = context.payload;
    const status = STATUS_BY_ACTION[action];
    if (!status) return;
    const account = installation.account as { id: number; login?: string; slug?: string; type?: string } | null;
    const now = new Date();
    const fields = {
      accountLogin: account?.login ?? account?.slug ?? "unknown",
      accountType: account?.type ?? "Organization",
      accountId: BigInt(account?.id ?? 0),
      status,
      permissions: installation.permissions as object,
      events: installation.events,
      suspendedAt: status === "suspended" ? now : null,
      deletedAt: status === "deleted" ? now : null,
    };
    const workspace = await db.workspace.upsert({
      where: { installationId: BigInt(installation.id) },
      create: { installationId: BigInt(installation.id), ...fields },
      update: fields,
    });
    const repositories = "repositories" in context.payload ? (context.payload.repositories ?? []) : [];
    if (action === "created") {
      await addRepositories(db, workspace.id, repositories as RepositoryRef[]);
      if (queue)
        await queueIndexing(db, queue, {
          installationId: installation.id,
          githubIds: repositories.map((r) => r.id),
          reason: "installed",
        });
    }
    // Amistio no longer has the repositories: their indexed files go.
    if (action === "deleted") await dropRepositoryIndexes(db, { workspaceId: workspace.id });
    const actor = await ensureGithubUser(db, sender);
    await appendAuditEvent(db, {
      workspaceId: workspace.id,
      actorPseudonym: actor.auditPseudonym,
      action: `installation.${action}`,
      target: `installation:${installation.id}`,
      data: { status, repositories: repositories.length },
      deliveryId: context.id,
    });
    context.log.info({ workspaceId: workspace.id, status }, `installation ${action}`);
  });

  onEvent(app, "installation_repositories", async (context) => {
    const { action, installation, sender } = context.payload;
    const workspace = await db.workspace.findUnique({ where: { installationId: BigInt(installation.id) } });
    if (!workspace) {
      // An installation created before Amistio was running: it shows up again through its next
      // `installation` event or the first command in one of its repositories.
      context.log.warn("installation_repositories for an installation Amistio has never seen; nothing to update");
      return;
    }
    const added = (context.payload.repositories_added ?? []) as RepositoryRef[];
    const removed = (context.payload.repositories_removed ?? []) as { id: number }[];
    await addRepositories(db, workspace.id, added);
    if (queue)
      await queueIndexing(db, queue, {
        installationId: installation.id,
        githubIds: added.map((r) => r.id),
        reason: `added:${context.id}`,
      });
    if (removed.length > 0) {
      await db.repository.updateMany({
        where: { githubId: { in: removed.map((repository) => BigInt(repository.id)) } },
        data: { removedAt: new Date() },
      });
      const gone = await db.repository.findMany({
        where: { githubId: { in: removed.map((repository) => BigInt(repository.id)) } },
        select: { id: true },
      });
      await dropRepositoryIndexes(db, { repositoryIds: gone.map((repository) => repository.id) });
    }
    const actor = await ensureGithubUser(db, sender);
    await appendAuditEvent(db, {
      workspaceId: workspace.id,
      actorPseudonym: actor.auditPseudonym,
      action: `repositories.${action}`,
      target: `installation:${installation.id}`,
      data: { added: added.map((r) => r.id), removed: removed.map((r) => r.id) },
      deliveryId: context.id,
    });
    context.log.info(
      { workspaceId: workspace.id, added: added.length, removed: removed.length },
      `repositories ${action}`,
    );
  });
}

async function addRepositories(db: Db, workspaceId: string, repositories: RepositoryRef[]): Promise<void> {
  for (const repository of repositories) {
    const fields = { workspaceId, fullName: repository.full_name, private: repository.private, removedAt: null };
    await db.repository.upsert({
      where: { githubId: BigInt(repository.id) },
      create: { githubId: BigInt(repository.id), ...fields },
      update: fields,
    });
  }
}
