import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { REPO_SETTINGS_KEYS } from "../../../src/config/repo-settings.ts";

const docs = readFileSync(new URL("../../../docs/configuration.md", import.meta.url), "utf8");

/** A table row whose first cell is `name` (tables may be padded by the formatter). */
const row = (name: string) => new RegExp(`^\\|\\s*\`${name}\`\\s*\\|`, "m");

describe("docs/configuration.md", () => {
  it("documents every repository-settings key in its section's table", () => {
    for (const [section, keys] of Object.entries(REPO_SETTINGS_KEYS)) {
      if (section === "") continue;
      const start = docs.indexOf(`### \`${section}\``);
      expect(start, `section ${section}`).toBeGreaterThan(-1);
      const table = docs.slice(start, docs.indexOf("\n### ", start + 1));
      for (const key of keys) expect(table, `${section}.${key}`).toMatch(row(key));
    }
  });

  it("documents every environment variable src/config/env.ts reads", () => {
    const source = readFileSync(new URL("../../../src/config/env.ts", import.meta.url), "utf8");
    const names = new Set([
      ...[...source.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!),
      ...[...source.matchAll(/env\.([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!),
    ]);
    expect(names.size).toBeGreaterThan(15);
    for (const name of names) expect(docs, name).toMatch(row(name));
  });
});
