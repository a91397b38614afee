import { isIndexable } from "../planning/rank-files.ts";

/** Why a file's content is left out of the index whatever it holds. */
export type Exclusion = "generated" | "vendored" | "binary";

interface Rule {
  pattern: RegExp;
  attributes: Partial<Record<Exclusion, boolean>>;
}

// What Linguist and most projects treat as someone else's code or build output, besides what
// `isIndexable` (lock files, maps, minified bundles, node_modules, dist, build) already leaves out.
const VENDORED = /(^|\/)(third[_-]party|bower_components|vendors?)\/|\.min\.css$/i;

/**
 * The rules of the repository's `.gitattributes` files (root and nested), for the attributes that
 * say a file is generated, vendored or binary: `linguist-generated`, `linguist-vendored`
 * (`-attr` and `attr=false` turn one off again) and `binary` / `-text`.
 */
export class PathExclusions {
  private readonly rules: Rule[] = [];

  /** `files`: each `.gitattributes` path with its text. Shallower files come first; deeper ones win. */
  constructor(files: { path: string; text: string }[] = []) {
    const sorted = [...files].sort((a, b) => a.path.split("/").length - b.path.split("/").length);
    for (const file of sorted) {
      const base = file.path.includes("/") ? file.path.slice(0, file.path.lastIndexOf("/") + 1) : "";
      for (const line of file.text.split(/\r?\n/)) {
        const rule = parseLine(line, base);
        if (rule) this.rules.push(rule);
      }
    }
  }

  /** Why `path`'s content is left out, or undefined when it is kept. */
  exclusion(path: string): Exclusion | undefined {
    const found: Partial<Record<Exclusion, boolean>> = {};
    for (const rule of this.rules) {
      if (rule.pattern.test(path)) Object.assign(found, rule.attributes);
    }
    if (found.vendored === true) return "vendored";
    if (found.generated === true) return "generated";
    if (found.binary === true) return "binary";
    if (found.vendored === false || found.generated === false) return undefined;
    if (VENDORED.test(path)) return "vendored";
    if (!isIndexable(path)) return "generated";
    return undefined;
  }
}

export function isGitattributes(path: string): boolean {
  return path === ".gitattributes" || path.endsWith("/.gitattributes");
}

function parseLine(line: string, base: string): Rule | undefined {
  const trimmed = line.trim();
  if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith("[attr]")) return undefined;
  const [glob, ...words] = trimmed.split(/\s+/);
  const attributes: Partial<Record<Exclusion, boolean>> = {};
  for (const word of words) {
    const match = /^([-!]?)([\w.-]+)(?:=(.*))?$/.exec(word);
    if (!match) continue;
    const [, sign, name, value] = match;
    const on = sign === "" && value !== "false";
    if (name === "linguist-generated") attributes.generated = on;
    else if (name === "linguist-vendored") attributes.vendored = on;
    else if (name === "binary" && sign === "") attributes.binary = true;
    else if (name === "text" && sign === "-") attributes.binary = true;
  }
  if (Object.keys(attributes).length === 0 || !glob || glob.startsWith("!")) return undefined;
  return { pattern: globToRegExp(glob, base), attributes };
}

/** A `.gitattributes` pattern, gitignore-style, relative to the folder of its file. */
export function globToRegExp(glob: string, base = ""): RegExp {
  let pattern = glob.replace(/\/+$/, "");
  // A pattern without a slash matches a name at any depth; with one, it is anchored to `base`.
  const anchored = pattern.includes("/");
  pattern = pattern.replace(/^\//, "");
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" && pattern[i + 1] === "*") {
      const slashAfter = pattern[i + 2] === "/";
      source += slashAfter ? "(?:.*/)?" : ".*";
      i += slashAfter ? 2 : 1;
    } else if (c === "*") {
      source += "[^/]*";
    } else if (c === "?") {
      source += "[^/]";
    } else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) {
        source += "\\[";
      } else {
        source += `[${pattern
          .slice(i + 1, end)
          .replace(/^!/, "^")
          .replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else {
      source += c.replace(/[.+^${}()|\\]/g, "\\$&");
    }
  }
  const prefix = escapeRegExp(base) + (anchored ? "" : "(?:.*/)?");
  // Lenient where git is strict: a pattern naming a folder also covers what is inside it.
  return new RegExp(`^${prefix}${source}(?:/.*)?$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
