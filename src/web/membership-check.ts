import { appendAuditEvent } from "../audit/append-audit-event.ts";
import type { GithubSignIn } from "../auth/github-sign-in.ts";
import type { IdentityTokens } from "../auth/identity-tokens.ts";
import { readMemberships, storeMemberships } from "../auth/refresh-memberships.ts";
import type { Db } from "../db/create-database.ts";
import type { Viewer } from "./viewer.ts";

/** A membership GitHub confirmed longer ago than this is confirmed again before a workspace page opens. */
export const MEMBERSHIP_RECHECK_MS = 5 * 60 * 1000;
/**
 * When GitHub cannot be asked, a membership confirmed within this long still opens the workspace;
 * an older one does not (fail closed) until GitHub answers again.
 */
export const MEMBERSHIP_MAX_UNCONFIRMED_MS = 60 * 60 * 1000;
/** How long a page waits for GitHub's answer before it counts as "GitHub cannot be asked". */
export const MEMBERSHIP_CHECK_TIMEOUT_MS = 5_000;

export type RecheckOutcome =
  | { ok: true; removed: number }
  | { ok: false; reason: "no_github_token" | "github_unreachable"; error?: unknown };

export interface MembershipCheck {
  /**
   * Asks GitHub (`GET /user/installations` with the person's stored, refreshed if need be, token)
   * which workspaces the person can reach now, and stores the answer: memberships GitHub no longer
   * lists are removed. Concurrent calls for one person share one request to GitHub.
   */
  recheck(viewer: Viewer): Promise<RecheckOutcome>;
}

export interface MembershipCheckOptions {
  db: Db;
  github: GithubSignIn | undefined;
  tokens: IdentityTokens;
  now: () => Date;
  timeoutMs?: number;
}

class TimedOut extends Error {
  override name = "TimedOut";
}

export function createMembershipCheck(options: MembershipCheckOptions): MembershipCheck {
  const { db, github, tokens, now } = options;
  const timeoutMs = options.timeoutMs ?? MEMBERSHIP_CHECK_TIMEOUT_MS;
  const inFlight = new Map<string, Promise<RecheckOutcome>>();

  async function ask(viewer: Viewer): Promise<RecheckOutcome> {
    if (!github || viewer.githubId === null) return { ok: false, reason: "no_github_token" };
    const githubId = viewer.githubId;
    const identity = await db.identity.findFirst({
      where: { userId: viewer.id, provider: "github" },
      select: { id: true, provider: true, accessToken: true, refreshToken: true, expiresAt: true },
    });
    if (!identity) return { ok: false, reason: "no_github_token" };
    let timer: NodeJS.Timeout | undefined;
    let answer: Awaited<ReturnType<typeof readMemberships>> | undefined;
    try {
      answer = await Promise.race([
        (async () => {
          const token = await tokens.githubAccessToken(identity);
          return token === undefined ? undefined : readMemberships(github, token, githubId);
        })(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new TimedOut(`GitHub did not answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (error) {
      // The page that asked logs it, once, with what it decided.
      return { ok: false, reason: "github_unreachable", error };
    } finally {
      clearTimeout(timer);
    }
    if (answer === undefined) return { ok: false, reason: "no_github_token" };
    // Written only once GitHub's whole answer is in: one transaction, nothing half-done.
    const { removed } = await storeMemberships(db, viewer.id, answer, now());
    if (removed > 0) {
      await appendAuditEvent(
        db,
        {
          actorPseudonym: viewer.auditPseudonym,
          action: "memberships.rechecked",
          data: { workspaces: answer.length, removed },
        },
        { now },
      );
    }
    return { ok: true, removed };
  }

  return {
    recheck(viewer) {
      const running = inFlight.get(viewer.id);
      if (running) return running;
      const asking = ask(viewer).finally(() => inFlight.delete(viewer.id));
      inFlight.set(viewer.id, asking);
      return asking;
    },
  };
}
