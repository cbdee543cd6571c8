// Which webhook URLs the service will call (an SSRF guard). By default a webhook goes only to public addresses
// over http or https: the address rules refuse loopback, "this network" (0.0.0.0/8, ::), private (RFC 1918),
// link-local, CGNAT (100.64.0.0/10) and unique-local IPv6 addresses, IPv4-mapped IPv6 forms included. The check
// runs twice:
//   - when a job is submitted, on the URL alone (`checkWebhookUrl`): the scheme, literal IP addresses and
//     localhost names; the API answers 422;
//   - when a delivery is sent, on the addresses the host name resolves to (`guardedLookup`, the DNS lookup of
//     the HTTP client): the address checked is the address connected to, so a name that changes its answer
//     between check and connect (DNS rebinding) gains nothing. A refusal there is final (not retried).
// `allowPrivate` (HIFI_WEBHOOK_ALLOW_PRIVATE=1) lifts the address rules, for local development and tests; the
// scheme rule always applies.
import { promises as dnsPromises, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

export interface WebhookUrlPolicy {
  /** Allow loopback, private, link-local, CGNAT and unique-local addresses (HIFI_WEBHOOK_ALLOW_PRIVATE). */
  allowPrivate: boolean;
}

export const DEFAULT_WEBHOOK_URL_POLICY: WebhookUrlPolicy = { allowPrivate: false };

const FORBIDDEN_RANGES: readonly { kind: string; ranges: readonly [network: string, prefix: number, family: 'ipv4' | 'ipv6'][] }[] = [
  { kind: 'unspecified', ranges: [['0.0.0.0', 8, 'ipv4'], ['::', 128, 'ipv6']] },
  { kind: 'loopback', ranges: [['127.0.0.0', 8, 'ipv4'], ['::1', 128, 'ipv6']] },
  { kind: 'private', ranges: [['10.0.0.0', 8, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.168.0.0', 16, 'ipv4']] },
  { kind: 'link-local', ranges: [['169.254.0.0', 16, 'ipv4'], ['fe80::', 10, 'ipv6']] },
  { kind: 'CGNAT', ranges: [['100.64.0.0', 10, 'ipv4']] },
  { kind: 'unique-local', ranges: [['fc00::', 7, 'ipv6']] },
];

// One BlockList per kind, so a refusal can say which rule matched. BlockList also matches IPv4-mapped IPv6
// addresses (::ffff:127.0.0.1) against the IPv4 ranges.
const BLOCK_LISTS = FORBIDDEN_RANGES.map(({ kind, ranges }) => {
  const list = new BlockList();
  for (const [network, prefix, family] of ranges) list.addSubnet(network, prefix, family);
  return { kind, list };
});

/** The kind of forbidden range an IP address lies in (`loopback`, `private`, …), or null for a public address. */
export function forbiddenAddressKind(address: string): string | null {
  const version = isIP(address);
  if (version === 0) throw new TypeError(`${JSON.stringify(address)} is not an IP address`);
  const family = version === 4 ? 'ipv4' : 'ipv6';
  return BLOCK_LISTS.find(({ list }) => list.check(address, family))?.kind ?? null;
}

function isLocalhostName(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

/** The host of a URL without IPv6 brackets. */
function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

export type WebhookUrlCheck =
  | { ok: true; url: URL }
  /** `invalid`: not a URL at all; `scheme`: not http(s); `address`: a forbidden literal address or localhost name. */
  | { ok: false; problem: 'invalid' | 'scheme' | 'address'; reason: string };

/**
 * The syntactic check: a parseable http(s) URL whose host is neither a localhost name nor a literal address in
 * a forbidden range (unless `policy.allowPrivate`). Host names are not resolved here (see `guardedLookup`).
 * Numeric shorthands such as `http://2130706433/` or `http://127.1/` are normalised by the URL parser first.
 */
export function checkWebhookUrl(raw: string, policy: WebhookUrlPolicy = DEFAULT_WEBHOOK_URL_POLICY): WebhookUrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, problem: 'invalid', reason: 'is not a valid URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, problem: 'scheme', reason: `the scheme ${JSON.stringify(url.protocol.slice(0, -1))} is not allowed; use http or https` };
  }
  if (policy.allowPrivate) return { ok: true, url };
  const host = hostOf(url);
  if (isLocalhostName(host)) return { ok: false, problem: 'address', reason: `the host ${host} is a loopback name; webhooks must go to a public address` };
  if (isIP(host) !== 0) {
    const kind = forbiddenAddressKind(host);
    if (kind !== null) return { ok: false, problem: 'address', reason: `${host} is a ${kind} address; webhooks must go to a public address` };
  }
  return { ok: true, url };
}

/** A delivery refused because the host resolved to a forbidden address (raised by `guardedLookup`). */
export class WebhookAddressRefusedError extends Error {
  readonly code = 'WEBHOOK_ADDRESS_REFUSED';

  constructor(
    readonly hostname: string,
    readonly address: string,
    readonly kind: string,
  ) {
    super(`${hostname} resolves to ${address}, a ${kind} address; webhooks must go to a public address`);
    this.name = 'WebhookAddressRefusedError';
  }
}

/** Resolves a host name to all its addresses (dns.lookup with `all: true`); replaceable in tests. */
export type ResolveHost = (hostname: string, options: LookupOptions) => Promise<LookupAddress[]>;

const systemResolve: ResolveHost = (hostname, options) => dnsPromises.lookup(hostname, { ...options, all: true });

/**
 * A DNS lookup for the HTTP client (`http.request({ lookup })`) that refuses, with a WebhookAddressRefusedError,
 * a host name any of whose addresses is in a forbidden range (unless `policy.allowPrivate`). Literal IP hosts
 * are not looked up by Node; `checkWebhookUrl` covers them.
 */
export function guardedLookup(policy: WebhookUrlPolicy = DEFAULT_WEBHOOK_URL_POLICY, resolve: ResolveHost = systemResolve): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, options).then(
      (addresses) => {
        if (!policy.allowPrivate) {
          for (const { address } of addresses) {
            const kind = forbiddenAddressKind(address);
            if (kind !== null) return callback(new WebhookAddressRefusedError(hostname, address, kind), '');
          }
        }
        if (options.all) return callback(null, addresses);
        const first = addresses[0];
        if (!first) return callback(Object.assign(new Error(`${hostname} has no addresses`), { code: 'ENOTFOUND' }), '');
        callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };
}
