import type { Db } from "../db/create-database.ts";

export interface GithubAccount {
  id: number;
  login: string;
  type?: string;
}

/**
 * The internal user for a GitHub account, created on first sight. Audit events and approvals refer
 * to this id, never to the login, so erasing the person later leaves the audit chain intact.
 */
export async function ensureGithubUser(db: Db, account: GithubAccount): Promise<string> {
  const githubId = BigInt(account.id);
  const isBot = account.type === "Bot";
  const user = await db.user.upsert({
    where: { githubId },
    create: { githubId, login: account.login, isBot },
    update: { login: account.login, isBot },
    select: { id: true },
  });
  return user.id;
}
