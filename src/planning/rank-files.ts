/**
 * Ranks a repository's files for an issue by what they contain and by their paths: code-aware
 * tokens, field weights (path, definitions, content), the signals issues carry (named paths,
 * `path:line` and stack frames, identifiers in code, quoted errors), noise removed first, source
 * preferred to tests/docs/fixtures/examples, and a share of a strong hit's score for the files it
 * imports or that import it. Pure and synchronous: the caller supplies the files' text.
 */

export interface RankInputFile {
  path: string;
  /** UTF-8 text; `null` for a file whose content is not available (binary, too large). */
  text: string | null;
}

export interface RankedFile {
  path: string;
  score: number;
  /** Why it ranks: `named` (the text names it), `content`, `neighbour` (import graph), `companion` (test of a chosen file). */
  reason: "named" | "content" | "neighbour" | "companion";
}

export interface IssueText {
  title: string;
  body: string;
  /** Comments and other text that may name files or identifiers. */
  extra?: string[];
}

// Bounds the work on any one input, so a 1 MB body costs no more than a long one.
const MAX_TEXT_CHARS = 100_000;
// Content beyond this is not indexed (generated or data files are long and say little).
const MAX_INDEXED_CHARS = 200_000;
const MAX_TOKEN_LENGTH = 60;

const STOP = new Set(
  (
    "a an and are as at be been but by can could did do does doing done for from had has have how i if in into is it its " +
    "just me my no not of on or our so some such than that the their them then there these they this those to too up us " +
    "very was we were what when where which while who why will with would you your yes also only other same should " +
    "after before being both each few more most own here out over under again further once any all about against between " +
    "through during above below off because until get got use used using work works working expected actual behavior " +
    "behaviour bug issue problem describe reproduce reproduction steps version versions browser os environment information " +
    "additional context screenshot screenshots example please thanks thank hi hello seems like want need see new now still " +
    "var let const function return true false null undefined require import export default module exports new this " +
    "console log string number object value values"
  ).split(" "),
);

const SOURCE_EXT =
  /\.(m?[jt]sx?|cjs|cts|mts|vue|svelte|py|rb|go|rs|java|kt|php|cs|c|h|cc|cpp|hpp|swift|scala|ex|exs)$/i;
const NON_SOURCE =
  /(^|\/)(tests?|__tests__|spec|specs|__mocks__|fixtures?|examples?|demo|docs?|benchmarks?|bench|scripts|e2e|playground)(\/|$)|\.(test|spec|bench)\.[a-z]+$|\.d\.ts$/i;
const GENERATED =
  /(^|\/)(node_modules|vendor|dist|build|coverage|\.git)\/|(^|\/)(package-lock\.json|yarn\.lock|pnpm-lock\.yaml)$|\.(min\.js|map|lock|snap)$/i;

/** Splits a text into code-aware tokens: identifiers are kept whole and split into their parts. */
export function codeTokens(text: string, into: string[] = []): string[] {
  for (const [word] of text.matchAll(/[A-Za-z_$][A-Za-z0-9_$]*(?:[.-][A-Za-z_$][A-Za-z0-9_$]*)*/g)) {
    if (word.length > MAX_TOKEN_LENGTH * 3) continue;
    const whole = word.toLowerCase();
    const parts = word
      .split(/[.\-_$]+/)
      .flatMap((part) =>
        part
          .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
          .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
          .split(" "),
      )
      .map((part) => part.toLowerCase())
      .filter((part) => part.length >= 2 && part.length <= MAX_TOKEN_LENGTH && !STOP.has(part));
    if (parts.length > 1 && whole.length <= MAX_TOKEN_LENGTH && !STOP.has(whole)) into.push(whole.replace(/[$]/g, ""));
    into.push(...parts);
  }
  return into;
}

/** Plain tokens for the BM25 baseline: lower-cased alphanumeric runs. */
export function plainTokens(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]{2,40}/g) ?? [];
}

export interface IssueSignals {
  /** Query terms with their weights. */
  terms: Map<string, number>;
  /** Path-like strings the text names (paths, `path:line`, stack frames, blob links), normalised. */
  pathMentions: string[];
  /** Whether the issue is about tests, docs or examples (then those are not penalised). */
  about: { tests: boolean; docs: boolean; examples: boolean };
}

