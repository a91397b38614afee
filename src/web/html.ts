import escapeHtml from "escape-html";

/** Markup that is already safe to send: built by `html`, so every value in it was escaped. */
export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type HtmlValue = SafeHtml | string | number | bigint | boolean | null | undefined | readonly HtmlValue[];

/**
 * Tagged template for pages: interpolated values are escaped unless they are SafeHtml (a nested
 * `html` result), so markup can be composed without anyone remembering to escape. `false`, null and
 * undefined render nothing, which keeps conditionals short.
 */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let index = 0; index < values.length; index++) out += render(values[index]) + strings[index + 1];
  return new SafeHtml(out);
}

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return "";
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return value.map(render).join("");
  return escapeHtml(String(value));
}

/** A link target from data we did not write (GitHub URLs): only http(s), so no `javascript:` can slip in. */
export function safeHref(url: string | null | undefined): string | undefined {
  return url && /^https?:\/\//i.test(url) ? url : undefined;
}
