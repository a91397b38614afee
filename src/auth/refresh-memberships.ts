import type { Db } from "../db/create-database.ts";
import type { GithubInstallation, GithubSignIn } from "./github-sign-in.ts";

export interface RefreshMembershipsOptions {
  db: Db;
  github: GithubSignIn;
  accessToken: string;
  userId: string;
  githubUserId: bigint;
  now: Date;
}

/** An installation GitHub says the person can reach, and their role there. */
export interface GithubMembership {
  installation: GithubInstallation;
  role: "admin" | "member";
}

/**
 * Replaces a person's memberships with what `GET /user/installations` says today: which workspaces
 * they may see, and whether they administer them (their own account, or an organisation they are an
 * admin of). An installation Amistio has not heard of through webhooks yet becomes a workspace.
 */
export async function refreshMemberships(options: RefreshMembershipsOptions): Promise<number> {
  const memberships = await readMemberships(options.github, options.accessToken, options.githubUserId);
  await storeMemberships(options.db, options.userId, memberships, options.now);
  return memberships.length;
}

/** Asks GitHub only; writes nothing, so a caller that gives up waiting leaves nothing half-done. */
export async function readMemberships(
  github: GithubSignIn,
  accessToken: string,
  githubUserId: bigint,
): Promise<GithubMembership[]> {
  const installations = await github.installations(accessToken);
  return Promise.all(
    installations.map(async (installation): Promise<GithubMembership> => {
      if (installation.account.type === "User") {
        return { installation, role: BigInt(installation.account.id) === githubUserId ? "admin" : "member" };
      }
      // Without the App's Members permission GitHub refuses; the person is then shown as a member.
      const admin = await github.isOrgAdmin(accessToken, installation.account.login).catch(() => false);
      return { installation, role: admin ? "admin" : "member" };
    }),
  );
}

/**
 * Stores GitHub's answer in one transaction: each listed installation's membership is confirmed
 * (refreshedAt = now), every other membership of the person is removed. Returns how many were removed.
 */
export async function storeMemberships(
  db: Db,
  userId: string,
  memberships: GithubMembership[],
  now: Date,
): Promise<{ removed: number }> {
  return db.$transaction(async (tx) => {
    const workspaceIds: string[] = [];
    for (const { installation, role } of memberships) {
      const workspace = await tx.workspace.upsert({
        where: { installationId: BigInt(installation.id) },
        // Webhooks keep existing workspaces current; this only fills in one they have not delivered yet.
        update: {},
        create: {
          installationId: BigInt(installation.id),
          accountLogin: installation.account.login,
          accountType: installation.account.type,
          accountId: BigInt(installation.account.id),
          status: installation.suspended ? "suspended" : "active",
        },
        select: { id: true },
      });
      workspaceIds.push(workspace.id);
      await tx.membership.upsert({
        where: { userId_workspaceId: { userId, workspaceId: workspace.id } },
        update: { role, refreshedAt: now },
        create: { userId, workspaceId: workspace.id, role, refreshedAt: now },
      });
    }
    const { count } = await tx.membership.deleteMany({ where: { userId, workspaceId: { notIn: workspaceIds } } });
    return { removed: count };
  });
}
