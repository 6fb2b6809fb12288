/**
 * `host:port` addresses as written in the config (`server.addr`, `server.status-addr`), including
 * bracketed IPv6 hosts (`[::1]:20160`).
 */

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export class InvalidAddressError extends Error {
  override readonly name = "InvalidAddressError";

  constructor(
    readonly setting: string,
    readonly address: string,
  ) {
    super(`${setting} "${address}" is not host:port with a port in [0, 65535]`);
  }
}

export function parseHostPort(address: string, setting: string): HostPort {
  const separator = address.lastIndexOf(":");
  if (separator <= 0) throw new InvalidAddressError(setting, address);
  const rawHost = address.slice(0, separator);
  const host = rawHost.startsWith("[") && rawHost.endsWith("]") ? rawHost.slice(1, -1) : rawHost;
  const portText = address.slice(separator + 1);
  const port = Number(portText);
  if (host.length === 0 || !/^\d+$/.test(portText) || port > 65_535)
    throw new InvalidAddressError(setting, address);
  return { host, port };
}

/** The address to advertise: the configured one, else the bound host with the real port (a 0 resolved). */
export function advertisedAddress(advertise: string, bound: HostPort): string {
  if (advertise.length > 0) return advertise;
  return bound.host.includes(":") ? `[${bound.host}]:${bound.port}` : `${bound.host}:${bound.port}`;
}
