import type { GithubStandIn, StandInUser } from "./github-stand-in.ts";

export interface SetCookie {
  name: string;
  value: string;
  attributes: Map<string, string>;
}

export function parseSetCookie(header: string): SetCookie {
  const [pair, ...rest] = header.split(";");
  const index = pair!.indexOf("=");
  const attributes = new Map<string, string>();
  for (const part of rest) {
    const [key, ...value] = part.trim().split("=");
    attributes.set(key!.toLowerCase(), value.join("="));
  }
  return { name: pair!.slice(0, index).trim(), value: pair!.slice(index + 1).trim(), attributes };
}

/**
 * A browser stand-in for tests that need no rendering: keeps Amistio's cookies, never follows
 * redirects by itself, and can walk a sign-in through the GitHub stand-in.
 */
export class WebClient {
  readonly cookies = new Map<string, string>();
  /** Every Set-Cookie Amistio sent, in order. */
  readonly setCookies: SetCookie[] = [];

  constructor(readonly base: string) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    const response = await fetch(new URL(path, this.base), { ...init, headers, redirect: "manual" });
    for (const header of response.headers.getSetCookie()) {
      const cookie = parseSetCookie(header);
      this.setCookies.push(cookie);
      const expired = cookie.attributes.get("max-age") === "0" || cookie.value === "";
      if (expired) this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
    return response;
  }

  get(path: string): Promise<Response> {
    return this.request(path);
  }

  post(path: string, form: Record<string, string>): Promise<Response> {
    return this.request(path, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form).toString(),
    });
  }

  /** GETs a page and returns its HTML and the CSRF token of its first form. */
  async page(path: string): Promise<{ status: number; html: string; csrf: string | undefined }> {
    const response = await this.get(path);
    const html = await response.text();
    return { status: response.status, html, csrf: /name="_csrf" value="([^"]+)"/.exec(html)?.[1] };
  }

  /** Posts a form found on `page`, with that page's CSRF token. */
  async submit(page: string, action: string, form: Record<string, string>): Promise<Response> {
    const { csrf } = await this.page(page);
    if (!csrf) throw new Error(`no CSRF token on ${page}`);
    return this.post(action, { ...form, _csrf: csrf });
  }

  /**
   * Starts a sign-in (or a link, with `start` = "/auth/github?link=1"), lets the stand-in approve as
   * `user`, and returns the callback's response and its URL (to replay it).
   */
  async githubSignIn(
    standIn: GithubStandIn,
    user: StandInUser,
    start = "/auth/github",
  ): Promise<{ response: Response; callbackUrl: string }> {
    standIn.signInAs(user);
    const started = await this.get(start);
    if (started.status !== 302) throw new Error(`sign-in start answered ${started.status}: ${await started.text()}`);
    const authorize = await fetch(started.headers.get("location")!, { redirect: "manual" });
    const callbackUrl = authorize.headers.get("location")!;
    const callback = new URL(callbackUrl);
    return { response: await this.get(`${callback.pathname}${callback.search}`), callbackUrl };
  }
}
