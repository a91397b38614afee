import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { validate } from "dockerfile-utils";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { EnvError, readEnv } from "../../../src/config/env.ts";

// The Dockerfile and compose.yaml cannot be built or run on the machines this project is tested on
// (no Docker engine): these tests lint and parse them and check what matters for running Amistio.

const dockerfileText = readFileSync("Dockerfile", "utf8");
const composeText = readFileSync("compose.yaml", "utf8");
const dockerignore = readFileSync(".dockerignore", "utf8")
  .split("\n")
  .map((line) => line.trim());

/** Names whose value is a secret: none may be given a value in the image or in compose.yaml. */
const SECRET_NAME = /(SECRET|TOKEN|PASSWORD|PRIVATE_KEY$|API_KEY|CLIENT_SECRET)/;

interface Instruction {
  keyword: string;
  args: string;
  stage: number;
}

/** Dockerfile instructions, continuation lines joined and comments dropped; stage = index of its FROM. */
function instructions(text: string): Instruction[] {
  const logical: string[] = [];
  let current = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (current === "" && (line === "" || line.startsWith("#"))) continue;
    if (line.startsWith("#")) continue;
    if (line.endsWith("\\")) current += `${line.slice(0, -1)} `;
    else {
      logical.push(current + line);
      current = "";
    }
  }
  let stage = -1;
  return logical.map((line) => {
    const [keyword = "", ...rest] = line.split(/\s+/);
    if (keyword.toUpperCase() === "FROM") stage++;
    return { keyword: keyword.toUpperCase(), args: rest.join(" "), stage };
  });
}

const all = instructions(dockerfileText);
const lastStage = Math.max(...all.map((instruction) => instruction.stage));
const runtime = all.filter((instruction) => instruction.stage === lastStage);
const compose = parse(composeText, { merge: true }) as {
  services: Record<string, Record<string, unknown> & { environment?: Record<string, string> }>;
  volumes: Record<string, unknown>;
  secrets: Record<string, { file: string }>;
};

