/**
 * The pd HTTP API as seen by ctl: JSON in, JSON out, a deadline on every request, and failures turned into
 * one-line CommandErrors that name the URL, so "pd is not running" reads as exactly that.
 * Redirects are followed, so pointing ctl at a pd follower reaches the leader (pd answers 307).
 */
import { CommandError, UsageError } from "./cli-errors.ts";

export const DEFAULT_PD_HTTP_URL = "http://127.0.0.1:2378";
export const DEFAULT_HTTP_TIMEOUT_MS = 5000;

export type FetchFunction = (input: string, init?: RequestInit) => Promise<Response>;

export class PdHttpClient {
  private readonly baseUrl: URL;

  constructor(
    baseUrl: string,
    private readonly options: { readonly timeoutMs?: number; readonly fetch?: FetchFunction } = {},
  ) {
    // Operators often type host:port; the scheme is then plain HTTP, which is all pd serves.
    const withScheme = /^https?:\/\//i.test(baseUrl) ? baseUrl : `http://${baseUrl}`;
    try {
      this.baseUrl = new URL(withScheme);
    } catch {
      throw new UsageError(`--pd must be a URL like ${DEFAULT_PD_HTTP_URL}, got "${baseUrl}"`);
    }
  }

  get(path: string): Promise<unknown> {
    return this.request("GET", path);
  }

  post(path: string, body: unknown): Promise<unknown> {
    return this.request("POST", path, body);
  }

  delete(path: string): Promise<unknown> {
    return this.request("DELETE", path);
  }

  private async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const url = new URL(path, this.baseUrl).toString();
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
    let response: Response;
    let text: string;
    try {
      response = await (this.options.fetch ?? fetch)(url, {
        method,
        signal: AbortSignal.timeout(timeoutMs),
        ...(body === undefined
          ? {}
          : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
      });
      text = await response.text();
    } catch (error) {
      throw new CommandError(`cannot reach pd at ${url}: ${transportReason(error, timeoutMs)}`, {
        cause: error,
      });
    }
    const parsed = parseJson(text);
    if (!response.ok) {
      const reason = errorMessage(parsed) ?? (text.trim() || response.statusText);
      throw new CommandError(`pd answered ${response.status} to ${method} ${url}: ${reason}`);
    }
    if (parsed === undefined)
      throw new CommandError(`pd answered ${method} ${url} with something other than JSON`);
    return parsed;
  }
}

function transportReason(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return `no answer within ${timeoutMs} ms`;
  }
  // fetch reports "fetch failed" and keeps the useful part (ECONNREFUSED, ENOTFOUND) in `cause`.
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code !== undefined && !cause.message.includes(code) ? `${code} ${cause.message}` : cause.message;
  }
  return error instanceof Error ? error.message : String(error);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorMessage(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const message = (body as { error?: unknown }).error;
  return typeof message === "string" ? message : undefined;
}
