import { html, type SafeHtml } from "../html.ts";

export interface Message {
  heading: string;
  text: string | SafeHtml;
  /** Links or forms that help the person go on. */
  next?: SafeHtml;
}

/** Errors and confirmations: say what happened, and what to do next. */
export function messagePage(message: Message): SafeHtml {
  return html`<h1>${message.heading}</h1>
<p>${message.text}</p>
${message.next ?? html`<p><a href="/">Back to the start page</a></p>`}`;
}