/** Compose's ${VAR} and ${VAR:?message} substitution, enough for this file. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::\?([^}]*))?\}/g, (_, name: string, message?: string) => {
    if (vars[name] !== undefined && vars[name] !== "") return vars[name];
    if (message !== undefined) throw new Error(`compose: ${name}: ${message}`);
    return "";
  });
}

function serviceEnvironment(service: string, vars: Record<string, string>): Record<string, string> {
  const environment = compose.services[service]?.environment ?? {};
  return Object.fromEntries(Object.entries(environment).map(([key, value]) => [key, interpolate(String(value), vars)]));
}

describe("Dockerfile", () => {
  it("passes dockerfile-utils' linter with no error or warning", () => {
    const diagnostics = validate(dockerfileText).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
    expect(diagnostics).toEqual([]);
  });

  it("the linter does catch a broken file (so the test above means something)", () => {
    expect(validate("FROM node:24-slim\nHEALTHCHECK CMD\nCMD a\nCMD b\n").length).toBeGreaterThanOrEqual(2);
  });

  it("is multi-stage, on Node 24, and installs production dependencies with npm ci --omit=dev", () => {
    expect(all.filter((instruction) => instruction.keyword === "FROM").length).toBeGreaterThanOrEqual(3);
    expect(dockerfileText).toMatch(/^ARG NODE_IMAGE=node:24-slim$/m);
    expect(runtime[0]?.args).toMatch(/^\$\{NODE_IMAGE\} AS runtime$/);
    expect(all.some((i) => i.keyword === "RUN" && /\bnpm ci --omit=dev\b/.test(i.args))).toBe(true);
    expect(all.some((i) => i.keyword === "RUN" && /\bnpm run build\b/.test(i.args))).toBe(true);
    // The runtime stage takes node_modules from the production-only stage, not the build stage.
    expect(runtime.find((i) => i.keyword === "COPY" && i.args.endsWith("./node_modules"))?.args).toMatch(
      /^--from=deps /,
    );
    expect(runtime.some((i) => i.keyword === "COPY" && /--from=build \/app\/dist/.test(i.args))).toBe(true);
    // package.json says "type": "module" (dist/ is ESM); migrations are applied at start from ./prisma.
    expect(runtime.map((i) => `${i.keyword} ${i.args}`)).toEqual(
      expect.arrayContaining([
        "COPY package.json ./",
        "COPY prisma/migrations ./prisma/migrations",
        "COPY prisma/postgres/migrations ./prisma/postgres/migrations",
      ]),
    );
    expect(runtime.at(-1)).toMatchObject({ keyword: "CMD" });
    expect(JSON.parse(runtime.at(-1)?.args ?? "[]")).toContain("dist/main.js");
  });

  it("runs as a non-root user", () => {
    const users = runtime.filter((instruction) => instruction.keyword === "USER").map((i) => i.args);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    // Nothing after the USER line runs as root again.
    const userIndex = runtime.findIndex((i) => i.keyword === "USER");
    expect(runtime.slice(userIndex).filter((i) => i.keyword === "RUN")).toEqual([]);
  });

  it("has a HEALTHCHECK that asks /healthz on the port it exposes", () => {
    const healthcheck = runtime.find((instruction) => instruction.keyword === "HEALTHCHECK");
    expect(healthcheck?.args).toMatch(/CMD \[/);
    expect(healthcheck?.args).toContain("/healthz");
    expect(runtime.find((i) => i.keyword === "EXPOSE")?.args).toBe("3000");
    const env = runtime.find((i) => i.keyword === "ENV")?.args ?? "";
    expect(env).toMatch(/\bPORT=3000\b/);
    expect(env).toMatch(/\bHOST=0\.0\.0\.0\b/);
    expect(env).toMatch(/\bNODE_ENV=production\b/);
  });

  it("declares the data volume the SQLite file and session key use", () => {
    expect(runtime.find((i) => i.keyword === "VOLUME")?.args).toBe('["/app/data"]');
    expect(runtime.find((i) => i.keyword === "ENV")?.args).toContain("DATABASE_URL=file:/app/data/amistio.db");
  });

  it("bakes in no secret: no ENV or ARG of a secret name, no COPY of .env or keys, no COPY of the whole context", () => {
    for (const instruction of all.filter((i) => i.keyword === "ENV" || i.keyword === "ARG")) {
      const names = [...instruction.args.matchAll(/(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)(?==|\s|$)/g)].map((m) => m[1]);
      for (const name of names) expect(name, `${instruction.keyword} ${instruction.args}`).not.toMatch(SECRET_NAME);
    }
    for (const instruction of all.filter((i) => i.keyword === "COPY" || i.keyword === "ADD")) {
      const sources = instruction.args
        .split(/\s+/)
        .filter((part) => !part.startsWith("--"))
        .slice(0, -1);
      for (const source of sources) {
        expect(source, instruction.args).not.toMatch(/(^|\/)\.env|\.pem$|\.key$/);
        expect(source, `${instruction.keyword} ${instruction.args} copies the whole build context`).not.toBe(".");
      }
    }
    for (const pattern of [".env", "*.pem", ".git", "node_modules", "data"]) expect(dockerignore).toContain(pattern);
  });
});

describe("compose.yaml", () => {
  const vars = { POSTGRES_PASSWORD: "pw", SESSION_SECRET: "s".repeat(40) };

  it("has web and worker roles of one image, PostgreSQL and Redis", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["postgres", "redis", "web", "worker"]);
    expect(serviceEnvironment("web", vars).AMISTIO_ROLE).toBe("web");
    expect(serviceEnvironment("worker", vars).AMISTIO_ROLE).toBe("worker");
    expect(compose.services.web?.image).toBe(compose.services.worker?.image);
    expect(compose.services.web?.build).toBe(".");
    for (const role of ["web", "worker"]) {
      expect(compose.services[role]?.depends_on).toMatchObject({
        postgres: { condition: "service_healthy" },
        redis: { condition: "service_healthy" },
      });
    }
  });

  it("publishes the web port the image listens on; the worker publishes none", () => {
    expect(compose.services.web?.ports).toEqual(["3000:3000"]);
    expect(serviceEnvironment("web", vars).PORT).toBe("3000");
    expect(compose.services.worker?.ports).toBeUndefined();
    expect(compose.services.worker?.healthcheck).toEqual({ disable: true });
  });

  it("runs Redis with AOF on and noeviction, and keeps Redis and PostgreSQL data on named volumes", () => {
    const command = ((compose.services.redis?.command ?? []) as string[]).join(" ");
    expect(command).toContain("--appendonly yes");
    expect(command).toContain("--maxmemory-policy noeviction");
    expect(compose.services.redis?.volumes).toEqual(["redis-data:/data"]);
    expect(compose.services.postgres?.volumes).toEqual(["postgres-data:/var/lib/postgresql/data"]);
    expect(Object.keys(compose.volumes).sort()).toEqual(["postgres-data", "redis-data"]);
    expect(compose.services.redis?.healthcheck).toBeDefined();
    expect(compose.services.postgres?.healthcheck).toBeDefined();
  });

  it("takes the App's secrets from the env file and the key from a secret file, with no value written in it", () => {
    for (const role of ["web", "worker"]) {
      expect(compose.services[role]?.env_file).toEqual([{ path: ".env", required: true }]);
      expect(compose.services[role]?.secrets).toEqual(["github_app_key"]);
      const environment = compose.services[role]?.environment ?? {};
      for (const [name, value] of Object.entries(environment)) {
        if (SECRET_NAME.test(name)) expect(String(value), name).toMatch(/^\$\{\w+:\?[^}]+\}$/);
      }
      expect(String(environment.DATABASE_URL)).toContain("${POSTGRES_PASSWORD:?");
      expect(environment.PRIVATE_KEY_PATH).toBe("/run/secrets/github_app_key");
    }
    expect(compose.secrets.github_app_key?.file).toBe("./github-app.pem");
    expect(String(compose.services.postgres?.environment?.POSTGRES_PASSWORD)).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
    expect(() => serviceEnvironment("web", { SESSION_SECRET: "s".repeat(40) })).toThrow(/POSTGRES_PASSWORD/);
  });

  it("gives Amistio an environment it accepts for both roles", () => {
    const key = join(mkdtempSync(join(tmpdir(), "amistio-compose-")), "github-app.pem");
    writeFileSync(key, fakePem());
    for (const role of ["web", "worker"]) {
      const env = readEnv({
        ...serviceEnvironment(role, vars),
        PRIVATE_KEY_PATH: key,
        APP_ID: "12345",
        WEBHOOK_SECRET: "w".repeat(20),
      });
      expect(env.AMISTIO_ROLE).toBe(role);
      expect(env.DATABASE_URL).toBe("postgres://amistio:pw@postgres:5432/amistio");
      expect(env.REDIS_URL).toBe("redis://redis:6379");
    }
  });

  it("a missing secret stops Amistio with its own message naming it", () => {
    const key = join(mkdtempSync(join(tmpdir(), "amistio-compose-")), "github-app.pem");
    writeFileSync(key, fakePem());
    const web = { ...serviceEnvironment("web", vars), PRIVATE_KEY_PATH: key };
    const problem = (env: Record<string, string>) => {
      try {
        readEnv(env);
      } catch (error) {
        if (error instanceof EnvError) return error.message;
        throw error;
      }
      return "started";
    };
    expect(problem({ ...web, APP_ID: "12345" })).toMatch(/- WEBHOOK_SECRET: required when APP_ID is set/);
    expect(problem({ ...web, APP_ID: "12345", WEBHOOK_SECRET: "x", PRIVATE_KEY_PATH: "/run/secrets/absent" })).toMatch(
      /- PRIVATE_KEY_PATH: ENOENT/,
    );
  });

  it("a missing APP_ID in the container (NODE_ENV=production) stops src/main.ts with a line naming it", () => {
    const cwd = mkdtempSync(join(tmpdir(), "amistio-compose-")); // no .env here
    writeFileSync(join(cwd, "github-app.pem"), fakePem());
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
    const result = spawnSync(process.execPath, ["--import", tsx, resolve("src/main.ts")], {
      cwd,
      encoding: "utf8",
      env: {
        PATH: process.env.PATH ?? "",
        ...serviceEnvironment("web", vars),
        PRIVATE_KEY_PATH: join(cwd, "github-app.pem"),
        WEBHOOK_SECRET: "x",
      },
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("Amistio cannot start; fix these environment variables");
    expect(result.stderr).toContain("- APP_ID: required when NODE_ENV=production");
  });
});

/** A syntactically valid PEM block; readEnv only reads it, nothing signs with it here. */
function fakePem(): string {
  return `-----BEGIN RSA PRIVATE KEY-----\n${"A".repeat(64)}\n-----END RSA PRIVATE KEY-----\n`;
}
