import type { Db } from "../db/create-database.ts";

export interface GithubAccount {
  id: number;
  login: string;
  type?: string;
}

/** The internal user for a GitHub account, and the pseudonym audit events name them by. */
export interface GithubUser {
  id: string;
  auditPseudonym: string;
}

/**
 * The internal user for a GitHub account, created on first sight. Rules about people (who asked,
 * who approved) are decided on the GitHub account id; audit events name the person by pseudonym.
 */
export async function ensureGithubUser(db: Db, account: GithubAccount): Promise<GithubUser> {
  const githubId = BigInt(account.id);
  const isBot = account.type === "Bot";
  return db.user.upsert({
    where: { githubId },
    create: { githubId, login: account.login, isBot },
    update: { login: account.login, isBot },
    select: { id: true, auditPseudonym: true },
  });
}
