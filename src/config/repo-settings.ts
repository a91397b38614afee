import { AGENTS } from "@amistio/contract/runner-contract";
import { type core, z } from "zod";

export const REPO_SETTINGS_FILE = ".github/amistio.yml";

export const PERMISSIONS = ["read", "triage", "write", "maintain", "admin"] as const;
export type Permission = (typeof PERMISSIONS)[number];

// GitHub's own rules for user logins and "org/team-slug" references.
const LOGIN = /^[A-Za-z\d](?:[A-Za-z\d]|-(?=[A-Za-z\d])){0,38}$/;
const TEAM = /^[A-Za-z\d](?:[A-Za-z\d]|-(?=[A-Za-z\d])){0,38}\/[A-Za-z\d][A-Za-z\d_-]{0,99}$/;

const permission = (fallback: Permission) => z.enum(PERMISSIONS).default(fallback);
const minutes = (fallback: number, max: number) => z.int().min(1).max(max).default(fallback);

const commandsSchema = z.strictObject({
  prefix: z
    .string()
    .regex(/^\/[A-Za-z\d][\w-]{0,30}$/, "must be a slash word such as /amistio (letters, digits, - or _)")
    .default("/amistio"),
  triggerLabel: z.string().trim().min(1).max(50).default("amistio"),
  requestPermission: permission("triage"),
});

const approvalsSchema = z.strictObject({
  required: z.int().min(1).max(10).default(1),
  minPermission: permission("write"),
  users: z.array(z.string().regex(LOGIN, "must be a GitHub login")).max(100).default([]),
  teams: z.array(z.string().regex(TEAM, "must be org/team-slug")).max(50).default([]),
  codeowners: z.boolean().default(false),
  allowSelfApproval: z.boolean().default(false),
});

const plannerSchema = z.strictObject({
  /** Unset means automatic: see choosePlannerProvider. */
  provider: z.enum(["openai", "offline"]).optional(),
  model: z.string().trim().min(1).max(100).optional(),
  contextTokens: z.int().min(1000).max(200_000).default(12_000),
  instructions: z.string().max(4000).optional(),
  /** Model tokens (input + output) this repository's plans may use per calendar month (UTC); unset: the server's default. */
  monthlyTokens: z.int().min(1).max(1_000_000_000_000).optional(),
});

const runnerSchema = z.strictObject({
  workflow: z
    .string()
    .regex(
      /^(\.github\/workflows\/)?[\w.-]+\.ya?ml$/,
      "must be a workflow file in .github/workflows, e.g. .github/workflows/amistio.yml",
    )
    .default(".github/workflows/amistio.yml"),
  ref: z.string().trim().min(1).max(255).optional(),
  labels: z.array(z.string().trim().min(1).max(100)).min(1).max(20).default(["self-hosted"]),
  agent: z.enum(AGENTS).default("command"),
  command: z.string().trim().min(1).max(2000).optional(),
  timeoutMinutes: minutes(60, 720),
  queuedTimeoutMinutes: minutes(15, 720),
});

const retentionSchema = z.strictObject({
  runEventsDays: z.int().min(1).max(3650).default(90),
});

const SECTIONS = {
  commands: commandsSchema,
  approvals: approvalsSchema,
  planner: plannerSchema,
  runner: runnerSchema,
  retention: retentionSchema,
};

const repoSettingsSchema = z.strictObject({
  // Probot's config loader resolves and removes `_extends`; tolerate it if it ever comes through.
  _extends: z.string().optional(),
  commands: commandsSchema.prefault({}),
  approvals: approvalsSchema.prefault({}),
  planner: plannerSchema.prefault({}),
  runner: runnerSchema.prefault({}),
  retention: retentionSchema.prefault({}),
});

/** The keys allowed at the top level ("") and in each section; named in "unknown key" problems. */
export const REPO_SETTINGS_KEYS: Readonly<Record<string, string[]>> = {
  "": Object.keys(SECTIONS),
  ...Object.fromEntries(Object.entries(SECTIONS).map(([name, schema]) => [name, Object.keys(schema.shape)])),
};

export type RepoSettings = Omit<z.output<typeof repoSettingsSchema>, "_extends">;

export interface SettingsProblem {
  /** The key, e.g. `approvals.required` or `approvals.users[2]`; "" for the file as a whole. */
  path: string;
  message: string;
}

export type RepoSettingsResult = { ok: true; settings: RepoSettings } | { ok: false; problems: SettingsProblem[] };

/** Every setting at its default: what a repository without `.github/amistio.yml` gets. */
export const DEFAULT_REPO_SETTINGS: RepoSettings = deepFreeze(parseOrThrow({}));

/**
 * Validates the parsed YAML of `.github/amistio.yml` (an empty file or `null` means all defaults).
 * A key written without a value (YAML `null`) counts as not set. Unknown keys are problems, so a
 * typo never silently falls back to a default.
 */
export function parseRepoSettings(raw: unknown): RepoSettingsResult {
  const parsed = repoSettingsSchema.safeParse(dropNulls(raw ?? {}));
  if (!parsed.success) return { ok: false, problems: parsed.error.issues.flatMap(describeIssue) };
  const { _extends, ...settings } = parsed.data;
  return { ok: true, settings };
}

/** Which planner a repository uses: its explicit choice, else OpenAI when a key is configured. */
export function choosePlannerProvider(
  planner: RepoSettings["planner"],
  options: { openAiConfigured: boolean },
): "openai" | "offline" {
  return planner.provider ?? (options.openAiConfigured ? "openai" : "offline");
}

function parseOrThrow(raw: unknown): RepoSettings {
  const result = parseRepoSettings(raw);
  if (!result.ok) throw new Error(`invalid default settings: ${JSON.stringify(result.problems)}`);
  return result.settings;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") for (const inner of Object.values(value)) deepFreeze(inner);
  return Object.freeze(value);
}

function dropNulls(value: unknown): unknown {
  if (Array.isArray(value) || value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, dropNulls(v)]),
  );
}

function formatPath(path: PropertyKey[]): string {
  return path
    .map((key, i) => (typeof key === "number" ? `[${key}]` : i === 0 ? String(key) : `.${String(key)}`))
    .join("");
}

const TYPE_NAMES: Record<string, string> = {
  object: "a mapping of keys to values",
  array: "a list",
  string: "text",
  boolean: "true or false",
  number: "a number",
  int: "a whole number",
};

function describeIssue(issue: core.$ZodIssue): SettingsProblem[] {
  const path = formatPath(issue.path);
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) => ({
        path: formatPath([...issue.path, key]),
        message: `unknown key${REPO_SETTINGS_KEYS[path] ? ` (allowed: ${REPO_SETTINGS_KEYS[path].join(", ")})` : ""}`,
      }));
    case "invalid_type":
      return [{ path, message: `must be ${TYPE_NAMES[issue.expected] ?? issue.expected}` }];
    case "invalid_value":
      return [{ path, message: `must be one of ${issue.values.map(String).join(", ")}` }];
    case "too_small":
    case "too_big": {
      const bound = issue.code === "too_small" ? issue.minimum : issue.maximum;
      const word = issue.code === "too_small" ? "least" : "most";
      if (issue.code === "too_small" && issue.origin === "string" && bound === 1)
        return [{ path, message: "must not be empty" }];
      if (issue.origin === "array")
        return [{ path, message: `must have at ${word} ${String(bound)} ${bound === 1 ? "entry" : "entries"}` }];
      const unit = issue.origin === "string" ? " characters" : "";
      return [{ path, message: `must be at ${word} ${String(bound)}${unit}` }];
    }
    default:
      return [{ path, message: issue.message }];
  }
}
