import type { Context } from "probot";
import { parseRepoSettings, REPO_SETTINGS_FILE, type RepoSettingsResult } from "./repo-settings.ts";

type Octokit = Context["octokit"];

/**
 * `.github/amistio.yml` outside a webhook (jobs, the runner API), read through Probot's config plugin
 * so `_extends` works as it does for commands. Files are deep-merged the way Probot's
 * `context.config` merges them (objects key by key, lists joined), so both paths see the same settings.
 */
export async function loadRepoSettings(octokit: Octokit, owner: string, repo: string): Promise<RepoSettingsResult> {
  try {
    const { config, files } = await octokit.config.get({
      owner,
      repo,
      path: REPO_SETTINGS_FILE,
      defaults: (configs) => configs.reduce<Record<string, unknown>>((merged, next) => deepMerge(merged, next), {}),
    });
    return parseRepoSettings(files.some((file) => file.config !== null) ? config : null);
  } catch (error) {
    // A GitHub API failure is for the caller (the queue retries it); anything else is the file's YAML.
    if ((error as { status?: number }).status !== undefined) throw error;
    return {
      ok: false,
      problems: [{ path: "", message: `is not valid YAML: ${(error as Error).message.split("\n")[0]}` }],
    };
  }
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const before = merged[key];
    if (Array.isArray(before) && Array.isArray(value)) merged[key] = [...before, ...value];
    else if (isPlainObject(before) && isPlainObject(value)) merged[key] = deepMerge(before, value);
    else merged[key] = value;
  }
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
