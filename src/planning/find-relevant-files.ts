export interface TreeEntry {
  path: string;
  sha: string;
  size: number;
}

export interface RelevantFiles {
  /** Files the text names: full paths, GitHub blob links, path suffixes, or file names shared by at most 3 files. */
  named: TreeEntry[];
  /** Other files whose path contains the terms, best first (at most 50). */
  matched: TreeEntry[];
}

const PATH_TOKEN = /[^\s`'"()<>[\]{},;|*]+/g;
// Bounds the scan of each text, so a 1 MB issue body costs no more than a long one.
const MAX_SCANNED_CHARS = 100_000;
const MAX_CANDIDATES = 500;
// A bare name shared by more files than this (index.ts) says too little to pick one.
const MAX_SAME_NAME = 3;
const MAX_MATCHED = 50;

const STOP_WORDS = new Set(
  (
    "about after also been before being between both could does doing done each from have having here into just " +
    "like make more most much need only other over please same should some such than that their them then there " +
    "these they this those through under until using very want were what when where which while will with would " +
    "your issue amistio plan"
  ).split(" "),
);
// Generated or vendored files match many terms and teach a planner nothing.
const NOT_FOR_TERMS =
  /(^|\/)(node_modules|vendor|dist|build|\.git)\/|(^|\/)(package-lock\.json|yarn\.lock|pnpm-lock\.yaml)$|\.(min\.js|map|lock)$/;

/**
 * Picks the repository files worth showing a planner: those the texts name, then those whose paths
 * contain the most frequent terms (a term in the file name counts double).
 */
export function findRelevantFiles(input: {
  /** Every text that may name files: title, body, comments, instructions. */
  texts: string[];
  /** Where the terms come from; the title weighs double. */
  title: string;
  body: string;
  entries: TreeEntry[];
}): RelevantFiles {
  if (input.entries.length === 0) return { named: [], matched: [] };
  const named = findNamed(input.texts, input.entries);
  const namedPaths = new Set(named.map((entry) => entry.path));
  const terms = extractTerms(`${input.title} ${input.title} ${input.body.slice(0, 4000)}`);
  const matched = terms.length === 0 ? [] : findMatching(terms, input.entries, namedPaths);
  return { named, matched };
}

function findNamed(texts: string[], entries: TreeEntry[]): TreeEntry[] {
  const candidates = new Set<string>();
  for (const text of texts) {
    for (const [token] of text.slice(0, MAX_SCANNED_CHARS).matchAll(PATH_TOKEN)) {
      if (candidates.size >= MAX_CANDIDATES) break;
      if (!token.includes("/") && !token.includes(".")) continue;
      const path = token
        .replace(/^.*\/blob\/[^/]+\//, "")
        .replace(/[#?].*$/, "")
        .replace(/^\.?\//, "")
        .replace(/[.:!?]+$/, "");
      if (path !== "") candidates.add(path);
    }
  }
  if (candidates.size === 0) return [];

  // One pass over the tree, looking only at entries whose file name some candidate ends with.
  const byName = new Map<string, string[]>();
  for (const path of candidates) {
    const name = basename(path);
    byName.set(name, [...(byName.get(name) ?? []), path]);
  }
  const hits = new Map<string, TreeEntry[]>();
  for (const entry of entries) {
    const paths = byName.get(basename(entry.path));
    if (!paths) continue;
    for (const path of paths) {
      if (path.includes("/") && entry.path !== path && !entry.path.endsWith(`/${path}`)) continue;
      hits.set(path, [...(hits.get(path) ?? []), entry]);
    }
  }
  const found = new Map<string, TreeEntry>();
  for (const matches of hits.values()) {
    const exact = matches.find((entry) => candidates.has(entry.path));
    if (exact) found.set(exact.path, exact);
    else if (matches.length <= MAX_SAME_NAME) for (const match of matches) found.set(match.path, match);
  }
  return [...found.values()];
}

function findMatching(terms: string[], entries: TreeEntry[], exclude: Set<string>): TreeEntry[] {
  const scored: { entry: TreeEntry; score: number }[] = [];
  for (const entry of entries) {
    const lower = entry.path.toLowerCase();
    const nameStart = lower.lastIndexOf("/") + 1;
    let score = 0;
    for (const term of terms) {
      const at = lower.lastIndexOf(term);
      if (at !== -1) score += at >= nameStart ? 2 : 1;
    }
    if (score >= 2 && !exclude.has(entry.path) && !NOT_FOR_TERMS.test(entry.path)) scored.push({ entry, score });
  }
  return scored
    .sort((a, b) => b.score - a.score || a.entry.path.length - b.entry.path.length)
    .slice(0, MAX_MATCHED)
    .map((s) => s.entry);
}

/** The 20 most frequent words of four or more letters that are not stop words; camelCase is split. */
function extractTerms(text: string): string[] {
  const counts = new Map<string, number>();
  const words = text.replace(/([a-z])([A-Z])/g, "$1 $2").match(/[A-Za-z][A-Za-z0-9]{3,30}/g) ?? [];
  for (const word of words) {
    const lower = word.toLowerCase();
    if (!STOP_WORDS.has(lower)) counts.set(lower, (counts.get(lower) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 20)
    .map(([term]) => term);
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
