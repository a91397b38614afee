import type { Context } from "probot";

export const PERMISSION_LEVELS = ["none", "read", "triage", "write", "maintain", "admin"] as const;
export type PermissionLevel = (typeof PERMISSION_LEVELS)[number];

export function permissionRank(level: PermissionLevel): number {
  return PERMISSION_LEVELS.indexOf(level);
}

export function atLeast(level: PermissionLevel, minimum: PermissionLevel): boolean {
  return permissionRank(level) >= permissionRank(minimum);
}

type Octokit = Context["octokit"];

export interface RepositoryPermissionOptions {
  ttlMs?: number;
  now?: () => number;
  maxEntries?: number;
}

/** Whose permission on which repository, as seen through which installation. */
export interface PermissionQuery {
  /** The installation whose token asks: another installation's answer for the same names never counts. */
  installationId: number | bigint;
  owner: string;
  repo: string;
  username: string;
}

/**
 * A person's real permission on a repository, from the collaborator-permission endpoint.
 * `author_association` is not used: private org members show up there as CONTRIBUTOR.
 * Answers are cached briefly, so a burst of commands costs one request, while a revoked
 * permission stops counting within the TTL. The cache is keyed by installation as well as by
 * names: what one installation's token was told must not answer for another's.
 */
export function createRepositoryPermission(options: RepositoryPermissionOptions = {}) {
  const ttlMs = options.ttlMs ?? 60_000;
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 5_000;
  const cache = new Map<string, { level: PermissionLevel; expires: number }>();

  return async function repositoryPermission(octokit: Octokit, query: PermissionQuery): Promise<PermissionLevel> {
    const { owner, repo, username } = query;
    const key = `${query.installationId}:${owner}/${repo}#${username}`.toLowerCase();
    const cached = cache.get(key);
    if (cached && cached.expires > now()) return cached.level;
    let level: PermissionLevel;
    try {
      const { data } = await octokit.request("GET /repos/{owner}/{repo}/collaborators/{username}/permission", {
        owner,
        repo,
        username,
      });
      level = toLevel(data.role_name, data.permission);
    } catch (error) {
      // 404: not a collaborator (or an unknown user) — no permission at all.
      if ((error as { status?: number }).status !== 404) throw error;
      level = "none";
    }
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
    cache.set(key, { level, expires: now() + ttlMs });
    return level;
  };
}

export type RepositoryPermission = ReturnType<typeof createRepositoryPermission>;

/** role_name carries maintain and triage, which `permission` folds into write and read. */
function toLevel(roleName: string | undefined, permission: string): PermissionLevel {
  const role = (roleName ?? "").toLowerCase();
  if ((PERMISSION_LEVELS as readonly string[]).includes(role)) return role as PermissionLevel;
  const base = permission.toLowerCase();
  return (PERMISSION_LEVELS as readonly string[]).includes(base) ? (base as PermissionLevel) : "none";
}
