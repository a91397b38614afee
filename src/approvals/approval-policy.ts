import { type CodeOwnersEntry, matchFile, parse } from "codeowners-utils";
import type { Context } from "probot";
import type { RepoSettings } from "../config/repo-settings.ts";
import { type Refusal, refusal } from "../refusals/refusals.ts";
import { atLeast, type PermissionLevel } from "./repository-permission.ts";

type Octokit = Context["octokit"];

export interface Approver {
  login: string;
  /** GitHub's account type: "User", "Bot", "Organization". */
  type: string;
  /** The GitHub account id: rules about people are decided on it, never on a deletable row. */
  githubId: bigint;
  permission: PermissionLevel;
}

export type PolicyDecision = { allowed: true } | { allowed: false; refusal: Refusal };

export interface ApprovalPolicyInput {
  octokit: Octokit;
  owner: string;
  repo: string;
  settings: RepoSettings["approvals"];
  /** Who asked for this plan, by GitHub account: the task's requester and the version's author. */
  requesterGithubIds: (bigint | null)[];
  /** The files the plan's steps touch, for the CODEOWNERS rule. */
  files: string[];
}

/**
 * Decides whether one person's approval may count, and whether the approvals in hand meet the
 * policy. Refusals are coded sentences for the person who asked; GitHub failures throw.
 */
export function createApprovalPolicy(input: ApprovalPolicyInput) {
  const { octokit, owner, repo, settings } = input;
  const teamMembership = new Map<string, Promise<boolean>>();
  let ownership: Promise<Map<string, string[]>> | undefined;

  async function inTeam(login: string, team: string): Promise<boolean> {
    const key = `${team}#${login}`.toLowerCase();
    let answer = teamMembership.get(key);
    if (!answer) {
      const [org, slug] = team.replace(/^@/, "").split("/") as [string, string];
      answer = octokit
        .request("GET /orgs/{org}/teams/{team_slug}/memberships/{username}", { org, team_slug: slug, username: login })
        .then(({ data }) => data.state === "active")
        .catch((error: { status?: number }) => {
          if (error.status === 404) return false;
          throw error;
        });
      teamMembership.set(key, answer);
    }
    return answer;
  }

  /** Owners of each touched file that CODEOWNERS assigns to someone. */
  function ownersOfTouchedFiles(): Promise<Map<string, string[]>> {
    ownership ??= loadCodeowners(octokit, owner, repo).then((entries) => {
      const owned = new Map<string, string[]>();
      for (const file of input.files) {
        const entry = matchFile(file, entries);
        if (entry && entry.owners.length > 0) owned.set(file, entry.owners);
      }
      return owned;
    });
    return ownership;
  }

  async function owns(login: string, owners: string[]): Promise<boolean> {
    for (const owner of owners) {
      if (!owner.startsWith("@")) continue; // e-mail owners cannot be matched to a GitHub login
      const name = owner.slice(1);
      if (name.includes("/")) {
        if (await inTeam(login, name)) return true;
      } else if (name.toLowerCase() === login.toLowerCase()) {
        return true;
      }
    }
    return false;
  }

  return {
    /** May this person's approval count at all? */
    async mayApprove(approver: Approver): Promise<PolicyDecision> {
      if (approver.type === "Bot") return { allowed: false, refusal: refusal("approval.bot") };
      if (!atLeast(approver.permission, settings.minPermission)) {
        return {
          allowed: false,
          refusal: refusal("approval.permission", {
            minimum: settings.minPermission,
            permission: approver.permission,
          }),
        };
      }
      if (!settings.allowSelfApproval && input.requesterGithubIds.includes(approver.githubId)) {
        return { allowed: false, refusal: refusal("approval.self_approval") };
      }
      if (settings.users.length > 0 || settings.teams.length > 0) {
        const listed = settings.users.some((user) => user.toLowerCase() === approver.login.toLowerCase());
        let member = false;
        for (const team of settings.teams) {
          if (listed || member) break;
          member = await inTeam(approver.login, team);
        }
        if (!listed && !member) {
          const names = [...settings.users.map((user) => `@${user}`), ...settings.teams.map((team) => `@${team}`)];
          return { allowed: false, refusal: refusal("approval.not_listed", { names }) };
        }
      }
      if (settings.codeowners) {
        const owned = await ownersOfTouchedFiles();
        if (owned.size > 0) {
          for (const owners of owned.values()) if (await owns(approver.login, owners)) return { allowed: true };
          const all = [...new Set([...owned.values()].flat())];
          return { allowed: false, refusal: refusal("approval.not_code_owner", { owners: all }) };
        }
      }
      return { allowed: true };
    },

    /** Are the approvals in hand enough? Names what is still missing when not. */
    async quorum(approverLogins: string[]): Promise<{ met: boolean; missing: string | null }> {
      if (approverLogins.length < settings.required) {
        return { met: false, missing: `${settings.required - approverLogins.length} more approval(s)` };
      }
      if (settings.codeowners) {
        const uncovered: string[] = [];
        for (const [file, owners] of await ownersOfTouchedFiles()) {
          let covered = false;
          for (const login of approverLogins) if (!covered) covered = await owns(login, owners);
          if (!covered) uncovered.push(file);
        }
        if (uncovered.length > 0) return { met: false, missing: `a code owner of ${uncovered.slice(0, 5).join(", ")}` };
      }
      return { met: true, missing: null };
    },
  };
}

export type ApprovalPolicy = ReturnType<typeof createApprovalPolicy>;

const CODEOWNERS_PATHS = [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];

/** CODEOWNERS from the default branch, where GitHub itself reads it; none means no owners. */
async function loadCodeowners(octokit: Octokit, owner: string, repo: string): Promise<CodeOwnersEntry[]> {
  for (const path of CODEOWNERS_PATHS) {
    try {
      const { data } = await octokit.rest.repos.getContent({ owner, repo, path });
      if ("content" in data && typeof data.content === "string") {
        return parse(Buffer.from(data.content, "base64").toString("utf8"));
      }
    } catch (error) {
      if ((error as { status?: number }).status !== 404) throw error;
    }
  }
  return [];
}
