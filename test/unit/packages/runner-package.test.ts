import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

// The workflow installs packages/runner alone on users' machines (`npm ci --workspace packages/runner`):
// these tests fail if that install would bring server code or the server's dependencies with it.

interface Manifest {
  dependencies?: Record<string, string>;
}
interface LockEntry extends Manifest {
  link?: boolean;
  resolved?: string;
  optionalDependencies?: Record<string, string>;
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, "utf8")) as T;
const root = readJson<Manifest>("package.json");
const lock = readJson<{ packages: Record<string, LockEntry> }>("package-lock.json");

/** Every package `npm ci` of the workspace at `start` installs, resolved through package-lock.json as npm does. */
function installedWith(start: string): Set<string> {
  const seen = new Set<string>();
  const visit = (location: string) => {
    if (seen.has(location)) return;
    seen.add(location);
    const entry = lock.packages[location] ?? {};
    for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) {
      // npm looks in the requirer's own node_modules, then in each enclosing one up to the root.
      const parts = location.split("/node_modules/");
      let found: string | undefined;
      for (let i = parts.length; i > 0 && !found; i--) {
        const candidate = `${parts.slice(0, i).join("/node_modules/")}/node_modules/${name}`;
        if (lock.packages[candidate]) found = candidate;
      }
      found ??= lock.packages[`node_modules/${name}`] ? `node_modules/${name}` : undefined;
      if (!found) throw new Error(`${location} needs ${name}, which package-lock.json does not have`);
      const target = lock.packages[found]!;
      visit(target.link ? target.resolved! : found);
    }
  };
  visit(start);
  return new Set([...seen].map((location) => location.replace(/^.*node_modules\//, "")));
}

describe("the runner package, installed alone", () => {
  it("depends on the contract and tsx only, and the contract on what it imports only", () => {
    expect(readJson<Manifest>("packages/runner/package.json").dependencies).toEqual({
      "@amistio/contract": "0.1.0",
      tsx: root.dependencies!.tsx,
    });
    expect(Object.keys(readJson<Manifest>("packages/contract/package.json").dependencies ?? {}).sort()).toEqual([
      "@secretlint/core",
      "@secretlint/profiler",
      "@secretlint/secretlint-rule-preset-recommend",
      "canonicalize",
      "zod",
    ]);
  });

  it("brings none of the server's own dependencies, through any depth of the lock file", () => {
    const installed = installedWith("packages/runner");
    expect(installed).toContain("packages/contract");
    expect(installed).toContain("zod");
    const shared = ["@amistio/contract", "canonicalize", "tsx", "zod"];
    const serverOnly = Object.keys(root.dependencies ?? {}).filter((name) => !shared.includes(name));
    expect(serverOnly).toEqual(expect.arrayContaining(["probot", "@prisma/client", "better-sqlite3", "fastify"]));
    expect(serverOnly.filter((name) => installed.has(name))).toEqual([]);
  });

  it("is what the workflow template installs and starts", () => {
    const template = parse(readFileSync("packages/runner/workflow-template.yml", "utf8"));
    const steps = template.jobs.run.steps as { name?: string; run?: string; "working-directory"?: string }[];
    const install = steps.find((step) => step.name === "Install the runner");
    expect(install?.["working-directory"]).toBe(".amistio-runner");
    expect(install?.run).toMatch(/^npm ci --omit=dev --ignore-scripts .*--workspace packages\/runner$/);
    const start = steps.at(-1)?.run?.match(/^node \.amistio-runner\/(\S+) run$/)?.[1];
    expect(start).toBe("packages/runner/bin/amistio-runner.js");
    expect(existsSync(start!)).toBe(true);
  });

  it("starts from its own bin, and from the root bin/ that workflows copied before it still run", () => {
    for (const bin of ["packages/runner/bin/amistio-runner.js", "bin/amistio-runner.js"]) {
      const usage = execFileSync(process.execPath, [bin, "--help"], { encoding: "utf8" });
      expect(usage, bin).toMatch(/^amistio-runner: runs Amistio's approved plans/);
    }
  });
});

describe("the contract in the server's build", () => {
  it("npm run build compiles it where node dist/main.js finds it first, as JavaScript", { timeout: 180_000 }, () => {
    execFileSync("npm", ["run", "build", "--silent"], { stdio: "pipe" });
    const fromDist = createRequire(resolve("dist/index.js"));
    expect(fromDist.resolve("@amistio/contract/plan-hash")).toBe(
      resolve("dist/node_modules/@amistio/contract/plan-hash.js"),
    );
    // Without tsx: Node 20 cannot load the contract's TypeScript, so this loads only if the build is used.
    const loaded = execFileSync(
      process.execPath,
      ["--input-type=module", "-e", 'const m = await import("./dist/index.js"); console.log(typeof m.createAmistio);'],
      { encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" } },
    );
    expect(loaded.trim()).toBe("function");
  });
});
