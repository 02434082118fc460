// The SSRF guard for every URL a user gives (media to fetch, later webhook endpoints): only http(s), no
// credentials in the URL, and only public unicast addresses — checked on the addresses the name actually
// resolves to, at connect time (a `lookup` hook), so DNS rebinding between a check and the connection
// cannot slip through. ipaddr.js classifies ranges (private, loopback, link-local incl. cloud metadata,
// CGNAT, multicast, reserved, 6to4/NAT64/Teredo forms that can embed private IPv4…).
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * `allowPrivate` switches the address checks off (tests, closed networks); `allowHosts` exempts exact
 * `host[:port]` entries only (an operator's internal media server), every other host is still checked.
 */
export type UrlPolicy = { allowPrivate: boolean; allowHosts?: string[] };

/** The policy for one URL: exempt hosts get no address checks, everything else the policy as given. */
export function policyFor(url: URL, policy: UrlPolicy): UrlPolicy {
  return policy.allowHosts?.includes(url.host) ? { ...policy, allowPrivate: true } : policy;
}

export class UrlNotAllowedError extends Error {
  readonly code = 'URL_NOT_ALLOWED';
}

/** Why an address may not be contacted, or null when it is a public unicast address. */
export function addressProblem(address: string): string | null {
  if (!ipaddr.isValid(address)) return `"${address}" is not an IP address`;
  let addr = ipaddr.parse(address);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address();
  const range = addr.range();
  return range === 'unicast' ? null : `it points at a ${range} address`;
}

/** Checks what can be checked without DNS: scheme, credentials, and hosts written as IP addresses. */
export function checkUrl(raw: string, policy: UrlPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UrlNotAllowedError(`"${raw.slice(0, 200)}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UrlNotAllowedError(`only http and https URLs are fetched, not ${url.protocol}`);
  if (url.username || url.password) throw new UrlNotAllowedError('URLs with credentials are not fetched');
  if (policyFor(url, policy).allowPrivate) return url;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost')) throw new UrlNotAllowedError('the URL points at this machine');
  // WHATWG URL has already turned decimal, octal and hex IPv4 spellings into dotted quads.
  if (ipaddr.isValid(host)) {
    const problem = addressProblem(host);
    if (problem) throw new UrlNotAllowedError(`the URL is not allowed: ${problem}`);
  }
  return url;
}

/** A `lookup` for http.request that refuses names resolving to any non-public address. */
export function guardedLookup(policy: UrlPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as LookupAddress[];
      if (!policy.allowPrivate) {
        for (const a of list) {
          const problem = addressProblem(a.address);
          if (problem) return callback(new UrlNotAllowedError(`${hostname} resolves to a non-public address (${problem})`), '', 0);
        }
      }
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      const first = list[0];
      if (!first) return callback(new Error(`${hostname} has no address`), '', 0);
      callback(null, first.address, first.family);
    });
  };
}
