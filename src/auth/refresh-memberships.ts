import type { Db } from "../db/create-database.ts";
import type { GithubSignIn } from "./github-sign-in.ts";

export interface RefreshMembershipsOptions {
  db: Db;
  github: GithubSignIn;
  accessToken: string;
  userId: string;
  githubUserId: bigint;
  now: Date;
}

/**
 * Replaces a person's memberships with what `GET /user/installations` says today: which workspaces
 * they may see, and whether they administer them (their own account, or an organisation they are an
 * admin of). An installation Amistio has not heard of through webhooks yet becomes a workspace.
 */
export async function refreshMemberships(options: RefreshMembershipsOptions): Promise<number> {
  const { db, github, accessToken, now } = options;
  const installations = await github.installations(accessToken);
  const roles = await Promise.all(
    installations.map(async (installation) => {
      if (installation.account.type === "User") {
        return BigInt(installation.account.id) === options.githubUserId ? "admin" : "member";
      }
      // Without the App's Members permission GitHub refuses; the person is then shown as a member.
      const admin = await github.isOrgAdmin(accessToken, installation.account.login).catch(() => false);
      return admin ? "admin" : "member";
    }),
  );
  await db.$transaction(async (tx) => {
    const workspaceIds: string[] = [];
    for (const [index, installation] of installations.entries()) {
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
      const role = roles[index]!;
      await tx.membership.upsert({
        where: { userId_workspaceId: { userId: options.userId, workspaceId: workspace.id } },
        update: { role, refreshedAt: now },
        create: { userId: options.userId, workspaceId: workspace.id, role, refreshedAt: now },
      });
    }
    await tx.membership.deleteMany({ where: { userId: options.userId, workspaceId: { notIn: workspaceIds } } });
  });
  return installations.length;
}
