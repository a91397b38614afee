import { html, type SafeHtml } from "../html.ts";

export interface Message {
  heading: string;
  text: string | SafeHtml;
  /** Links or forms that help the person go on. */
  next?: SafeHtml;
  /** A refusal's code, shown so it can be looked up. */
  code?: string;
}

/** Errors and confirmations: say what happened, and what to do next. */
export function messagePage(message: Message): SafeHtml {
  return html`<h1>${message.heading}</h1>
<p>${message.text}</p>
${message.next ?? html`<p><a href="/">Back to the start page</a></p>`}${
  message.code
    ? html`
<p><small>Amistio code <code>${message.code}</code> · what it means and what to do: Amistio's <code>docs/refusals.md</code></small></p>`
    : ""
}`;
}
