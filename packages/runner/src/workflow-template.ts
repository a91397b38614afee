import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The template ships with the runner, so `init` works from an install of this package alone; the docs link to it. */
export const WORKFLOW_TEMPLATE_PATH = fileURLToPath(new URL("../workflow-template.yml", import.meta.url));

export const DEFAULT_WORKFLOW_FILE = ".github/workflows/amistio.yml";

export function readWorkflowTemplate(): string {
  return readFileSync(WORKFLOW_TEMPLATE_PATH, "utf8");
}

/** `amistio-runner init`: writes the workflow into a repository, never over an existing file unless forced. */
export function initWorkflow(input: { dir: string; path?: string; force?: boolean }): {
  path: string;
  written: boolean;
} {
  const path = join(input.dir, input.path ?? DEFAULT_WORKFLOW_FILE);
  if (existsSync(path) && !input.force) return { path, written: false };
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, readWorkflowTemplate());
  return { path, written: true };
}
