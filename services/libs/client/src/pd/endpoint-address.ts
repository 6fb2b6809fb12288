/**
 * pd members advertise client URLs (`http://10.0.0.1:2379`, as etcd and PD do) while operators often type a
 * bare `host:port`; gRPC wants the bare form, so every address is normalised here before use or comparison.
 */

export class InvalidEndpointError extends Error {
  constructor(
    readonly endpoint: string,
    detail: string,
  ) {
    super(`invalid pd endpoint "${endpoint}": ${detail}`);
    this.name = "InvalidEndpointError";
  }
}

const SCHEME_PATTERN = /^[a-z][a-z0-9+.-]*:\/\//i;

export function toGrpcAddress(endpoint: string): string {
  const trimmed = endpoint.trim();
  if (trimmed === "") throw new InvalidEndpointError(endpoint, "empty");
  const withScheme = SCHEME_PATTERN.test(trimmed) ? trimmed : `grpc://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new InvalidEndpointError(endpoint, "not a host:port or URL");
  }
  if (url.port === "") throw new InvalidEndpointError(endpoint, "no port");
  return `${url.hostname}:${url.port}`;
}
