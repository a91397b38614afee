import {
  countTokens as countWith,
  decode,
  encodeGenerator,
  isWithinTokenLimit,
} from "gpt-tokenizer/encoding/o200k_base";

export interface BudgetPart {
  /** Names the part in the "omitted" report, e.g. `comment 123 by @alice`. */
  title: string;
  /** The heading line(s) sent before the content. */
  heading: string;
  /** Untrusted text: it is sent inside a code fence. */
  content: string;
  /** Lower is kept first when the budget is short. */
  priority: number;
  /** The largest share of the budget this one part may take (0..1). */
  maxShare: number;
  /** Never dropped, only cut (the issue itself). */
  required?: boolean;
}

export interface FittedPart<P extends BudgetPart> {
  part: P;
  /** Heading and fenced, possibly cut, content. */
  text: string;
}

export interface Omission {
  what: string;
  why: string;
}

/** Joins the fitted parts into the text a planner receives. */
export const SECTION_SEPARATOR = "\n\n";

// Below this many tokens a cut part says too little to be worth its heading.
const MIN_USEFUL_TOKENS = 48;
const TRUNCATION_NOTE = "\n[… cut to fit the token budget]";
// Special-token text such as "<|endoftext|>" in an issue is plain text, not a control token.
const PLAIN = { disallowedSpecial: new Set<string>() };

/** o200k tokens (GPT-4o and later) of a text, special-token text counted as plain text. */
export function countTokens(text: string): number {
  return countWith(text, PLAIN);
}

/**
 * Fits parts into `budget` tokens: most important first, each gets what it needs up to its share of
 * the budget and what is left; a part that would get too little to be useful is dropped. The kept
 * parts keep their input order, and `SECTION_SEPARATOR`-joined they never exceed the budget
 * (unless the required parts' headings alone do).
 */
export function fitToBudget<P extends BudgetPart>(
  parts: P[],
  budget: number,
): { kept: FittedPart<P>[]; omitted: Omission[] } {
  const byPriority = [...parts].sort((a, b) => a.priority - b.priority);
  const fitted = new Map<P, { heading: number; content: FittedContent }>();
  const dropped: P[] = [];
  const separatorTokens = countTokens(SECTION_SEPARATOR);
  let remaining = budget;
  for (const part of byPriority) {
    const separator = fitted.size > 0 ? separatorTokens : 0;
    const heading = countTokens(`${part.heading}\n`);
    const room = Math.min(Math.floor(budget * part.maxShare), remaining - separator - heading);
    const content = fitContent(part.content, Math.max(0, room));
    if ((room <= 0 || (content.truncated && content.tokens < MIN_USEFUL_TOKENS)) && !part.required) {
      dropped.push(part);
      continue;
    }
    fitted.set(part, { heading, content });
    remaining -= separator + heading + content.tokens;
  }
  // Shares stop one part crowding out the rest; what the others left unused goes to the cut parts.
  for (const part of byPriority) {
    const entry = fitted.get(part);
    if (remaining <= 0 || !entry?.content.truncated) continue;
    const grown = fitContent(part.content, entry.content.tokens + remaining);
    remaining -= grown.tokens - entry.content.tokens;
    entry.content = grown;
  }

  const render = () =>
    parts.flatMap((part) => {
      const entry = fitted.get(part);
      return entry ? [{ part, text: `${part.heading}\n${entry.content.text}` }] : [];
    });
  // Tokens can merge differently across section boundaries; if the whole is still over, drop more.
  for (const part of [...byPriority].reverse()) {
    if (
      countTokens(
        render()
          .map((k) => k.text)
          .join(SECTION_SEPARATOR),
      ) <= budget
    )
      break;
    if (part.required || !fitted.has(part)) continue;
    fitted.delete(part);
    dropped.push(part);
  }

  const omitted: Omission[] = [];
  for (const part of byPriority) {
    if (fitted.get(part)?.content.truncated)
      omitted.push({ what: `the end of ${part.title}`, why: "cut to fit the token budget" });
    if (dropped.includes(part)) omitted.push({ what: part.title, why: "it did not fit the token budget" });
  }
  return { kept: render(), omitted };
}

interface FittedContent {
  text: string;
  tokens: number;
  truncated: boolean;
}

/** The content fenced as untrusted data, cut to at most `maxTokens` tokens, fence included. */
function fitContent(content: string, maxTokens: number): FittedContent {
  // A fence longer than any backtick run in the content, so the content cannot close it.
  const fence = "`".repeat(Math.max(3, longestBacktickRun(content) + 1));
  const wrap = (inner: string) => `${fence}text\n${inner}\n${fence}`;
  const whole = wrap(content);
  const count = isWithinTokenLimit(whole, maxTokens, PLAIN);
  if (count !== false) return { text: whole, tokens: count, truncated: false };

  const room = maxTokens - countTokens(wrap(TRUNCATION_NOTE)) - 2;
  if (room <= 0) return { text: "", tokens: 0, truncated: true };
  const tokens: number[] = [];
  // Only as much of a huge text is tokenized as can be kept.
  for (const chunk of encodeGenerator(content, PLAIN)) {
    tokens.push(...chunk);
    if (tokens.length >= room) break;
  }
  // Cutting between tokens can split a character; drop the broken end.
  let kept = decode(tokens.slice(0, room)).replace(/\uFFFD+$/, "");
  let text = wrap(`${kept}${TRUNCATION_NOTE}`);
  let used = countTokens(text);
  // Tokens at the new boundary can merge differently; trim until it fits.
  while (used > maxTokens && kept.length > 0) {
    kept = kept.slice(0, Math.floor(kept.length * 0.95));
    text = wrap(`${kept}${TRUNCATION_NOTE}`);
    used = countTokens(text);
  }
  return { text, tokens: used, truncated: true };
}

function longestBacktickRun(text: string): number {
  let longest = 0;
  for (const [run] of text.matchAll(/`+/g)) if (run.length > longest) longest = run.length;
  return longest;
}