const ENVIRONMENT_HEADING =
  /^\s*(#{1,6}\s*|\*\*)?\s*(environment|information|system info|versions?|additional (context|library versions)|screenshots?|instructions|context)\b.*$/i;

/** Extracts ranking signals from an issue, removing template noise first. */
export function issueSignals(issue: IssueText): IssueSignals {
  const title = issue.title.slice(0, 1000);
  const body = issue.body.slice(0, MAX_TEXT_CHARS);
  const extra = (issue.extra ?? []).map((text) => text.slice(0, MAX_TEXT_CHARS / 4));
  const all = [title, body, ...extra].join("\n");

  const pathMentions = findPathMentions(all);
  const terms = new Map<string, number>();
  const add = (tokens: string[], weight: number) => {
    for (const token of tokens) terms.set(token, (terms.get(token) ?? 0) + weight);
  };

  add(codeTokens(stripNoise(title)), 3);
  for (const text of [body, ...extra]) {
    const { prose, code } = splitCode(stripNoise(text));
    add(codeTokens(prose), 1);
    // Identifiers in code spans and fences name things in the code more often than prose does.
    add(codeTokens(code), 1.5);
  }
  for (const mention of pathMentions) add(codeTokens(mention.replace(/\.[a-z]+$/i, "")), 1);
  // Dampen: a term repeated thirty times is not thirty times as important.
  for (const [term, weight] of terms) terms.set(term, Math.min(6, 1 + Math.log(weight)));

  const lower = `${title}\n${body}`.toLowerCase();
  return {
    terms,
    pathMentions,
    about: {
      tests: /\b(test|tests|spec|specs|testing|jest|mocha|vitest|coverage)\b/.test(lower.slice(0, 2000)),
      docs: /\b(docs?|documentation|readme|typo)\b/.test(title.toLowerCase()),
      examples: /\b(examples?|demo)\b/.test(title.toLowerCase()),
    },
  };
}

function stripNoise(text: string): string {
  const lines = text
    .replace(/\r\n?/g, "\n")
    .replace(/<!--[\s\S]*?-->/g, " ")
    .split("\n");
  const kept: string[] = [];
  let skipping = false;
  for (const line of lines) {
    if (ENVIRONMENT_HEADING.test(line)) {
      skipping = true;
      continue;
    }
    if (skipping) {
      // An environment section ends at the next heading or bold template line.
      if (/^\s*(#{1,6}\s|\*\*[^*]+\*\*\s*$)/.test(line)) skipping = false;
      else continue;
    }
    if (/^\s*[-*]\s*\[[ xX]\]/.test(line)) continue; // checkboxes
    if (
      /^\s*(#{1,6}\s*|\*\*)(describe the bug|to reproduce|expected behaviou?r|actual behaviou?r|steps to reproduce|summary|reproduction|code snippet)\W*$/i.test(
        line,
      )
    )
      continue;
    kept.push(line);
  }
  return kept
    .join("\n")
    .replace(/!\[[^\]]*\]\([^)]*\)/g, " ") // images
    .replace(/\bhttps?:\/\/\S+/g, " ") // URLs (their paths were read as mentions already)
    .replace(/\bv?\d+(\.\d+){1,3}(-[\w.]+)?\b/g, " ") // version strings
    .replace(/@[\w-]+/g, " "); // mentions
}

function splitCode(text: string): { prose: string; code: string } {
  const code: string[] = [];
  const prose = text
    .replace(/(`{3,}|~{3,})[^\n]*\n([\s\S]*?)(\1|$)/g, (_m, _f, inner: string) => {
      code.push(inner);
      return " ";
    })
    .replace(/`([^`\n]+)`/g, (_m, inner: string) => {
      code.push(inner);
      return " ";
    });
  return { prose, code: code.join("\n") };
}

/**
 * Path-like strings in a text: plain paths, `path:line[:col]`, stack frames, GitHub blob links.
 * A `node_modules/<pkg>/` prefix is dropped, so a frame in the installed package names the source.
 */
export function findPathMentions(text: string): string[] {
  const found = new Set<string>();
  const scan = text.slice(0, MAX_TEXT_CHARS);
  for (const [raw] of scan.matchAll(/[^\s`'"()<>[\]{},;|*]+/g)) {
    if (found.size >= 500) break;
    if (!/[/.]/.test(raw) || raw.length > 300) continue;
    let path = raw.replace(/^.*?\/blob\/[^/]+\//, "").replace(/^https?:\/\/[^/]+\//, "");
    path = path
      .replace(/[#?].*$/, "")
      .replace(/(:\d+)+$/, "")
      .replace(/[.:!?]+$/, "");
    path = path.replace(/^(.*\/)?node_modules\/(@[^/]+\/)?[^/]+\//, "");
    path = path.replace(/^(\.\.?\/)+/, "").replace(/^\/+/, "");
    if (!/\.[A-Za-z0-9]{1,8}$/.test(path)) continue;
    if (/^(www\.|[\w-]+\.(com|org|io|net|dev|js\.org)\b)/i.test(path)) continue;
    if (path.split("/").some((segment) => segment === ".." || segment === "")) continue;
    found.add(path);
  }
  return [...found];
}

interface FieldStats {
  tokens: Map<string, number>;
  length: number;
}

interface Doc {
  path: string;
  fields: [FieldStats, FieldStats, FieldStats]; // path, definitions, content
  kind: "source" | "other";
  imports: string[];
}

// Field weights: a term in the path or a definition says more than one in the body.
const FIELD_WEIGHTS = [3, 2, 1] as const;
const K1 = 1.2;
const B = [0.3, 0.5, 0.75] as const;

/**
 * Ranks `files` for `issue`: best first, at most `limit` entries. Files with no text rank by path
 * only. Tests come in as companions of chosen source files when `companions` is set.
 */
export function rankFiles(issue: IssueText, files: RankInputFile[], options: { limit?: number } = {}): RankedFile[] {
  const limit = options.limit ?? 200;
  const signals = issueSignals(issue);
  const candidates = files.filter((file) => !GENERATED.test(file.path));
  if (candidates.length === 0) return [];
  const docs = candidates.map(analysed);
  const scores = bm25f(docs, signals.terms);

  // Kind prior: source first unless the issue is about tests/docs/examples.
  for (const [i, doc] of docs.entries()) {
    if (doc.kind === "source") continue;
    const isTest = /(^|\/)(tests?|__tests__|spec|specs|e2e)(\/|$)|\.(test|spec)\./i.test(doc.path);
    const isDoc = /(^|\/)docs?\/|\.(md|mdx|txt|rst)$/i.test(doc.path);
    const isExample = /(^|\/)(examples?|demo|playground)\//i.test(doc.path);
    const spared =
      (isTest && signals.about.tests) || (isDoc && signals.about.docs) || (isExample && signals.about.examples);
    scores[i]! *= spared ? 0.8 : 0.25;
  }

  // Named files: an exact or unique suffix match outranks any content match.
  const named = new Set<number>();
  const byName = new Map<string, number[]>();
  for (const [i, doc] of docs.entries()) {
    const name = doc.path.slice(doc.path.lastIndexOf("/") + 1).toLowerCase();
    byName.set(name, [...(byName.get(name) ?? []), i]);
  }
  for (const mention of signals.pathMentions) {
    const name = mention.slice(mention.lastIndexOf("/") + 1).toLowerCase();
    const same = byName.get(name) ?? [];
    const suffix = same.filter((i) => `/${docs[i]!.path.toLowerCase()}`.endsWith(`/${mention.toLowerCase()}`));
    const hits = suffix.length > 0 ? suffix : mention.includes("/") ? [] : same;
    if (hits.length === 0 || hits.length > 3) continue;
    for (const i of hits) named.add(i);
  }
  const top = Math.max(1, ...scores);
  for (const i of named) scores[i] = scores[i]! + top * 1.5;

  // Neighbours: files importing or imported by the strongest hits share a part of their score.
  const byPath = new Map(docs.map((doc, i) => [doc.path, i]));
  const order = scores.map((score, i) => ({ score, i })).sort((a, b) => b.score - a.score);
  const reasons = new Map<number, RankedFile["reason"]>();
  const boosted = [...scores];
  for (const { score, i } of order.slice(0, 5)) {
    if (score <= 0) break;
    const neighbours = new Set<number>();
    for (const target of docs[i]!.imports) {
      const j = byPath.get(target);
      if (j !== undefined) neighbours.add(j);
    }
    for (const [j, doc] of docs.entries()) if (doc.imports.includes(docs[i]!.path)) neighbours.add(j);
    for (const j of neighbours) {
      if (j === i || docs[j]!.kind !== "source") continue;
      const share = score * 0.3;
      if (share > boosted[j]!) {
        boosted[j] = (boosted[j]! + share) / 1.5;
        if (boosted[j]! > scores[j]!) reasons.set(j, "neighbour");
      }
    }
  }

  const ranked = boosted
    .map((score, i) => ({ score, i }))
    .filter(({ score, i }) => score > 0 || named.has(i))
    .sort((a, b) => b.score - a.score || docs[a.i]!.path.length - docs[b.i]!.path.length)
    .slice(0, limit)
    .map(({ score, i }) => ({
      path: docs[i]!.path,
      score,
      reason: named.has(i) ? ("named" as const) : (reasons.get(i) ?? ("content" as const)),
    }));
  return ranked;
}

/** The test file that goes with a source file, when the repository has one. */
export function companionTest(path: string, paths: Set<string> | string[]): string | undefined {
  const all = Array.isArray(paths) ? paths : [...paths];
  const segments = path.split("/");
  let base = segments.at(-1)!.replace(/\.[^.]+$/, "");
  // `src/plugin/utc/index.js` is tested as `utc`.
  if (base === "index" && segments.length > 1) base = segments.at(-2)!;
  const candidates = all.filter((p) => {
    if (p === path || !/(^|\/)(tests?|__tests__|spec)(\/|$)|\.(test|spec)\./i.test(p)) return false;
    const name = p
      .slice(p.lastIndexOf("/") + 1)
      .replace(/\.[^.]+$/, "")
      .replace(/\.(test|spec)$/, "");
    return name === base;
  });
  return candidates.sort((a, b) => a.length - b.length)[0];
}

// A file's analysis depends on its path and text only: kept with the file object, so a snapshot the
// repository index keeps in memory is tokenised once, not on every plan (most of a plan's time).
const analyses = new WeakMap<RankInputFile, Doc>();

function analysed(file: RankInputFile): Doc {
  let doc = analyses.get(file);
  if (!doc) {
    doc = toDoc(file);
    analyses.set(file, doc);
  }
  return doc;
}

function toDoc(file: RankInputFile): Doc {
  const text = file.text === null ? "" : file.text.slice(0, MAX_INDEXED_CHARS);
  const pathTokens = codeTokens(file.path.replace(/\.[^./]+$/, "").replace(/\//g, " "));
  const definitions = codeTokens(extractDefinitions(text));
  const content = codeTokens(text);
  return {
    path: file.path,
    fields: [stats(pathTokens), stats(definitions), stats(content)],
    kind: SOURCE_EXT.test(file.path) && !NON_SOURCE.test(file.path) ? "source" : "other",
    imports: SOURCE_EXT.test(file.path) ? resolveImports(file.path, text) : [],
  };
}

function stats(tokens: string[]): FieldStats {
  const counts = new Map<string, number>();
  for (const token of tokens) counts.set(token, (counts.get(token) ?? 0) + 1);
  return { tokens: counts, length: tokens.length };
}

/** Names a file defines or exports: functions, classes, declared constants, object methods. */
export function extractDefinitions(text: string): string {
  const names: string[] = [];
  const patterns = [
    /\b(?:function\*?|class|interface|type|enum)\s+([A-Za-z_$][\w$]*)/g,
    /\b(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=/g,
    /^\s*(?:export\s+)?(?:async\s+)?(?:static\s+)?(?:get\s+|set\s+)?([A-Za-z_$][\w$]*)\s*\([^)\n]*\)\s*\{/gm,
    /^\s*([A-Za-z_$][\w$]*)\s*:\s*(?:async\s+)?function\b/gm,
    /\bexports\.([A-Za-z_$][\w$]*)\s*=/g,
    /\bprototype\.([A-Za-z_$][\w$]*)\s*=/g,
    /\bproto\.([A-Za-z_$][\w$]*)\s*=/g,
  ];
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) names.push(match[1]!);
  return names.filter((name) => !/^(if|for|while|switch|catch|function|return)$/.test(name)).join(" ");
}

/** Relative imports and requires of a JS/TS file, resolved to repository paths (unresolved kept as written). */
export function resolveImports(path: string, text: string): string[] {
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
  const out = new Set<string>();
  const pattern = /(?:\bfrom\s*|\brequire\s*\(\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;
  for (const match of text.slice(0, MAX_INDEXED_CHARS).matchAll(pattern)) {
    const joined = normalise(`${dir}/${match[1]}`);
    if (joined === null) continue;
    const stem = joined.replace(/\.(m?[jt]sx?|cjs)$/, "");
    for (const candidate of [
      joined,
      `${stem}.js`,
      `${stem}.ts`,
      `${stem}.mjs`,
      `${stem}.tsx`,
      `${stem}/index.js`,
      `${stem}/index.ts`,
    ])
      out.add(candidate);
  }
  return [...out];
}

function normalise(path: string): string | null {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length === 0) return null; // never outside the repository
      parts.pop();
    } else parts.push(part);
  }
  return parts.join("/");
}

function bm25f(docs: Doc[], terms: Map<string, number>): number[] {
  const n = docs.length;
  const avg = [0, 1, 2].map((f) => docs.reduce((sum, doc) => sum + doc.fields[f]!.length, 0) / n || 1);
  const scores = new Array<number>(n).fill(0);
  for (const [term, weight] of terms) {
    let df = 0;
    for (const doc of docs) if (doc.fields.some((field) => field.tokens.has(term))) df++;
    if (df === 0) continue;
    const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
    for (const [i, doc] of docs.entries()) {
      let tf = 0;
      for (let f = 0; f < 3; f++) {
        const field = doc.fields[f]!;
        const count = field.tokens.get(term);
        if (!count) continue;
        tf += (FIELD_WEIGHTS[f]! * count) / (1 - B[f]! + (B[f]! * field.length) / avg[f]!);
      }
      if (tf > 0) scores[i]! += weight * idf * ((tf * (K1 + 1)) / (tf + K1));
    }
  }
  return scores;
}

/** Plain BM25 over path + content with plain tokens: the baseline the evaluation compares with. */
export function bm25Baseline(issue: IssueText, files: RankInputFile[], limit: number): string[] {
  const docs = files.map((file) => {
    const counts = new Map<string, number>();
    const tokens = plainTokens(`${file.path} ${(file.text ?? "").slice(0, MAX_INDEXED_CHARS)}`);
    for (const token of tokens) counts.set(token, (counts.get(token) ?? 0) + 1);
    return { path: file.path, counts, length: tokens.length };
  });
  const avg = docs.reduce((sum, doc) => sum + doc.length, 0) / (docs.length || 1) || 1;
  const query = new Set(plainTokens(`${issue.title} ${issue.body}`.slice(0, MAX_TEXT_CHARS)));
  const scores = docs.map((doc) => {
    let score = 0;
    for (const term of query) {
      const tf = doc.counts.get(term);
      if (!tf) continue;
      let df = 0;
      for (const other of docs) if (other.counts.has(term)) df++;
      const idf = Math.log(1 + (docs.length - df + 0.5) / (df + 0.5));
      score += (idf * tf * (K1 + 1)) / (tf + K1 * (1 - 0.75 + (0.75 * doc.length) / avg));
    }
    return { path: doc.path, score };
  });
  return scores
    .filter((s) => s.score > 0)
    .sort((a, b) => b.score - a.score)
    .slice(0, limit)
    .map((s) => s.path);
}

/**
 * Cuts source text to at most `maxChars`, at the last top-level boundary (a line that starts a
 * declaration or closes one at column 0) before the limit, so a function or class is not split
 * when it need not be.
 */
export function cutAtBoundary(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const head = text.slice(0, maxChars);
  // The end of a top-level block (`}` at column 0), else a blank line, else a line end.
  const closing = Math.max(head.lastIndexOf("\n}\n"), head.lastIndexOf("\n};\n"), head.lastIndexOf("\n})\n"));
  if (closing > maxChars * 0.5) return head.slice(0, head.indexOf("\n", closing + 1)).trimEnd();
  const blank = head.lastIndexOf("\n\n");
  if (blank > maxChars * 0.5) return head.slice(0, blank).trimEnd();
  const line = head.lastIndexOf("\n");
  return (line > 0 ? head.slice(0, line) : head).trimEnd();
}

export function isSourcePath(path: string): boolean {
  return SOURCE_EXT.test(path) && !NON_SOURCE.test(path) && !GENERATED.test(path);
}

export function isIndexable(path: string): boolean {
  return !GENERATED.test(path);
}
